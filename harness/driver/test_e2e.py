"""End to end with the real refserver and loadgen at small request counts."""

import os
import signal

import pytest

from analysis import gate
from harness.driver import scenario as sc
from harness.driver.conftest import assert_no_strays
from harness.driver.runner import Hooks, run_scenario

pytestmark = pytest.mark.e2e

MIB = 1 << 20
# A short sampling period: 10k requests can take a quarter of a second, and the growth fit needs 3 points.
SMALL = {"requests": 10000, "warmup_requests": 1000, "time_limit_s": 60, "sample_interval_ms": 25}
LARGE_BODIES = {"endpoint": "/bytes/1048576", "requests": 2500, "warmup_requests": 300, "time_limit_s": 60}


def run(built, **keys):
    result = run_scenario(sc.from_dict(keys, source="test"))
    assert_no_strays(result)
    return result


def ok(result):
    assert result["status"] == "ok", result["failure"]
    return result["metrics"]


@pytest.fixture(scope="module")
def clean_baseline(built):
    return run(built, name="clean", **SMALL)


@pytest.fixture(scope="module")
def writev_large(built):
    return run(built, name="large", copy="writev", **LARGE_BODIES)


def test_result_has_what_issue_4_lists(clean_baseline):
    r = clean_baseline
    m = ok(r)
    assert r["schema_version"] == 1 and r["tool"] == "memgate"
    assert r["config"]["requests"] == 10000 and r["config"]["streams"] == 10
    assert set(r["commit_info"]) == {"id", "dirty", "branch"}
    for key in ("cpu_model", "cores", "kernel", "glibc"):
        assert r["machine_info"][key]
    assert r["allocator"] == {"name": "glibc", "version": r["allocator"]["version"]} and r["allocator"]["version"]
    rep = r["replicates"][0]
    assert rep["start_sample"]["trimmed"] is True and rep["end_sample"]["trimmed"] is True
    assert m["requests_completed"] == 10000 and m["client_failures"] == 0
    assert m["server_requests"] == {"h1": 0, "h2": 10000}
    for key in ("live_heap_delta_bytes", "rss_delta_bytes", "rss_before_trim_delta_bytes", "peak_rss_bytes",
                "vm_hwm_bytes", "write_calls_per_response", "bytes_copied_per_response", "requests_per_s", "latency_p99_us"):
        assert isinstance(m[key], (int, float)), key
    assert set(m["growth_per_request"]) == {"rss_bytes", "rss_anon_bytes", "live_heap_bytes"}
    assert m["bytes_copied_per_response"] == 0
    # Only h2 was served, and its session's pools leave a steady state of well under 3 allocations per
    # request (0.25 in h2, of 0.77 measured: the rest is the driver's /mem probes and Asio's steps).
    h2_allocs = m["allocations_per_request_by_protocol"]["h2"]["allocations"]
    assert set(m["allocations_per_request_by_protocol"]) == {"h2"}
    assert 0 < h2_allocs <= m["allocations_per_request"] <= 3
    assert m["peak_rss_bytes"] >= rep["start_sample"]["rss_bytes"]
    # timeline: requests grow, RSS from smaps_rollup, live heap from /mem
    tl = rep["timeline"]
    assert len(tl) >= 2 and tl[0]["requests"] <= tl[-1]["requests"] <= 10000
    assert all(p["rss_bytes"] > 0 and p["live_heap_bytes"] is not None for p in tl)
    if (os.cpu_count() or 1) >= 2:
        assert r["pinning"]["enabled"] and r["pinning"]["server_affinity"] == r["pinning"]["server_cpus"]
        assert r["pinning"]["loadgen_affinity"] == r["pinning"]["loadgen_cpus"]
    assert rep["server"]["exit_code"] == 0, rep["server"]
    assert rep["loadgen"]["requests_completed"] == 10000


def test_buffered_grows_rss_more_than_writev_and_the_gate_catches_it(built, writev_large):
    buffered = run(built, name="large", copy="buffered", **LARGE_BODIES)
    w, b = ok(writev_large), ok(buffered)
    assert b["bytes_copied_per_response"] == 1048576 and w["bytes_copied_per_response"] == 0
    assert b["peak_rss_growth_bytes"] > w["peak_rss_growth_bytes"] + 2 * MIB, (w, b)
    assert b["rss_before_trim_delta_bytes"] > w["rss_before_trim_delta_bytes"] + 2 * MIB
    report = gate.evaluate(writev_large, buffered)
    assert report.exit_code == gate.EXIT_REGRESSION
    assert "peak_rss_growth_bytes" in {c.metric for c in report.failures}, [c.long_repr() for c in report.checks]


def test_inject_leak_is_caught_on_live_heap(built, clean_baseline):
    leak = run(built, name="clean", server_args=["--inject-leak=64"], **SMALL)
    m = ok(leak)
    assert 64 <= m["live_heap_bytes_per_request"] <= 96, m["live_heap_bytes_per_request"]
    assert m["leaked_bytes_delta"] == 64 * 10000
    assert 60 <= m["growth_per_request"]["live_heap_bytes"] <= 110
    report = gate.evaluate(clean_baseline, leak)
    assert report.exit_code == gate.EXIT_REGRESSION
    assert "live_heap_bytes_per_request" in {c.metric for c in report.failures}


def test_clean_against_clean_passes_repeatedly(built, clean_baseline):
    for attempt in range(3):
        cand = run(built, name="clean", **SMALL)
        report = gate.evaluate(clean_baseline, cand)
        assert report.exit_code == gate.EXIT_PASS, (attempt, [c.long_repr() for c in report.failures])


def test_repeat_stores_replicates_and_their_median(built):
    r = run_scenario(sc.from_dict({"name": "rep", "requests": 3000, "warmup_requests": 300}), repeat=3)
    assert_no_strays(r)
    ok(r)
    assert len(r["replicates"]) == 3 and all(rep["status"] == "ok" for rep in r["replicates"])
    values = sorted(rep["metrics"]["rss_delta_bytes"] for rep in r["replicates"])
    assert r["metrics"]["rss_delta_bytes"] == values[1]
    assert r["noise"]["rss_delta_bytes"]["range"] == values[2] - values[0]
    assert len({rep["server"]["pid"] for rep in r["replicates"]}) == 3  # a fresh server each


@pytest.mark.parametrize("keys", [
    {"protocol": "h1", "connections": 4, "pipeline": 4},
    {"protocol": "h2-tls", "connections": 2, "streams": 8},
    {"protocol": "h1", "method": "POST", "endpoint": "/upload", "upload_bytes": 16384},
], ids=["h1-pipeline", "h2-tls", "h1-upload"])
def test_other_protocols_run(built, keys):
    r = run(built, name="proto", requests=2000, warmup_requests=200, **keys)
    m = ok(r)
    assert m["requests_completed"] == 2000 and m["client_failures"] == 0
    proto = "h1" if keys["protocol"] == "h1" else "h2"
    assert m["server_requests"][proto] == 2000


def test_server_dying_mid_run_fails_with_a_reason(built):
    def kill_on_second_sample(point, server):
        if point["requests"] and server.alive():
            os.kill(server.pid, signal.SIGKILL)

    r = run_scenario(sc.from_dict({"name": "dies", "requests": 300000, "warmup_requests": 200, "sample_interval_ms": 50}),
                     hooks=Hooks(on_sample=kill_on_second_sample))
    assert_no_strays(r)
    assert r["status"] == "failed"
    assert r["failure"]["kind"] == "server_died"
    assert "measured run" in r["failure"]["message"] and "SIGKILL" in r["failure"]["message"]
    assert "server_stderr_tail" in r["failure"]
    assert r["replicates"][0]["server"]["exit"] == "signal SIGKILL"


def test_hung_server_is_bounded_by_time_limit(built):
    r = run_scenario(sc.from_dict({"name": "hung", "requests": 5000, "warmup_requests": 500, "time_limit_s": 2}),
                     hooks=Hooks(on_server_started=lambda server: os.kill(server.pid, signal.SIGSTOP)))
    assert_no_strays(r)
    assert r["status"] == "failed" and r["failure"]["kind"] == "time_limit"
    assert "time_limit_s=2" in r["failure"]["message"] and "SIGSTOP" in r["failure"]["message"]
    assert r["wall_s"] < 30


def test_a_driver_error_still_gives_a_failed_result_and_no_strays(built):
    def broken_hook(point, server):
        raise KeyError("boom")

    r = run_scenario(sc.from_dict({"name": "broken", "requests": 20000, "warmup_requests": 100}),
                     hooks=Hooks(on_sample=broken_hook))
    assert_no_strays(r)
    assert r["status"] == "failed" and r["failure"]["kind"] == "internal_error" and "boom" in r["failure"]["message"]
