"""Each failure-mode family at CI size: the clean scenario passes the gate against itself,
its bad twin fails it, and the figures that define the family behave as described.

The scenario files hold the full-size runs (`./memgate matrix scenarios/failure-modes/...`);
here --set-style overrides shrink them to seconds each.
"""

import json
import os

import pytest

from harness.driver import twin
from harness.driver.conftest import assert_no_strays
from harness.driver.runner import run_scenario
from harness.driver.scenario import load_cases

pytestmark = pytest.mark.e2e

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1 << 20


def case(file: str, name: str | None = None, **overrides):
    cases = load_cases(os.path.join(HERE, file), list(overrides.items()))
    if name is None:
        assert len(cases) == 1 or len({c.name for c in cases}) == len(cases)
        return cases[0]
    matching = [c for c in cases if c.name == name]
    assert matching, f"no case {name} in {file}: {[c.name for c in cases]}"
    return matching[0]


def prove_twin(scenario, tmp_path) -> dict[str, dict]:
    """Runs clean, clean again and the bad twin; asserts the verdicts; returns the three results."""
    checked = twin.check_case(scenario, str(tmp_path))
    results = {}
    for run, path in checked["files"].items():
        with open(path) as f:
            results[run] = json.load(f)
        assert_no_strays(results[run])
    assert checked["outcome"] == "as_expected", twin.render({"cases": [checked], "exit_code": twin.EXIT_UNEXPECTED})
    return {run: r["metrics"] for run, r in results.items()}


@pytest.mark.parametrize("protocol", ["h1", "h2c"])
def test_large_uploads_buffered_scales_with_body_streamed_does_not(built, tmp_path, protocol):
    small = {"connections": 8, "requests": 16, "warmup_requests": 8, "protocol": protocol}
    m = prove_twin(case("large-uploads.toml", f"large-uploads.protocol-{protocol}.connections-64.upload_bytes-20971520",
                        **small), tmp_path)
    # Buffered holds each 20 MiB body: per connection at least the body; streamed a read buffer.
    assert m["bad-twin"]["peak_rss_growth_per_connection_bytes"] > 16 * MIB
    assert m["clean"]["peak_rss_growth_per_connection_bytes"] < 2 * MIB
    # Streamed memory does not follow body size: 1 MiB and 20 MiB bodies peak alike.
    one_mib = run_scenario(case("large-uploads.toml", f"large-uploads.protocol-{protocol}.connections-64.upload_bytes-1048576",
                                     **small))
    assert one_mib["status"] == "ok", one_mib["failure"]
    hundred_mib = run_scenario(case("large-uploads.toml",
                                    f"large-uploads.protocol-{protocol}.connections-64.upload_bytes-104857600",
                                    **{**small, "requests": 8}))
    assert hundred_mib["status"] == "ok", hundred_mib["failure"]
    for bigger in (m["clean"], hundred_mib["metrics"]):
        # Peak and end state alike: neither follows the body size.
        assert bigger["peak_rss_growth_bytes"] < 2 * one_mib["metrics"]["peak_rss_growth_bytes"] + 2 * MIB
        assert bigger["rss_delta_bytes"] < max(0, one_mib["metrics"]["rss_delta_bytes"]) + 2 * MIB


def test_memory_ceiling_stops_a_runaway_upload_server_with_a_fail_verdict(built, tmp_path):
    from analysis import gate
    sc = case("large-uploads.toml", "large-uploads.protocol-h1.connections-64.upload_bytes-20971520",
              connections=16, requests=32, warmup_requests=0, request_body="buffered", memory_ceiling_mib=128)
    result = run_scenario(sc)
    assert_no_strays(result)
    assert result["status"] == "failed"
    assert result["failure"]["kind"] == "memory_ceiling"
    assert "over the memory ceiling of 128 MiB" in result["failure"]["message"]
    assert result["failure"]["rss_bytes"] > 128 * MIB
    clean = run_scenario(case("large-uploads.toml", "large-uploads.protocol-h1.connections-64.upload_bytes-20971520",
                                   connections=16, requests=32, warmup_requests=0))
    report = gate.evaluate(clean, result)
    assert report.exit_code == gate.EXIT_REGRESSION
    assert report.failures[0].metric == "peak_rss_bytes"


def test_pipelining_depth_16_in_order_without_growth(built, tmp_path):
    m = prove_twin(case("pipelining.toml", requests=20000, warmup_requests=2000), tmp_path)
    assert m["clean"]["client_failures"] == 0  # a response out of order fails loadgen's length/pattern check
    assert m["clean"]["live_heap_bytes_per_request"] < 1
    assert m["bad-twin"]["live_heap_bytes_per_request"] >= 64


@pytest.mark.parametrize("allocator", ["glibc", "jemalloc", "mimalloc"])
def test_json_built_per_request_allocates_more_than_cached_and_the_gate_says_so(built, allocator):
    from analysis import gate
    runs = {kind: run_scenario(case("json-allocators.toml", f"json-allocators.{allocator}-{kind}",
                                    requests=5000, warmup_requests=500))
            for kind in ("cached", "built")}
    for r in runs.values():
        assert r["status"] == "ok", r["failure"]
        assert r["allocator"]["name"] == allocator
        assert_no_strays(r)
    built_m, cached_m = runs["built"]["metrics"], runs["cached"]["metrics"]
    # 100 items, each a small object: building allocates per item; the cache serves one buffer.
    # The counter is memgate's own operator new, so the figure means the same under every allocator.
    assert built_m["allocations_per_request"] > cached_m["allocations_per_request"] + 50
    # Per-request serialization is the regression the allocation counter exists for: RSS need
    # not move (the allocator reuses the blocks), allocations per request do.
    report = gate.evaluate(runs["cached"], runs["built"])
    assert report.exit_code == gate.EXIT_REGRESSION
    assert "allocations_per_request" in {c.metric for c in report.failures}, [c.long_repr() for c in report.checks]


def test_endless_stream_flat_with_backpressure_and_set_against_loopback(built, tmp_path):
    m = prove_twin(case("endless-streams.toml", "endless-streams.connections-1",
                        cancel_after_bytes=64 * MIB, requests=4), tmp_path)
    assert m["clean"]["requests_cancelled"] == 4
    assert m["clean"]["peak_rss_growth_bytes"] < 4 * MIB
    assert m["bad-twin"]["peak_rss_growth_bytes"] > 32 * MIB  # queued chunk copies
    # One 16 KiB chunk in flight at a time still moves a good share of what loopback TCP can
    # (0.45-0.52 measured at full size); a server that stalled between chunks would not.
    assert m["clean"]["loopback_tcp_bytes_per_s"] > 0
    assert m["clean"]["throughput_vs_loopback"] > 0.1, m["clean"]


@pytest.mark.parametrize("protocol", ["h1", "h2c"])
def test_slow_reader_is_not_buffered_ahead_of(built, tmp_path, protocol):
    m = prove_twin(case("slow-reader.toml", f"slow-reader.protocol-{protocol}", connections=2, requests=2,
                        cancel_after_bytes=8 * MIB), tmp_path)
    rate = 4 * MIB * 2
    assert m["clean"]["transfer_bytes_per_s"] < 1.25 * rate  # the client really reads slowly
    # Each cancel stops the stream: what arrives after it is only what was in flight, not the stream
    # read on at 4 MiB/s until the server's send timeout (an h2 reset that waited for the slow
    # reader's socket to drain went out only after 30 s).
    moved = m["clean"]["transfer_bytes_per_s"] * m["clean"]["elapsed_s"]
    assert moved < 2 * 8 * MIB + 2 * 24 * MIB, moved
    assert m["clean"]["peak_rss_growth_per_connection_bytes"] < 2 * MIB
    assert m["bad-twin"]["peak_rss_growth_per_connection_bytes"] > 32 * MIB


@pytest.mark.parametrize("protocol", ["h1", "h2c"])
def test_idle_connections_cost_per_connection_and_come_back(built, tmp_path, protocol):
    m = prove_twin(case("idle-connections.toml", f"idle-connections.{protocol}-1k",
                        connections=500, requests=500, warmup_requests=500), tmp_path)
    clean = m["clean"]
    assert clean["held_connections"] == 500
    assert 0 < clean["rss_per_held_connection_bytes"] < 256 * 1024
    assert clean["live_heap_per_held_connection_bytes"] > 0
    assert abs(clean["rss_delta_bytes"]) < 4 * MIB  # back to the start once they closed
    assert m["bad-twin"]["live_heap_bytes_per_request"] >= 4096  # one request per connection
    assert m["near-twin"]["live_heap_bytes_per_request"] >= 1024  # twice the family's 512 B/request bound


def test_h2_stream_churn_with_cancellation_does_not_grow(built, tmp_path):
    m = prove_twin(case("h2-stream-churn.toml", requests=20000, warmup_requests=2000), tmp_path)
    clean = m["clean"]
    assert clean["client_failures"] == 0
    assert 0.01 < clean["requests_cancelled"] / clean["requests_completed"] < 0.03  # 1 in 50 is 16 MiB, cut at 64 KiB
    assert clean["live_heap_bytes_per_request"] < 1
    assert m["bad-twin"]["live_heap_bytes_per_request"] > 40  # 4 KiB x 1 in 50 requests


@pytest.mark.parametrize("protocol", ["h1", "h2c"])
def test_a_per_connection_leak_counts_load_connections_only(built, protocol):
    # The driver's /mem polls come on connections of their own: were they charged, the leak would
    # grow with the sampling rate instead of with the connections that carried load. One client
    # connection at a time opens exactly 2,000 / 10 of them (several in parallel open spares at the end).
    result = run_scenario(case("connection-churn.toml", f"connection-churn.protocol-{protocol}", requests=2000,
                               warmup_requests=200, connections=1, server_args=["--inject-leak-per-connection=1000"]))
    assert_no_strays(result)
    assert result["status"] == "ok", result["failure"]
    m = result["metrics"]
    assert m["timeline_points"] >= 2  # /mem was polled while the load ran
    assert m["requests_completed"] == 2000
    assert result["replicates"][0]["loadgen"]["connections_opened"] == 200
    assert m["leaked_bytes_delta"] == 1000 * 200  # one leak per load connection, none per /mem poll


@pytest.mark.parametrize("protocol", ["h1", "h2c"])
def test_connection_churn_does_not_grow_per_connection(built, tmp_path, protocol):
    m = prove_twin(case("connection-churn.toml", f"connection-churn.protocol-{protocol}",
                        requests=20000, warmup_requests=2000), tmp_path)
    assert m["clean"]["client_failures"] == 0
    assert m["clean"]["live_heap_bytes_per_request"] < 8  # the gate's default bound
    assert m["bad-twin"]["live_heap_bytes_per_request"] >= 90  # 1 KiB per 10 requests
