"""The gate: does a candidate result regress memory against a baseline?

Each check compares one metric of the candidate's median (``metrics``) with a limit made
from an absolute floor and, where it makes sense, the baseline times a factor plus a
noise allowance. Noise for a metric is the larger replicate range (max - min) of the two
results (0 without replicates), times ``noise_k``.

Which metrics are checked, by which rule (absolute, growth, increase, churn, at most) and
with which default thresholds is the registry's part (analysis/metrics.py, ``gate``); a
scenario's [thresholds] table overrides any default. docs/RESULTS.md tables them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from analysis.metrics import DEFAULT_THRESHOLDS, GATED, Metric
from analysis.units import format_bytes, format_number

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
        for key in _required_metrics():
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
    bc, cc = baseline.get("config") or {}, candidate.get("config") or {}
    for key in ("protocol", "endpoint", "method"):
        if bc.get(key) != cc.get(key):
            notes.append(f"baseline and candidate differ in {key}: {bc.get(key)!r} vs {cc.get(key)!r}")
    sides = _Sides(baseline, candidate, b, c, t)
    checks: list[Check] = []
    for metric in GATED:
        check = _RULES[metric.gate.kind](metric, sides)
        if check is None:
            notes.append(f"{metric.name} missing: not checked")
        else:
            checks.append(check)
    return GateReport(checks, [], t, notes)


@dataclasses.dataclass
class _Sides:
    baseline: dict[str, Any]
    candidate: dict[str, Any]
    b: dict[str, Any]  # the baseline's metrics
    c: dict[str, Any]  # the candidate's metrics
    t: dict[str, float]

    def noise(self, metric: str) -> float:
        return _noise(self.baseline, self.candidate, metric)


def _absolute(m: Metric, s: _Sides) -> Check:
    """A limit whatever the baseline does, unless the rule's total grew by no more than a floor."""
    (max_key, _), (floor_key, _) = m.gate.thresholds
    k, noise, floor = s.t["noise_k"], s.noise(m.name), s.t[floor_key]
    limit = s.t[max_key] + k * noise
    rule = (f"{max_key} {s.t[max_key]:g} + {k:g} x noise {noise:.2f}, "
            f"unless {m.gate.total} grew by at most {floor_key} {format_bytes(floor)}")
    return Check(m.name, m.unit, s.b.get(m.name), s.c[m.name], limit, rule,
                 s.c[m.name] <= limit or s.c[m.gate.total] <= floor)


def _growth(m: Metric, s: _Sides) -> Check:
    """Growth in bytes: at most max(floor, factor x baseline + k x noise)."""
    (floor_key, _), (factor_key, _) = m.gate.thresholds
    k, noise, b, c = s.t["noise_k"], s.noise(m.name), s.b[m.name], s.c[m.name]
    limit = max(s.t[floor_key], s.t[factor_key] * max(b, 0) + k * noise)
    rule = (f"max({floor_key} {format_bytes(s.t[floor_key])}, "
            f"{s.t[factor_key]:g} x baseline + {k:g} x noise {format_bytes(noise)})")
    return Check(m.name, m.unit, b, c, limit, rule, c <= limit)


def _increase(m: Metric, s: _Sides) -> Check | None:
    ((key, _),) = m.gate.thresholds
    b, c = s.b.get(m.name), s.c.get(m.name)
    if b is None or c is None:
        return None
    limit = b + s.t[key]
    return Check(m.name, m.unit, b, c, limit, f"baseline + {key} {s.t[key]:g}", c <= limit)


def _churn(m: Metric, s: _Sides) -> Check | None:
    ((factor_key, _),) = m.gate.thresholds
    b, c = s.b.get(m.name), s.c.get(m.name)
    if b is None or c is None:
        return None
    k, noise, slack = s.t["noise_k"], s.noise(m.name), m.gate.slack
    limit = max(s.t[factor_key] * b, b + slack) + k * noise
    rule = f"max({factor_key} {s.t[factor_key]:g} x baseline, baseline + {slack:g}) + {k:g} x noise {noise:.2f}"
    return Check(m.name, m.unit, b, c, limit, rule, c <= limit)


def _at_most(m: Metric, s: _Sides) -> Check:
    ((key, _),) = m.gate.thresholds
    c = s.c.get(m.name, 0)
    return Check(m.name, m.unit, s.b.get(m.name), c, s.t[key], f"{key} {s.t[key]:g}", c <= s.t[key])


_RULES: dict[str, Callable[[Metric, _Sides], Check | None]] = {
    "absolute": _absolute, "growth": _growth, "increase": _increase, "churn": _churn, "at_most": _at_most}
# Rules that read their metrics whatever they hold; the others note a missing one and skip it.
_RULES_THAT_NEED_THEIR_METRICS = ("absolute", "growth")


def _required_metrics() -> list[str]:
    """What a result must hold to be gated: a request count, and every metric a rule reads unconditionally."""
    names = ["requests_completed"]
    for m in GATED:
        if m.gate.kind in _RULES_THAT_NEED_THEIR_METRICS:
            names += [n for n in (m.gate.total, m.name) if n and n not in names]
    return names
