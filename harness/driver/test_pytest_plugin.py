"""The plugin as another project uses it: fixture, helper, marker (driven through pytester)."""

import pytest

from harness.driver.binaries import REPO_ROOT
from harness.driver.pytest_plugin import assert_growth, check_growth

RESULT = {"status": "ok", "scenario": {"name": "s"},
          "metrics": {"live_heap_bytes_per_request": 72.0, "rss_delta_bytes": 100, "peak_rss_growth_bytes": 5 << 20,
                      "client_failures": 0}}


def test_check_growth_names_each_broken_bound():
    v = check_growth(RESULT, live_heap_bytes_per_request=8, rss_delta_bytes=1 << 20, peak_rss_growth_bytes=4 << 20)
    assert [x.metric for x in v] == ["live_heap_bytes_per_request", "peak_rss_growth_bytes"]
    with pytest.raises(AssertionError, match=r"live_heap_bytes_per_request = 72.0 bytes/request, bound 8"):
        assert_growth(RESULT, live_heap_bytes_per_request=8)
    assert_growth(RESULT, live_heap_bytes_per_request=100)
    with pytest.raises(ValueError, match="unknown growth bound"):
        check_growth(RESULT, heap=1)
    with pytest.raises(AssertionError, match="memgate run failed \\(server_died\\)"):
        check_growth({"status": "failed", "failure": {"kind": "server_died", "message": "x"}}, rss_delta_bytes=1)


@pytest.mark.e2e
def test_fixture_and_marker_in_a_foreign_suite(built, pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", REPO_ROOT)
    pytester.makepyfile(test_memory="""
        import pytest
        from harness.driver.pytest_plugin import assert_growth

        SMALL = dict(requests=2000, warmup_requests=200)

        def test_clean_fixture(memgate_run):
            result = memgate_run(None, **SMALL)
            assert result["metrics"]["requests_completed"] == 2000
            assert_growth(result, live_heap_bytes_per_request=8)

        @pytest.mark.memgate_limit(live_heap_bytes_per_request=8)
        def test_leak_marker(memgate_run):
            memgate_run({"server_args": ["--inject-leak=64"], **SMALL})

        @pytest.mark.memgate_limit(live_heap_bytes_per_request=8)
        def test_clean_marker(memgate_run):
            memgate_run({"endpoint": "/bytes/4096", **SMALL})
    """)
    res = pytester.runpytest_subprocess("-p", "harness.driver.pytest_plugin", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=2, failed=1)
    res.stdout.fnmatch_lines(["*test_leak_marker*", "*@memgate_limit: scenario test_leak_marker: live_heap_bytes_per_request = *bound 8*"])
