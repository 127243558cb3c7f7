"""The metric registry: values from samples, medians and spread over replicates, and the
readers (gate, diff views) agreeing with it."""

import pytest

from analysis import compare, diff, gate, metrics, report

CONFIG = {"connections": 4, "protocol": "h2c", "streams": 10, "pipeline": 1}


def sample(rss, heap, requests, allocations, **extra):
    return {"rss_bytes": rss, "rss_anon_bytes": rss // 2, "live_heap_bytes": heap, "requests": {"h2": requests},
            "allocations": allocations, "allocated_bytes": allocations * 100,
            "allocations_by_protocol": {"h2": {"allocations": allocations - 10, "allocated_bytes": 0}}, **extra}


def test_compute_metrics_lists_every_registry_metric_in_order():
    start = sample(1000, 500, 0, 10)
    end = sample(3000, 1300, 100, 710, rss_before_trim_bytes=5000, vm_hwm_bytes=6000)
    timeline = [{"requests": n, "rss_bytes": 1000 + 20 * n, "live_heap_bytes": 500 + 8 * n} for n in (0, 50, 100)]
    loadgen = {"requests_completed": 100, "requests_failed": 0, "bytes_received": 4000, "elapsed_s": 2.0,
               "latency_us": {"p50": 10, "p99": 90}}
    m = metrics.compute_metrics(start, end, timeline, loadgen, CONFIG, watched_peak_rss=7000,
                                loopback_bytes_per_s=4000.0)
    assert list(m) == [x.name for x in metrics.METRICS]
    assert m["live_heap_bytes_per_request"] == 8 and m["rss_delta_bytes"] == 2000
    assert m["peak_rss_bytes"] == 7000 and m["peak_rss_growth_per_stream_bytes"] == 6000 / 40
    assert m["allocations_per_request"] == 7 and m["allocations_per_request_by_protocol"] == {
        "h2": {"allocations": 7.0, "allocated_bytes": 0.0}}
    assert m["growth_per_request"]["live_heap_bytes"] == pytest.approx(8)
    assert m["throughput_vs_loopback"] == 0.5 and m["held_connections"] is None and m["latency_p99_us"] == 90


def test_median_and_noise_over_replicates():
    reps = [{"a": 1, "t": {"x": 10}, "n": None}, {"a": 5, "t": {"x": 30}, "n": None}, {"a": 2, "t": {"x": 20}, "n": None}]
    assert metrics.median_metrics(reps) == {"a": 2, "n": None, "t": {"x": 20}}
    assert metrics.noise(reps) == {"a": {"min": 1, "max": 5, "range": 4}, "t.x": {"min": 10, "max": 30, "range": 20}}
    assert metrics.noise(reps[:1]) == {}


def test_gate_checks_every_gated_metric_with_the_registry_thresholds():
    m = {x.name: 1.0 for x in metrics.METRICS}
    result = {"status": "ok", "metrics": {**m, "requests_completed": 100, "client_failures": 0}}
    checks = gate.evaluate(result, result).checks
    assert [c.metric for c in checks] == [x.name for x in metrics.GATED]
    assert [c.unit for c in checks] == [x.unit for x in metrics.GATED]
    rule_keys = [k for x in metrics.GATED for k, _ in x.gate.thresholds]
    assert list(metrics.DEFAULT_THRESHOLDS) == rule_keys + ["noise_k"]


def test_compare_and_report_views_take_headers_from_the_registry():
    for view in (compare.VIEW, report.VIEW):
        for key, header, kind in diff.columns(view):
            if key in metrics.BY_COLUMN:
                assert (header, kind) == (metrics.BY_COLUMN[key].header, metrics.BY_COLUMN[key].kind)
    assert len(metrics.BY_COLUMN) == len([x for x in metrics.METRICS if x.column])  # column keys are unique
    base = {"metrics": {"rss_delta_bytes": 10, "requests_completed": 5}, "config": {"protocol": "h1"}}
    cand = {"metrics": {"rss_delta_bytes": 25, "requests_completed": True}, "config": {"protocol": "h1"}}
    b, c = diff.side(base, ["protocol", "rss_delta", "requests"]), diff.side(cand, ["protocol", "rss_delta", "requests"])
    assert b == {"protocol": "h1", "rss_delta": 10, "requests": 5} and c["requests"] is None
    assert diff.change(b, c, ["protocol", "rss_delta", "requests"]) == {"rss_delta": 15, "requests": None}
