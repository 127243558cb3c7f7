"""The shipped target scenarios at small counts: nginx clean against clean (its workers' RSS in the
result), nghttpd over h2c, and the contract server's bad twin caught by the gate."""

import os
import shutil

import pytest

from analysis import gate
from harness.driver import twin
from harness.driver.conftest import assert_no_strays
from harness.driver.runner import run_scenario
from harness.driver.scenario import load

HERE = os.path.dirname(os.path.abspath(__file__))
SMALL = [("requests", 10000), ("warmup_requests", 1000)]


def scenario(name):
    return load(os.path.join(HERE, f"{name}.toml"), SMALL)


def require(program):
    if shutil.which(program) is None:
        pytest.fail(f"{program} is not installed: run `bash ci/setup.sh`", pytrace=False)


def test_nginx_clean_against_clean_passes_and_keeps_each_workers_rss(verifying_loadgen):
    require("nginx")
    first, second = run_scenario(scenario("nginx-static")), run_scenario(scenario("nginx-static"))
    for result in (first, second):
        assert result["status"] == "ok", result["failure"]
        assert_no_strays(result)
        end = result["replicates"][0]["end_sample"]
        assert len(end["processes"]) == 3 and len(end["heap_processes"]) == 3  # master + 2 workers
        assert end["rss_bytes"] == sum(p["rss_bytes"] for p in end["processes"])
    verdict = gate.evaluate(first, second)
    assert verdict.verdict == "PASS", [c.long_repr() for c in verdict.failures]
    assert "live_heap_bytes_per_request" in [c.metric for c in verdict.checks]


def test_nghttpd_serves_h2c_under_the_digest_check(verifying_loadgen):
    require("nghttpd")
    result = run_scenario(scenario("nghttpd-h2c"))
    assert result["status"] == "ok", result["failure"]
    assert result["metrics"]["client_failures"] == 0 and result["metrics"]["live_heap_bytes_per_request"] is not None
    assert_no_strays(result)


def test_go_memserver_bad_twin_fails_on_live_heap_from_its_mem_endpoint(verifying_loadgen, tmp_path):
    summary = twin.check_case(scenario("go-memserver"), str(tmp_path))
    assert summary["outcome"] == "as_expected", summary["rows"]
