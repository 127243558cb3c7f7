"""The plugin as another project uses it: fixture, helper, marker (driven through pytester)."""

import json

import pytest

from analysis.testdata.undecided import regression_pair, undecided_pair
from harness.driver.binaries import REPO_ROOT
from harness.driver.pytest_plugin import STORED_KIND, assert_growth, check_growth
from harness.results.schema import SCHEMA_VERSION, TOOL, VERSION

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


def test_the_summary_shows_an_undecided_check_as_undecided_not_as_a_failure(pytester, monkeypatch, tmp_path):
    """Against a stored run: an undecided check is UNDECIDED in the table and does not fail the test, a
    regression still fails it. The candidates are recorded results, fed as memgate_run records them."""
    monkeypatch.setenv("PYTHONPATH", REPO_ROOT)
    pairs = {"test_noisy": undecided_pair(), "test_leaky": regression_pair()}
    stored = {f"test_stored.py::{name}": [base] for name, (base, _) in pairs.items()}
    (tmp_path / "stored.json").write_text(json.dumps({"tool": TOOL, "schema_version": SCHEMA_VERSION, "version": VERSION,
                                                      "kind": STORED_KIND, "tests": stored}))
    for name, (_, cand) in pairs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(cand))
    pytester.makepyfile(test_stored=f"""
        import json
        import pytest

        def recorded(request, name):
            manager = request.config.pluginmanager.get_plugin("memgate_manager")
            manager.results.setdefault(request.node.nodeid, []).append(json.load(open({str(tmp_path)!r} + "/" + name + ".json")))

        @pytest.mark.memgate_limit()
        def test_noisy(request):
            recorded(request, "test_noisy")

        @pytest.mark.memgate_limit()
        def test_leaky(request):
            recorded(request, "test_leaky")
    """)
    res = pytester.runpytest_subprocess("-p", "harness.driver.pytest_plugin", "-p", "no:cacheprovider",
                                        f"--memgate-baseline={tmp_path / 'stored.json'}")
    res.assert_outcomes(passed=1, failed=1)
    out = res.stdout.str()
    noisy = [line for line in out.splitlines() if line.startswith("test_stored.py::test_noisy ")]
    assert any("peak_rss_growth_bytes" in line and line.rstrip().endswith("| UNDECIDED") for line in noisy), noisy
    assert not any(line.rstrip().endswith("| FAIL") for line in noisy)
    leaky = [line for line in out.splitlines() if line.startswith("test_stored.py::test_leaky ")]
    assert any("live_heap_bytes_per_request" in line and line.rstrip().endswith("| FAIL") for line in leaky), leaky
    res.stdout.fnmatch_lines(["memgate: 1 check(s) UNDECIDED against the stored baseline: *repeat=N on the marker*"])
