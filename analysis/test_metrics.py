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


OUTSIDE_START = {"tree_processes": 3, "tree_rss_bytes": 30 << 20, "tree_rss_anon_bytes": 10 << 20,
                 "tree_pss_bytes": 20 << 20, "tree_syscalls_read": 1000, "tree_syscalls_write": 500,
                 "tree_context_switches": 200, "tree_cpu_s": 1.5, "cgroup_usage_bytes": 12 << 20,
                 "cgroup_peak_bytes": 14 << 20, "cgroup_anon_bytes": 9 << 20, "cgroup_file_bytes": 2 << 20,
                 "cgroup_kernel_bytes": 1 << 20, "cgroup_sock_bytes": 0}


def outside_metrics(start_extra, end_extra, timeline=()):
    start = sample(1000, 500, 0, 10, **start_extra)
    end = sample(3000, 1300, 100, 710, **end_extra)
    return metrics.compute_metrics(start, end, list(timeline), {"requests_completed": 100}, CONFIG)


def test_outside_metrics_are_tree_and_cgroup_deltas_per_request():
    end = {**OUTSIDE_START, "tree_processes": 2, "tree_rss_bytes": 31 << 20, "tree_syscalls_read": 1300,
           "tree_syscalls_write": 700, "tree_context_switches": 450, "tree_cpu_s": 1.8, "cgroup_anon_bytes": 10 << 20,
           "cgroup_sock_bytes": 64 << 10, "cgroup_peak_bytes": 20 << 20, "live_heap_bytes": 4 << 20}
    m = outside_metrics(OUTSIDE_START, end, [{"tree_rss_bytes": 40 << 20}, {"tree_rss_bytes": None}])
    assert m["tree_processes"] == 2 and m["tree_rss_delta_bytes"] == 1 << 20 and m["tree_peak_rss_bytes"] == 40 << 20
    assert m["syscalls_read_per_request"] == 3 and m["syscalls_write_per_request"] == 2
    assert m["context_switches_per_request"] == 2.5 and m["cpu_us_per_request"] == pytest.approx(3000)
    assert m["cgroup_peak_bytes"] == 20 << 20 and m["cgroup_anon_delta_bytes"] == 1 << 20
    assert m["cgroup_sock_delta_bytes"] == 64 << 10 and m["cgroup_usage_delta_bytes"] == 0
    assert m["rss_explained"] == {"rss_bytes": 31 << 20, "anon_bytes": 10 << 20, "file_bytes": 2 << 20,
                                  "kernel_bytes": 1 << 20, "sock_bytes": 64 << 10, "sock_peak_bytes": 64 << 10,
                                  "live_heap_bytes": 4 << 20,
                                  "allocator_kept_bytes": 6 << 20}


def test_outside_metrics_are_none_without_their_samples_and_never_gated():
    no_cgroup = {k: v for k, v in OUTSIDE_START.items() if not k.startswith("cgroup_")}
    m = outside_metrics(no_cgroup, no_cgroup)
    assert m["tree_rss_delta_bytes"] == 0 and m["cgroup_peak_bytes"] is None and m["rss_explained"] is None
    bare = outside_metrics({}, {})
    assert bare["tree_rss_delta_bytes"] is None and bare["syscalls_read_per_request"] is None
    outside = [x for x in metrics.METRICS if x.source.startswith(("/proc", "cgroup"))]
    assert len(outside) >= 15 and not any(x.gate for x in outside)


def test_every_metric_names_its_source_and_views_group_them():
    known = {"/mem", "loadgen", "timeline", "held sample", "loopback", "ceiling watch", "/proc", "cgroup"}
    for m in metrics.METRICS:
        assert set(m.source.split(", ")) <= known, m.name
    groups = dict(diff.sources(["scenario", "rss_delta", "requests_per_s", "tree_rss_delta", "cpu_us_per_request"]))
    assert groups == {"/mem": ["RSS \u0394"], "loadgen": ["req/s"], "/proc": ["Tree RSS \u0394"],
                      "/proc, loadgen": ["CPU us/req"]}
    assert diff.sources_line([("/mem", ["a", "b"]), ("cgroup", ["c"])]) == "/mem: a, b; cgroup: c"
