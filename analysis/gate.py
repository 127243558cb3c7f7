"""The gate: does a candidate result regress memory against a baseline?

Each check compares one metric of the candidate's median (``metrics``) with a limit made
from an absolute floor and, where it makes sense, the baseline times a factor plus a
noise allowance. Noise for a metric is the larger replicate range (max - min) of the two
results (0 without replicates), times ``noise_k``.

Which metrics are checked, by which rule (absolute, growth, increase, churn, at most) and
with which default thresholds is the registry's part (analysis/metrics.py, ``gate``); a
scenario's [thresholds] table overrides any default. docs/RESULTS.md tables them.

A result is judged on what it has: a gated metric that either side lacks (a target measured by
RSS only has no live heap) is listed in ``not_judged`` with the reason, and the verdict rests
on the rest. INVALID is for a failed measurement, or a pair with nothing left to judge.
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
    not_judged: list[str] = dataclasses.field(default_factory=list)  # "metric missing from the side: why", also in notes

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
        if not isinstance(m.get("requests_completed"), (int, float)):
            problems.append(f"{label} lacks metric requests_completed")
        elif not m["requests_completed"]:
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
    not_judged: list[str] = []
    for metric in GATED:
        missing = _missing(metric, baseline, candidate)
        if missing:
            not_judged.append(missing)
        else:
            checks.append(_RULES[metric.gate.kind](metric, sides))
    notes += [f"not judged: {line}" for line in not_judged]
    if not checks:
        return GateReport([], ["nothing to judge: " + "; ".join(not_judged)], t, notes, not_judged)
    return GateReport(checks, [], t, notes, not_judged)


def _missing(m: Metric, baseline: dict[str, Any], candidate: dict[str, Any]) -> str | None:
    """Why a gated metric cannot be judged (a side lacks a figure its rule reads), or None."""
    names = [m.name] + ([m.gate.total] if m.gate.total else [])
    for label, result in (("baseline", baseline), ("candidate", candidate)):
        lacking = [n for n in names if not isinstance(result["metrics"].get(n), (int, float))]
        if lacking and not (m.gate.kind == "at_most" and label == "baseline"):
            why = (result.get("unjudged_reasons") or {}).get(m.name)
            return f"{', '.join(lacking)} missing from the {label}" + (f": {why}" if why else "")
    return None


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


def _increase(m: Metric, s: _Sides) -> Check:
    ((key, _),) = m.gate.thresholds
    b, c = s.b[m.name], s.c[m.name]
    limit = b + s.t[key]
    return Check(m.name, m.unit, b, c, limit, f"baseline + {key} {s.t[key]:g}", c <= limit)


def _churn(m: Metric, s: _Sides) -> Check:
    ((factor_key, _),) = m.gate.thresholds
    b, c = s.b[m.name], s.c[m.name]
    k, noise, slack = s.t["noise_k"], s.noise(m.name), m.gate.slack
    limit = max(s.t[factor_key] * b, b + slack) + k * noise
    rule = f"max({factor_key} {s.t[factor_key]:g} x baseline, baseline + {slack:g}) + {k:g} x noise {noise:.2f}"
    return Check(m.name, m.unit, b, c, limit, rule, c <= limit)


def _at_most(m: Metric, s: _Sides) -> Check:
    ((key, _),) = m.gate.thresholds
    c = s.c.get(m.name, 0)
    return Check(m.name, m.unit, s.b.get(m.name), c, s.t[key], f"{key} {s.t[key]:g}", c <= s.t[key])


_RULES: dict[str, Callable[[Metric, _Sides], Check]] = {
    "absolute": _absolute, "growth": _growth, "increase": _increase, "churn": _churn, "at_most": _at_most}
