"""The metric registry: every figure in a result's ``metrics``, in one table.

Each Metric says what it measures (unit), where its inputs come from (source) and how its
value is computed from one replicate (value), how a table shows it (column, header, kind),
which way is better (direction), and whether and how the gate limits it (gate, with the
thresholds' defaults) and how far it must fall to count as an improvement in a report.
The gate, `memgate compare`, `memgate report` and a scenario's [thresholds] validation all
read this table, so a new metric is one entry here.

Also here: a replicate's metrics from its samples (compute_metrics) and the median and
spread over replicates (median_metrics, noise).
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any, Callable

from analysis import fit
from analysis.units import format_bytes, format_number

MIB = 1024 * 1024
LOWER, HIGHER = "lower", "higher"  # which way is better; None: neither (a count of what ran)


@dataclasses.dataclass(frozen=True)
class GateRule:
    """How the gate limits a metric. ``thresholds`` are (name, default) in the order the rule reads them:

    * absolute (max, floor, floor_min): candidate <= max + k x noise, or ``total`` grew by at most
      floor scaled to the run's request count (LIVE_HEAP_FLOOR_REQUESTS), never under floor_min;
    * growth (floor, factor): candidate <= max(floor, factor x baseline + k x noise), the floor from
      the A/A spread when one is known (``floor`` is the fallback);
    * slope (max, factor): the in-load fit of ``field`` <= max(factor x baseline, baseline + max) +
      k x noise, unless the growth it stands for is under the floor of the ``floored_by`` check;
    * increase (max_increase,): candidate <= baseline + max_increase + k x noise;
    * churn (factor,): candidate <= max(factor x baseline, baseline + slack) + k x noise;
    * at_most (max,): candidate <= max.
    analysis/gate.py applies them to every candidate replicate.
    """
    kind: str
    thresholds: tuple[tuple[str, float], ...]
    slack: float = 0.0
    total: str | None = None
    field: str | None = None  # slope: the timeline field fitted over requests
    floored_by: str | None = None  # slope: the gated metric whose floor forgives small growth


@dataclasses.dataclass(frozen=True)
class Metric:
    name: str
    unit: str    # "bytes", "bytes/request", "bytes/response", "bytes/s", "count", "requests/s", "us", "s", "ratio", "table"
    # "/mem" (start and end samples), "loadgen", "timeline", "held sample", "loopback", "/proc" (the
    # target's process tree), "cgroup" (its memory cgroup), or a combination
    source: str
    value: Callable[[Samples], Any]
    kind: str = "float"  # how a cell renders it: analysis.units.format_cell
    column: str | None = None  # its key in a diff row (analysis/diff.py), for metrics a table shows
    header: str | None = None
    direction: str | None = LOWER
    gate: GateRule | None = None
    # Gated metrics: how far the median must fall to be an improvement, from (thresholds, baseline median).
    improvement_step: Callable[[dict[str, float], float], float] | None = None


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _per(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def in_flight(config: dict[str, Any]) -> int:
    """Requests a scenario keeps in flight at once: connections x streams (h2) or x pipeline depth (h1)."""
    depth = config["pipeline"] if config["protocol"] == "h1" else config["streams"]
    return config["connections"] * depth


class Samples:
    """One replicate's inputs (two forced-trim /mem samples, the timeline, loadgen's report, the
    scenario) and the figures several metrics share."""

    def __init__(self, start: dict[str, Any], end: dict[str, Any], timeline: list[dict[str, Any]],
                 report: dict[str, Any], config: dict[str, Any], watched_peak_rss: int,
                 held: dict[str, Any] | None, loopback_bytes_per_s: float | None):
        self.start, self.end, self.timeline, self.report, self.config = start, end, timeline, report, config
        self.held = held
        self.loopback_bytes_per_s = loopback_bytes_per_s
        self.completed = int(report.get("requests_completed", 0))
        # A target without request counters (not refserver, no /mem): per-request figures divide by
        # what loadgen completed.
        self.counts_requests = "requests" in end
        self.served = {p: int(end["requests"].get(p, 0)) - int(start["requests"].get(p, 0)) if self.counts_requests else 0
                       for p in ("h1", "h2")}
        self.served_total = self.served["h1"] + self.served["h2"] if self.counts_requests else self.completed
        # None when the target reports no live heap (heap = "none", or a shim that saw no allocation).
        self.live_heap_delta = _minus(end.get("live_heap_bytes"), start.get("live_heap_bytes"))
        self.rss_delta = end["rss_bytes"] - start["rss_bytes"]
        timeline_peak = max((p["rss_bytes"] for p in timeline if p.get("rss_bytes") is not None), default=0)
        self.peak = max(timeline_peak, watched_peak_rss, end.get("rss_before_trim_bytes", 0))
        self.peak_growth = self.peak - start["rss_bytes"]
        moved = report.get("bytes_received", 0) + report.get("bytes_sent", 0)  # uploads send, downloads receive
        self.moved_per_s = _per(moved, report.get("elapsed_s"))
        self.held_count = int(held["connections_held"]) if held else None
        self.latency = report.get("latency_us") or {}

    def counter_delta(self, name: str) -> int | None:
        if name in self.end and name in self.start:
            return int(self.end[name]) - int(self.start[name])
        return None

    def outside_delta(self, name: str) -> float | None:
        """End minus start of a process-tree or cgroup figure; None when either sample lacks it."""
        before, after = self.start.get(name), self.end.get(name)
        return None if before is None or after is None else after - before

    def tree_per_request(self, counter: str, scale: float = 1.0) -> float | None:
        delta = self.outside_delta(counter)
        return _per(None if delta is None else delta * scale, self.completed)

    def per_served(self, counter: str) -> float | None:
        return _per(self.counter_delta(counter), self.served_total)

    def held_per_connection(self, field: str) -> float | None:
        return _per(_minus(self.held.get(field), self.start.get(field)), self.held_count) if self.held else None

    def charged_per_request(self, protocol: str, field: str) -> float | None:
        """Allocations made while that protocol's code ran (the server's allocations_by_protocol), per its request."""
        before = (self.start.get("allocations_by_protocol") or {}).get(protocol)
        after = (self.end.get("allocations_by_protocol") or {}).get(protocol)
        charged = int(after[field]) - int(before[field]) if before and after else None
        return _per(charged, self.served[protocol])


def _timeline_peak(s: Samples, field: str) -> int | None:
    points = [p[field] for p in (*s.timeline, s.end) if p.get(field) is not None]
    return max(points) if points else None


def _rss_explained(s: Samples) -> dict[str, int | None] | None:
    """The end sample's resident memory by kind (cgroup) beside the heap the program holds (/mem):
    anon minus live heap is what the allocator keeps (free chunks, arenas, caches) plus other anonymous maps."""
    e = s.end
    if e.get("cgroup_anon_bytes") is None:
        return None
    live = e.get("live_heap_bytes")
    return {"rss_bytes": e.get("tree_rss_bytes"), "anon_bytes": e["cgroup_anon_bytes"],
            "file_bytes": e.get("cgroup_file_bytes"), "kernel_bytes": e.get("cgroup_kernel_bytes"),
            "sock_bytes": e.get("cgroup_sock_bytes"), "sock_peak_bytes": _timeline_peak(s, "cgroup_sock_bytes"),
            "live_heap_bytes": live,
            "allocator_kept_bytes": None if live is None else e["cgroup_anon_bytes"] - live}


# A gated in-load slope needs this many timeline points under load: through 3 or 4 the 95 % interval
# is too wide to tell anything (a short run of held connections is over within a few samples).
SLOPE_MIN_POINTS = 5


def _slope(s: Samples, field: str) -> float | None:
    f = fit.timeline_fit(s.timeline, field, SLOPE_MIN_POINTS)
    return None if f is None else f.slope


def _growth_fits(s: Samples) -> dict[str, float | None]:
    return {field: fit.growth_per_request(s.timeline, field) for field in ("rss_bytes", "rss_anon_bytes", "live_heap_bytes")}


# In the order a result file lists them.
METRICS: tuple[Metric, ...] = (
    Metric("requests_completed", "count", "loadgen", lambda s: s.completed, kind="count", column="requests",
           header="Requests", direction=None),
    Metric("client_failures", "count", "loadgen", lambda s: int(s.report.get("requests_failed", 0)), kind="count",
           column="client_failures", header="Client failures",
           gate=GateRule("at_most", (("client_failures_max", 0.0),))),
    Metric("server_requests", "table", "/mem", lambda s: s.served if s.counts_requests else None, direction=None),
    Metric("per_protocol", "table", "loadgen", lambda s: s.report.get("per_protocol"), direction=None),
    Metric("live_heap_delta_bytes", "bytes", "/mem", lambda s: s.live_heap_delta, kind="bytes",
           column="live_heap_delta", header="Live heap \u0394"),
    Metric("rss_delta_bytes", "bytes", "/mem", lambda s: s.rss_delta, kind="bytes", column="rss_delta",
           header="RSS \u0394",
           gate=GateRule("growth", (("rss_delta_bytes_max", 8 * MIB), ("rss_delta_factor", 3.0))),
           improvement_step=lambda t, base: max(t["rss_delta_bytes_max"] / 8, 0.5 * abs(base))),
    Metric("rss_anon_delta_bytes", "bytes", "/mem",
           lambda s: s.end.get("rss_anon_bytes", 0) - s.start.get("rss_anon_bytes", 0), kind="bytes"),
    Metric("rss_before_trim_delta_bytes", "bytes", "/mem",
           lambda s: s.end.get("rss_before_trim_bytes", s.end["rss_bytes"]) - s.start["rss_bytes"], kind="bytes",
           column="rss_before_trim_delta", header="RSS \u0394 before trim"),
    Metric("peak_rss_bytes", "bytes", "timeline, ceiling watch, /mem", lambda s: s.peak, kind="bytes"),
    Metric("peak_rss_growth_bytes", "bytes", "timeline, ceiling watch, /mem", lambda s: s.peak_growth, kind="bytes",
           column="peak_rss_growth", header="Peak RSS \u0394",
           gate=GateRule("growth", (("peak_rss_growth_bytes_min", 2 * MIB), ("peak_rss_growth_factor", 2.0))),
           improvement_step=lambda t, base: max(t["peak_rss_growth_bytes_min"], 0.5 * abs(base))),
    Metric("peak_rss_growth_per_connection_bytes", "bytes", "timeline, ceiling watch, /mem",
           lambda s: _per(s.peak_growth, s.config["connections"]), kind="bytes",
           column="peak_per_connection", header="Peak \u0394/connection"),
    Metric("peak_rss_growth_per_stream_bytes", "bytes", "timeline, ceiling watch, /mem",
           lambda s: _per(s.peak_growth, in_flight(s.config)), kind="bytes",
           column="peak_per_stream", header="Peak \u0394/stream"),
    Metric("held_connections", "count", "held sample", lambda s: s.held_count, kind="count", direction=None),
    Metric("rss_per_held_connection_bytes", "bytes", "held sample", lambda s: s.held_per_connection("rss_bytes"),
           kind="bytes", column="rss_per_idle_connection", header="RSS/idle connection"),
    Metric("live_heap_per_held_connection_bytes", "bytes", "held sample",
           lambda s: s.held_per_connection("live_heap_bytes"), kind="bytes"),
    Metric("vm_hwm_bytes", "bytes", "/mem", lambda s: s.end.get("vm_hwm_bytes"), kind="bytes"),
    Metric("live_heap_bytes_per_request", "bytes/request", "/mem, loadgen", lambda s: _per(s.live_heap_delta, s.completed),
           column="bytes_per_request", header="bytes/request",
           # Below the floor, growth is bookkeeping (a run of a few hundred uploads grows by a few
           # hundred bytes, tens of bytes per request); above it a leak is a leak whatever the baseline.
           gate=GateRule("absolute", (("live_heap_bytes_per_request_max", 8.0), ("live_heap_delta_bytes_floor", 64 * 1024),
                                     ("live_heap_delta_bytes_floor_min", 4096.0)), total="live_heap_delta_bytes"),
           improvement_step=lambda t, base: t["live_heap_bytes_per_request_max"]),
    Metric("rss_bytes_per_request", "bytes/request", "/mem, loadgen", lambda s: _per(s.rss_delta, s.completed)),
    Metric("growth_per_request", "table", "timeline", _growth_fits),
    # Growth while connections are open: memory held per connection or stream is gone by the end
    # sample, so only the timeline's slope under load sees it.
    Metric("live_heap_slope_bytes_per_request", "bytes/request", "timeline", lambda s: _slope(s, "live_heap_bytes"),
           gate=GateRule("slope", (("live_heap_slope_bytes_per_request_max", 8.0), ("live_heap_slope_factor", 2.0)), field="live_heap_bytes",
                         floored_by="live_heap_bytes_per_request")),
    Metric("rss_slope_bytes_per_request", "bytes/request", "timeline", lambda s: _slope(s, "rss_bytes"),
           gate=GateRule("slope", (("rss_slope_bytes_per_request_max", 8.0), ("rss_slope_factor", 2.0)), field="rss_bytes",
                         floored_by="peak_rss_growth_bytes")),
    # Allocation churn: a regression RSS can hide (jemalloc's retained memory, glibc reusing
    # freed chunks) still costs CPU and fragmentation.
    Metric("allocations_per_request", "count", "/mem", lambda s: s.per_served("allocations"),
           column="allocations_per_request", header="allocs/req",
           gate=GateRule("churn", (("allocations_per_request_factor", 1.25),), slack=2.0)),
    Metric("allocated_bytes_per_request", "bytes/request", "/mem", lambda s: s.per_served("allocated_bytes"),
           kind="bytes", gate=GateRule("churn", (("allocated_bytes_per_request_factor", 1.25),), slack=256.0)),
    # The same, charged to the protocol whose code allocated, per request of that protocol;
    # the rest of allocations_per_request (accept, TLS handshake, /mem) is unattributed.
    Metric("allocations_per_request_by_protocol", "table", "/mem",
           lambda s: {p: {"allocations": s.charged_per_request(p, "allocations"),
                          "allocated_bytes": s.charged_per_request(p, "allocated_bytes")}
                      for p in ("h1", "h2") if s.served[p]}),
    Metric("write_calls_per_response", "count", "/mem", lambda s: s.per_served("write_calls"),
           column="writes_per_response", header="writes/response"),
    Metric("bytes_copied_per_response", "bytes/response", "/mem", lambda s: s.per_served("bytes_copied"),
           kind="bytes", column="bytes_copied_per_response", header="bytes copied/response",
           gate=GateRule("increase", (("bytes_copied_per_response_increase_max", 16.0),)),
           improvement_step=lambda t, base: t["bytes_copied_per_response_increase_max"]),
    Metric("bytes_written_per_response", "bytes/response", "/mem", lambda s: s.per_served("bytes_written"),
           kind="bytes"),
    Metric("leaked_bytes_delta", "bytes", "/mem", lambda s: s.counter_delta("leaked_bytes"), kind="bytes"),
    Metric("requests_cancelled", "count", "loadgen", lambda s: s.report.get("requests_cancelled"), kind="count",
           direction=None),
    Metric("requests_per_s", "requests/s", "loadgen", lambda s: s.report.get("requests_per_s"), kind="rate",
           column="requests_per_s", header="req/s", direction=HIGHER),
    Metric("transfer_bytes_per_s", "bytes/s", "loadgen", lambda s: s.moved_per_s, kind="bytes",
           column="throughput", header="Moved/s", direction=HIGHER),
    Metric("loopback_tcp_bytes_per_s", "bytes/s", "loopback", lambda s: s.loopback_bytes_per_s, kind="bytes",
           direction=None),
    Metric("throughput_vs_loopback", "ratio", "loadgen, loopback", lambda s: _per(s.moved_per_s, s.loopback_bytes_per_s),
           column="vs_loopback", header="x loopback TCP", direction=HIGHER),
    Metric("latency_p50_us", "us", "loadgen", lambda s: s.latency.get("p50"), kind="us"),
    Metric("latency_p99_us", "us", "loadgen", lambda s: s.latency.get("p99"), kind="us", column="latency_p99_us",
           header="p99"),
    Metric("elapsed_s", "s", "loadgen", lambda s: s.report.get("elapsed_s"), direction=None),
    Metric("timeline_points", "count", "timeline", lambda s: len(s.timeline), kind="count", direction=None),
    # From outside the process, for any target: informational, not gated (A/A spread not established).
    Metric("tree_processes", "count", "/proc", lambda s: s.end.get("tree_processes"), kind="count", direction=None),
    Metric("tree_rss_delta_bytes", "bytes", "/proc", lambda s: s.outside_delta("tree_rss_bytes"), kind="bytes",
           column="tree_rss_delta", header="Tree RSS \u0394"),
    Metric("tree_rss_anon_delta_bytes", "bytes", "/proc", lambda s: s.outside_delta("tree_rss_anon_bytes"),
           kind="bytes"),
    Metric("tree_pss_delta_bytes", "bytes", "/proc", lambda s: s.outside_delta("tree_pss_bytes"), kind="bytes"),
    Metric("tree_peak_rss_bytes", "bytes", "/proc", lambda s: _timeline_peak(s, "tree_rss_bytes"), kind="bytes"),
    Metric("syscalls_read_per_request", "count", "/proc, loadgen", lambda s: s.tree_per_request("tree_syscalls_read"),
           column="syscalls_read_per_request", header="read syscalls/req"),
    Metric("syscalls_write_per_request", "count", "/proc, loadgen",
           lambda s: s.tree_per_request("tree_syscalls_write"),
           column="syscalls_write_per_request", header="write syscalls/req"),
    Metric("context_switches_per_request", "count", "/proc, loadgen",
           lambda s: s.tree_per_request("tree_context_switches"),
           column="context_switches_per_request", header="ctx switches/req"),
    Metric("cpu_us_per_request", "us", "/proc, loadgen", lambda s: s.tree_per_request("tree_cpu_s", 1e6), kind="us",
           column="cpu_us_per_request", header="CPU us/req"),
    Metric("cgroup_usage_delta_bytes", "bytes", "cgroup", lambda s: s.outside_delta("cgroup_usage_bytes"),
           kind="bytes", column="cgroup_usage_delta", header="cgroup \u0394"),
    Metric("cgroup_peak_bytes", "bytes", "cgroup", lambda s: s.end.get("cgroup_peak_bytes"), kind="bytes"),
    Metric("cgroup_anon_delta_bytes", "bytes", "cgroup", lambda s: s.outside_delta("cgroup_anon_bytes"), kind="bytes"),
    Metric("cgroup_file_delta_bytes", "bytes", "cgroup", lambda s: s.outside_delta("cgroup_file_bytes"), kind="bytes"),
    Metric("cgroup_kernel_delta_bytes", "bytes", "cgroup", lambda s: s.outside_delta("cgroup_kernel_bytes"),
           kind="bytes"),
    Metric("cgroup_sock_delta_bytes", "bytes", "cgroup", lambda s: s.outside_delta("cgroup_sock_bytes"), kind="bytes"),
    # Socket buffers drain once the clients are gone: their size under load is the timeline's highest.
    Metric("cgroup_sock_peak_bytes", "bytes", "cgroup", lambda s: _timeline_peak(s, "cgroup_sock_bytes"), kind="bytes"),
    Metric("rss_explained", "table", "cgroup, /proc, /mem", _rss_explained, direction=None),
)

BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}
BY_COLUMN: dict[str, Metric] = {m.column: m for m in METRICS if m.column}
# The order the gate checks (and a report lists) gated metrics: memory, copies, churn, failures.
# A gated metric missing here fails at import.
_CHECK_ORDER = ("live_heap_bytes_per_request", "rss_delta_bytes", "peak_rss_growth_bytes",
                "live_heap_slope_bytes_per_request", "rss_slope_bytes_per_request", "bytes_copied_per_response",
                "allocations_per_request", "allocated_bytes_per_request", "client_failures")
GATED: tuple[Metric, ...] = tuple(sorted((m for m in METRICS if m.gate), key=lambda m: _CHECK_ORDER.index(m.name)))

# The request count the live-heap floor is set for; it shrinks with fewer requests (to its minimum).
LIVE_HEAP_FLOOR_REQUESTS = 100_000
# An RSS floor from an A/A spread is never under this many pages: glibc grows and trims its heap
# top in 128 KiB steps (32 pages of 4 KiB), so two such steps are no leak.
RSS_FLOOR_MIN_PAGES = 64

# Every threshold a scenario's [thresholds] table may set, with its default; noise_k scales
# every rule's noise allowance.
DEFAULT_THRESHOLDS: dict[str, float] = {
    **{name: default for m in GATED for name, default in m.gate.thresholds},
    "noise_k": 3.0,
}


def column(name: str) -> tuple[str, str, str]:
    """A metric's table column: (row key, header, kind)."""
    m = BY_NAME[name]
    return m.column, m.header, m.kind


def format_signed(name: str, value: float | None) -> str:
    """A difference or median of a metric in a sentence: binary units for bytes, a sign always."""
    if value is None:
        return "n/a"
    m = BY_NAME.get(name)
    if m is not None and m.kind == "bytes":
        return format_bytes(value, signed=True)
    if m is not None and m.unit == "bytes/request":
        return format_number(value, signed=True, digits=2) + " B/request"
    return format_number(value, signed=True, digits=2)


def compute_metrics(start: dict[str, Any], end: dict[str, Any], timeline: list[dict[str, Any]],
                    report: dict[str, Any], config: dict[str, Any], *, watched_peak_rss: int = 0,
                    held: dict[str, Any] | None = None, loopback_bytes_per_s: float | None = None) -> dict[str, Any]:
    """Deltas, per-request growth and per-response counters from two /mem samples, a timeline and loadgen's report.

    Normalised figures divide by what a scenario scales: connections, requests in flight,
    connections held idle (hold_connections), and the loopback TCP limit for throughput.
    """
    samples = Samples(start, end, timeline, report, config, watched_peak_rss, held, loopback_bytes_per_s)
    return {m.name: m.value(samples) for m in METRICS}


# -- over replicates ----------------------------------------------------------------------------
def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = v
    return out


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in flat.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def _none_keys(d: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _none_keys(v, f"{prefix}{k}.")
        elif v is None:
            out.append(f"{prefix}{k}")
    return out


def median_metrics(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each numeric metric over replicates; keys with None in every replicate stay None."""
    flats = [_flatten(m) for m in metrics]
    keys = sorted({k for f in flats for k in f} | {k for m in metrics for k in _none_keys(m)})
    merged: dict[str, Any] = {}
    for k in keys:
        values = [f[k] for f in flats if k in f]
        merged[k] = statistics.median(values) if values else None
    return _unflatten(merged)


def noise(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """Per metric: min, max and range over replicates (empty with fewer than 2)."""
    if len(metrics) < 2:
        return {}
    flats = [_flatten(m) for m in metrics]
    out = {}
    for k in sorted({k for f in flats for k in f}):
        values = [f[k] for f in flats if k in f]
        if len(values) >= 2:
            out[k] = {"min": min(values), "max": max(values), "range": max(values) - min(values)}
    return out
