"""The gate: does a candidate result regress memory against a baseline?

Each check compares one metric of the candidate's median (``metrics``) with a limit made
from an absolute floor and, where it makes sense, the baseline times a factor plus a
noise allowance. Noise for a metric is the larger replicate range (max - min) of the two
results (0 without replicates), times ``noise_k``.

Default thresholds (a scenario's [thresholds] table overrides any of them):

| threshold | default | check |
|---|---|---|
| live_heap_bytes_per_request_max | 8 | live_heap_delta_bytes / requests <= 8 + k*noise, or live_heap_delta_bytes <= the floor |
| live_heap_delta_bytes_floor | 64 KiB | live heap growth this small is bookkeeping noise, whatever the request count |
| rss_delta_bytes_max | 8 MiB | rss_delta_bytes <= max(8 MiB, rss_delta_factor*baseline + k*noise) |
| rss_delta_factor | 3 | |
| peak_rss_growth_bytes_min | 2 MiB | peak_rss_growth_bytes <= max(2 MiB, peak_rss_growth_factor*baseline + k*noise) |
| peak_rss_growth_factor | 2 | |
| bytes_copied_per_response_increase_max | 1024 | bytes_copied_per_response <= baseline + 1024 |
| allocations_per_request_factor | 1.25 | allocations_per_request <= max(factor x baseline, baseline + 2) + k*noise |
| allocated_bytes_per_request_factor | 1.25 | allocated_bytes_per_request <= max(factor x baseline, baseline + 4 KiB) + k*noise |
| client_failures_max | 0 | client_failures <= 0 |
| noise_k | 3 | |
"""

from __future__ import annotations

import dataclasses
from typing import Any

from analysis.units import format_bytes, format_number

MIB = 1024 * 1024

DEFAULT_THRESHOLDS: dict[str, float] = {
    "live_heap_bytes_per_request_max": 8.0,
    "live_heap_delta_bytes_floor": 64 * 1024,
    "rss_delta_bytes_max": 8 * MIB,
    "rss_delta_factor": 3.0,
    "peak_rss_growth_bytes_min": 2 * MIB,
    "peak_rss_growth_factor": 2.0,
    "bytes_copied_per_response_increase_max": 1024.0,
    "allocations_per_request_factor": 1.25,
    "allocated_bytes_per_request_factor": 1.25,
    "client_failures_max": 0.0,
    "noise_k": 3.0,
}

EXIT_PASS = 0
EXIT_REGRESSION = 1
EXIT_INVALID = 2


@dataclasses.dataclass
class Check:
    metric: str
    unit: str  # "bytes", "bytes/request", "bytes/response", "count"
    baseline: float | None
    candidate: float | None
    limit: float
    rule: str
    passed: bool

    def _fmt(self, v: float | None) -> str:
        if self.unit == "bytes":
            return format_bytes(v)
        if self.unit == "count":
            return format_number(v)
        return f"{format_number(v, digits=2)} {self.unit}"

    def long_repr(self) -> str:
        verdict = "ok" if self.passed else "REGRESSION"
        return (f"{verdict}: {self.metric} candidate {self._fmt(self.candidate)} vs baseline {self._fmt(self.baseline)}; "
                f"limit {self._fmt(self.limit)} ({self.rule})")


@dataclasses.dataclass
class GateReport:
    checks: list[Check]
    invalid: list[str]
    thresholds: dict[str, float]
    notes: list[str]

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def exit_code(self) -> int:
        if self.invalid:
            return EXIT_INVALID
        return EXIT_REGRESSION if self.failures else EXIT_PASS

    @property
    def verdict(self) -> str:
        return {EXIT_PASS: "PASS", EXIT_REGRESSION: "FAIL", EXIT_INVALID: "INVALID"}[self.exit_code]


def validate(result: dict[str, Any], label: str) -> list[str]:
    problems = []
    if result.get("status") != "ok":
        f = result.get("failure") or {}
        problems.append(f"{label} is a failed measurement ({f.get('kind', 'unknown')}): {f.get('message', 'no message')}")
    elif not isinstance(result.get("metrics"), dict):
        problems.append(f"{label} has no metrics")
    else:
        m = result["metrics"]
        for key in ("requests_completed", "live_heap_delta_bytes", "rss_delta_bytes", "peak_rss_growth_bytes"):
            if not isinstance(m.get(key), (int, float)):
                problems.append(f"{label} lacks metric {key}")
        if not problems and not m["requests_completed"]:
            problems.append(f"{label} completed no requests")
    return problems


def thresholds_for(candidate: dict[str, Any], overrides: dict[str, float] | None = None) -> dict[str, float]:
    t = dict(DEFAULT_THRESHOLDS)
    t.update(((candidate.get("config") or {}).get("thresholds")) or {})
    t.update(overrides or {})
    unknown = set(t) - set(DEFAULT_THRESHOLDS)
    if unknown:
        raise ValueError(f"unknown thresholds: {', '.join(sorted(unknown))}")
    return t


def _noise(baseline: dict[str, Any], candidate: dict[str, Any], metric: str) -> float:
    ranges = [((r.get("noise") or {}).get(metric) or {}).get("range", 0.0) for r in (baseline, candidate)]
    return float(max(ranges))


def _ceiling_exceeded(result: dict[str, Any]) -> dict[str, Any] | None:
    f = result.get("failure") or {}
    return f if result.get("status") != "ok" and f.get("kind") == "memory_ceiling" else None


def evaluate(baseline: dict[str, Any], candidate: dict[str, Any],
             overrides: dict[str, float] | None = None) -> GateReport:
    ceiling = _ceiling_exceeded(candidate)
    invalid = validate(baseline, "baseline") + ([] if ceiling else validate(candidate, "candidate"))
    try:
        t = thresholds_for(candidate, overrides)
    except ValueError as e:
        return GateReport([], invalid + [str(e)], dict(DEFAULT_THRESHOLDS), [])
    if ceiling and not invalid:
        # The server outgrew the scenario's memory ceiling and was stopped: the clearest
        # regression there is, not a measurement that merely went wrong.
        peak = (baseline.get("metrics") or {}).get("peak_rss_bytes")
        return GateReport([Check("peak_rss_bytes", "bytes", peak, ceiling.get("rss_bytes"), ceiling.get("limit_bytes", 0),
                                 "memory_ceiling_mib: the run was stopped at the ceiling", False)],
                          [], t, [ceiling.get("message", "memory ceiling exceeded")])
    notes: list[str] = []
    if invalid:
        return GateReport([], invalid, t, notes)
    b, c = baseline["metrics"], candidate["metrics"]
    k = t["noise_k"]
    bc, cc = baseline.get("config") or {}, candidate.get("config") or {}
    for key in ("protocol", "endpoint", "method"):
        if bc.get(key) != cc.get(key):
            notes.append(f"baseline and candidate differ in {key}: {bc.get(key)!r} vs {cc.get(key)!r}")
    checks: list[Check] = []

    # live heap per request: absolute, a leak is a leak whatever the baseline does. Below
    # the floor, growth is bookkeeping (a run of a few hundred uploads grows by a few
    # hundred bytes, tens of bytes per request).
    noise = _noise(baseline, candidate, "live_heap_bytes_per_request")
    limit = t["live_heap_bytes_per_request_max"] + k * noise
    floor = t["live_heap_delta_bytes_floor"]
    checks.append(Check("live_heap_bytes_per_request", "bytes/request", b.get("live_heap_bytes_per_request"),
                        c["live_heap_bytes_per_request"], limit,
                        f"live_heap_bytes_per_request_max {t['live_heap_bytes_per_request_max']:g} + {k:g} x noise {noise:.2f}, "
                        f"unless live heap grew by at most live_heap_delta_bytes_floor {format_bytes(floor)}",
                        c["live_heap_bytes_per_request"] <= limit or c["live_heap_delta_bytes"] <= floor))

    def growth_check(metric: str, floor_key: str, factor_key: str) -> Check:
        """Growth in bytes: at most max(floor, factor x baseline + k x noise)."""
        noise = _noise(baseline, candidate, metric)
        limit = max(t[floor_key], t[factor_key] * max(b[metric], 0) + k * noise)
        rule = (f"max({floor_key} {format_bytes(t[floor_key])}, "
                f"{t[factor_key]:g} x baseline + {k:g} x noise {format_bytes(noise)})")
        return Check(metric, "bytes", b[metric], c[metric], limit, rule, c[metric] <= limit)

    checks.append(growth_check("rss_delta_bytes", "rss_delta_bytes_max", "rss_delta_factor"))
    checks.append(growth_check("peak_rss_growth_bytes", "peak_rss_growth_bytes_min", "peak_rss_growth_factor"))

    bcopy, ccopy = b.get("bytes_copied_per_response"), c.get("bytes_copied_per_response")
    if bcopy is not None and ccopy is not None:
        limit = bcopy + t["bytes_copied_per_response_increase_max"]
        checks.append(Check("bytes_copied_per_response", "bytes/response", bcopy, ccopy, limit,
                            f"baseline + bytes_copied_per_response_increase_max {t['bytes_copied_per_response_increase_max']:g}",
                            ccopy <= limit))
    else:
        notes.append("bytes_copied_per_response missing: not checked")

    # Allocation churn per request: a regression RSS can hide (jemalloc's retained
    # memory, glibc reusing freed chunks) still costs CPU and fragmentation.
    for metric, factor_key, slack, unit in (
            ("allocations_per_request", "allocations_per_request_factor", 2.0, "count"),
            ("allocated_bytes_per_request", "allocated_bytes_per_request_factor", 4096.0, "bytes/request")):
        if b.get(metric) is None or c.get(metric) is None:
            notes.append(f"{metric} missing: not checked")
            continue
        noise = _noise(baseline, candidate, metric)
        limit = max(t[factor_key] * b[metric], b[metric] + slack) + k * noise
        rule = f"max({factor_key} {t[factor_key]:g} x baseline, baseline + {slack:g}) + {k:g} x noise {noise:.2f}"
        checks.append(Check(metric, unit, b[metric], c[metric], limit, rule, c[metric] <= limit))

    checks.append(Check("client_failures", "count", b.get("client_failures"), c.get("client_failures", 0),
                        t["client_failures_max"], f"client_failures_max {t['client_failures_max']:g}",
                        c.get("client_failures", 0) <= t["client_failures_max"]))
    return GateReport(checks, [], t, notes)
