"""The gate: does a candidate result regress memory against a baseline? PASS, FAIL or UNDECIDED.

Each check compares one metric of **every candidate replicate** with a limit built from the
baseline side only: an absolute maximum or a factor of the baseline's median, a floor, and a
noise allowance of ``noise_k`` x the metric's A/A spread. The spread is the calibration's
``aa_spread`` (analysis/calibration.py) when one is given, else the range (max - min) over the
baseline's replicates, else unknown. The candidate's own spread never widens its limit, and
the candidate's [thresholds] are ignored: the thresholds are the baseline side's config, so a
change cannot loosen the gate that judges it.

The test over replicates is a maximum test: a check fails when any candidate replicate is
over the limit with noise (a leak that shows in one replicate of three fails). False alarms stay
low because that limit sits k = 3 A/A spreads above the baseline (beyond the floors), so a clean
replicate crosses it far more rarely than the 5 % by which a 95th-percentile spread is exceeded
once; the union over n replicates multiplies that rate by at most n. A replicate over the limit
computed without the noise allowance but within it with noise (or a slope whose 95 % interval
reaches below the limit) makes the check UNDECIDED: the evidence is too noisy to tell. From
DECISIVE_REPLICATES candidate replicates on, those are decided by majority: FAIL when most
replicates are over the limit without noise, else PASS. More replicates, bounded in count
and time, are run, until the verdict is PASS or FAIL (analysis/rerun.py).

RSS floors come from the A/A spread too (k x spread, at least RSS_FLOOR_MIN_PAGES pages);
the fixed floors (``rss_delta_bytes_max``, ``peak_rss_growth_bytes_min``) apply only when no
spread is known. The live-heap floor scales with the run's request count.

Which metrics are checked, by which rule, and the thresholds' defaults are the registry's
(analysis/metrics.py, ``gate``); docs/RESULTS.md tables them. A gated metric that either side
lacks is listed in ``not_judged`` with the reason, and the verdict rests on the rest. INVALID is
for a failed measurement, or a pair with nothing left to judge.

(Over 400 lines: the rules, the replicate reading and the verdict share _Sides and _Limit;
apart they would spread one decision over several files.)
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
from typing import Any, Callable

from analysis import fit
from analysis.calibration import Calibration, summary as calibration_summary
from analysis.metrics import (DEFAULT_THRESHOLDS, GATED, LIVE_HEAP_FLOOR_REQUESTS, RSS_FLOOR_MIN_PAGES, SLOPE_MIN_POINTS,
                              Metric)
from analysis.units import format_bytes, format_number

EXIT_PASS = 0
EXIT_REGRESSION = 1
EXIT_INVALID = 2
EXIT_UNDECIDED = 3
PASS, FAIL, UNDECIDED = "pass", "fail", "undecided"
# From this many candidate replicates on, replicates between the limits without and with noise
# are decided by majority (their median against the limit without noise) instead of UNDECIDED.
DECISIVE_REPLICATES = 5
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclasses.dataclass
class Check:
    metric: str
    unit: str  # "bytes", "bytes/request", "bytes/response", "count"
    baseline: float | None
    candidate: float | None  # the worst candidate replicate
    limit: float  # with the noise allowance
    rule: str
    outcome: str  # PASS, FAIL or UNDECIDED
    strict_limit: float | None = None  # without the noise allowance
    replicates: str = ""  # how the replicates fared, when there are several

    @property
    def passed(self) -> bool:
        return self.outcome == PASS

    def _fmt(self, v: float | None) -> str:
        if self.unit == "bytes":
            return format_bytes(v)
        if self.unit == "count":
            return format_number(v)
        return f"{format_number(v, digits=2)} {self.unit}"

    def long_repr(self) -> str:
        verdict = {PASS: "ok", FAIL: "REGRESSION", UNDECIDED: "UNDECIDED"}[self.outcome]
        strict = (f", {self._fmt(self.strict_limit)} without noise"
                  if self.strict_limit is not None and self.strict_limit != self.limit else "")
        return (f"{verdict}: {self.metric} candidate {self._fmt(self.candidate)} vs baseline {self._fmt(self.baseline)}; "
                f"limit {self._fmt(self.limit)}{strict} ({self.rule})" + (f"; {self.replicates}" if self.replicates else ""))


@dataclasses.dataclass
class GateReport:
    checks: list[Check]
    invalid: list[str]
    thresholds: dict[str, float]
    notes: list[str]
    not_judged: list[str] = dataclasses.field(default_factory=list)  # "metric missing from the side: why", also in notes
    replicates: dict[str, int] = dataclasses.field(default_factory=dict)  # ok replicates judged per side
    reruns: int = 0  # candidate replicates decide() added

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.outcome == FAIL]

    @property
    def undecided(self) -> list[Check]:
        return [c for c in self.checks if c.outcome == UNDECIDED]

    @property
    def exit_code(self) -> int:
        if self.invalid:
            return EXIT_INVALID
        if self.failures:
            return EXIT_REGRESSION
        return EXIT_UNDECIDED if self.undecided else EXIT_PASS

    @property
    def verdict(self) -> str:
        return {EXIT_PASS: "PASS", EXIT_REGRESSION: "FAIL", EXIT_INVALID: "INVALID",
                EXIT_UNDECIDED: "UNDECIDED"}[self.exit_code]


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


def _config_thresholds(result: dict[str, Any]) -> dict[str, float]:
    return ((result.get("config") or {}).get("thresholds")) or {}


def thresholds_for(baseline: dict[str, Any], overrides: dict[str, float] | None = None) -> dict[str, float]:
    """The defaults, then the baseline side's [thresholds], then explicit overrides (never the candidate's)."""
    t = dict(DEFAULT_THRESHOLDS)
    t.update(_config_thresholds(baseline))
    t.update(overrides or {})
    unknown = set(t) - set(DEFAULT_THRESHOLDS)
    if unknown:
        raise ValueError(f"unknown thresholds: {', '.join(sorted(unknown))}")
    return t


def _ceiling_exceeded(result: dict[str, Any]) -> dict[str, Any] | None:
    f = result.get("failure") or {}
    return f if result.get("status") != "ok" and f.get("kind") == "memory_ceiling" else None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclasses.dataclass
class _Replicate:
    metrics: dict[str, Any]
    fits: dict[str, fit.Fit | None]  # per slope metric: the in-load fit with its interval


@dataclasses.dataclass
class _Side:
    """One result as the gate reads it: the medians and each ok replicate (the result itself when
    it lists none). Slopes missing from a result that predates them are fitted from its timelines."""
    median: dict[str, Any]
    rows: list[_Replicate]

    @classmethod
    def of(cls, result: dict[str, Any]) -> _Side:
        reps = [r for r in result.get("replicates") or [] if r.get("status") == "ok" and isinstance(r.get("metrics"), dict)]
        slopes = [m for m in GATED if m.gate.kind == "slope"]
        rows = []
        for r in reps:
            fits = {m.name: fit.timeline_fit(r.get("timeline") or [], m.gate.field, SLOPE_MIN_POINTS) for m in slopes}
            metrics = dict(r["metrics"])
            for name, f in fits.items():
                if not _number(metrics.get(name)) and f is not None:
                    metrics[name] = f.slope
            rows.append(_Replicate(metrics, fits))
        median = dict(result["metrics"])
        for m in slopes:
            values = [row.metrics[m.name] for row in rows if _number(row.metrics.get(m.name))]
            if not _number(median.get(m.name)) and values:
                median[m.name] = statistics.median(values)
        return cls(median, rows or [_Replicate(median, {})])

    def values(self, name: str) -> list[float]:
        return [row.metrics[name] for row in self.rows if _number(row.metrics.get(name))]

    def slope_high(self, name: str) -> float:
        """The median over replicates of the slope's 95 % upper end (the slope itself without a fit)."""
        highs = [row.fits[name].high if row.fits.get(name) else row.metrics[name]
                 for row in self.rows if _number(row.metrics.get(name))]
        return statistics.median(highs)


@dataclasses.dataclass
class _Sides:
    baseline: dict[str, Any]
    base: _Side
    cand: _Side
    t: dict[str, float]
    calibration: Calibration | None

    @property
    def k(self) -> float:
        return self.t["noise_k"]

    def b(self, name: str) -> float:
        return self.base.median[name]

    def spread(self, name: str) -> float | None:
        """The metric's A/A spread from the baseline side: calibration, else the baseline's replicates; None:
        unknown (also for a figure that is not finite, which no floor can be made from)."""
        if self.calibration is not None and self.calibration.spread(name) is not None:
            return self.calibration.spread(name)
        stored = ((self.baseline.get("noise") or {}).get(name) or {}).get("range")
        if _number(stored):
            return float(stored) if math.isfinite(stored) else None
        values = self.base.values(name) if len(self.base.rows) >= 2 else []
        spread = max(values) - min(values) if len(values) >= 2 else None
        return spread if spread is not None and math.isfinite(spread) else None

    def noise(self, name: str) -> float:
        return self.spread(name) or 0.0

    def noise_text(self, name: str) -> str:
        return f"{self.k:g} x noise {_fmt(name, self.noise(name))}"


def _fmt(name: str, v: float) -> str:
    return format_bytes(v) if name.endswith("_bytes") else f"{v:.2f}"


@dataclasses.dataclass
class _Limit:
    """A rule's limits for one metric, and how it reads a candidate replicate."""
    full: float  # with the noise allowance
    strict: float  # without it
    rule: str
    forgiven: Callable[[_Replicate], bool] = lambda row: False
    low: Callable[[_Replicate], float] | None = None  # the lower end of the value's interval, for slopes


def evaluate(baseline: dict[str, Any], candidate: dict[str, Any], overrides: dict[str, float] | None = None,
             calibration: Calibration | None = None) -> GateReport:
    ceiling = _ceiling_exceeded(candidate)
    invalid = validate(baseline, "baseline") + ([] if ceiling else validate(candidate, "candidate"))
    try:
        t = thresholds_for(baseline, overrides)
    except ValueError as e:
        return GateReport([], invalid + [str(e)], dict(DEFAULT_THRESHOLDS), [])
    notes: list[str] = []
    ignored = {k: v for k, v in _config_thresholds(candidate).items() if _config_thresholds(baseline).get(k) != v}
    if ignored:
        notes.append("the candidate's [thresholds] are ignored, the baseline side's apply: "
                     + ", ".join(f"{k} = {v:g}" if _number(v) else f"{k} = {v!r}" for k, v in sorted(ignored.items())))
    if ceiling and not invalid:
        # The server outgrew the scenario's memory ceiling and was stopped: the clearest
        # regression there is, not a measurement that merely went wrong.
        peak = (baseline.get("metrics") or {}).get("peak_rss_bytes")
        return GateReport([Check("peak_rss_bytes", "bytes", peak, ceiling.get("rss_bytes"), ceiling.get("limit_bytes", 0),
                                 "memory_ceiling_mib: the run was stopped at the ceiling", FAIL)],
                          [], t, notes + [ceiling.get("message", "memory ceiling exceeded")])
    if invalid:
        return GateReport([], invalid, t, notes)
    bc, cc = baseline.get("config") or {}, candidate.get("config") or {}
    for key in ("protocol", "endpoint", "method"):
        if bc.get(key) != cc.get(key):
            notes.append(f"baseline and candidate differ in {key}: {bc.get(key)!r} vs {cc.get(key)!r}")
    sides = _Sides(baseline, _Side.of(baseline), _Side.of(candidate), t, calibration)
    counts = {"baseline": len(sides.base.rows), "candidate": len(sides.cand.rows)}
    notes.append(_noise_source(sides, counts))
    checks: list[Check] = []
    not_judged: list[str] = []
    for metric in GATED:
        missing = _missing(metric, sides, baseline, candidate)
        if missing:
            not_judged.append(missing)
        else:
            checks.append(_judge(metric, _RULES[metric.gate.kind](metric, sides), sides))
    notes += [f"not judged: {line}" for line in not_judged]
    notes += [f"undecided: {c.metric} is within its limit only thanks to the noise allowance; more replicates "
              f"decide (memgate gate --rerun)" for c in checks if c.outcome == UNDECIDED]
    if not checks:
        return GateReport([], ["nothing to judge: " + "; ".join(not_judged)], t, notes, not_judged, counts)
    return GateReport(checks, [], t, notes, not_judged, counts)


def _noise_source(s: _Sides, counts: dict[str, int]) -> str:
    if s.calibration is not None:
        scenario = (s.baseline.get("scenario") or {}).get("name")
        other = (f"; it calibrated scenario {s.calibration.scenario!r}, the baseline ran {scenario!r}"
                 if scenario and scenario != s.calibration.scenario else "")
        return (f"noise: the calibration's A/A spread ({s.calibration.path}, {s.calibration.pairs} clean pairs{other}); "
                f"judged {counts['candidate']} candidate replicate(s); {calibration_summary(s.calibration)}")
    if counts["baseline"] >= 2:
        return f"noise: the range over the baseline's {counts['baseline']} replicates; judged {counts['candidate']} candidate replicate(s)"
    return ("noise: no A/A spread known (one baseline replicate, no calibration): no noise allowance, "
            "RSS floors at their fixed fallbacks")


def _missing(m: Metric, s: _Sides, baseline: dict[str, Any], candidate: dict[str, Any]) -> str | None:
    """Why a gated metric cannot be judged (a side lacks a figure its rule reads), or None."""
    names = [m.name] + ([m.gate.total] if m.gate.total else [])
    for label, side, result in (("baseline", s.base, baseline), ("candidate", s.cand, candidate)):
        lacking = [n for n in names if not _number(side.median.get(n))]
        if lacking and not (m.gate.kind == "at_most" and label == "baseline"):
            why = (result.get("unjudged_reasons") or {}).get(m.name)
            return f"{', '.join(lacking)} missing from the {label}" + (f": {why}" if why else "")
    return None


def _judge(m: Metric, lim: _Limit, s: _Sides) -> Check:
    """Every candidate replicate against the limits: FAIL when any is over the limit with noise."""
    rows = [row for row in s.cand.rows if _number(row.metrics.get(m.name))]
    outcomes = []
    for row in rows:
        value = row.metrics[m.name]
        low = lim.low(row) if lim.low else value
        if lim.forgiven(row):
            outcomes.append(PASS)
        elif low > lim.full:
            outcomes.append(FAIL)
        else:
            outcomes.append(UNDECIDED if value > lim.strict else PASS)
    worst = FAIL if FAIL in outcomes else (UNDECIDED if UNDECIDED in outcomes else PASS)
    shown = max((row.metrics[m.name] for row, o in zip(rows, outcomes) if o == worst), default=None)
    told = ""
    if len(rows) > 1:
        over = {FAIL: "over the limit", UNDECIDED: "between the limits without and with noise"}.get(worst)
        told = (f"{outcomes.count(worst)} of {len(rows)} candidate replicates {over}, the worst shown" if over
                else f"all {len(rows)} candidate replicates within the limit, the worst shown")
    if worst == UNDECIDED and len(rows) >= DECISIVE_REPLICATES:
        majority = outcomes.count(UNDECIDED) * 2 > len(rows)
        worst = FAIL if majority else PASS
        told += (f"; with {len(rows)} replicates the majority decides: "
                 + ("most are over the limit without noise" if majority else "most are within the limit without noise"))
    baseline = s.base.median.get(m.name)
    return Check(m.name, m.unit, baseline if _number(baseline) else None, shown, lim.full, lim.rule, worst,
                 lim.strict, told)


def live_heap_floor(t: dict[str, float], requests: float) -> tuple[float, str]:
    """The live-heap growth that counts as bookkeeping in a run of `requests`, and how it was made."""
    scale = min(1.0, requests / LIVE_HEAP_FLOOR_REQUESTS)
    floor = max(t["live_heap_delta_bytes_floor_min"], t["live_heap_delta_bytes_floor"] * scale)
    return floor, (f"live_heap_delta_bytes_floor {format_bytes(t['live_heap_delta_bytes_floor'])} at "
                   f"{LIVE_HEAP_FLOOR_REQUESTS:,} requests, scaled to {requests:,.0f}, at least "
                   f"live_heap_delta_bytes_floor_min {format_bytes(t['live_heap_delta_bytes_floor_min'])}")


def _rss_floor(m: Metric, s: _Sides) -> tuple[float, float, str]:
    """(floor with noise, floor without, how): k x the A/A spread in whole pages, at least the page
    minimum; the rule's fixed floor only when no spread is known."""
    floor_key = m.gate.thresholds[0][0]
    spread = s.spread(m.name)
    if spread is None:
        return s.t[floor_key], s.t[floor_key], f"{floor_key} {format_bytes(s.t[floor_key])}: no A/A spread known"
    minimum = RSS_FLOOR_MIN_PAGES * PAGE_BYTES
    pages = s.k * spread / PAGE_BYTES
    floor = max(minimum, math.ceil(pages) * PAGE_BYTES) if math.isfinite(pages) else math.inf
    return floor, minimum, f"{s.k:g} x A/A spread {format_bytes(spread)}, at least {RSS_FLOOR_MIN_PAGES} pages"


def _absolute(m: Metric, s: _Sides) -> _Limit:
    """A limit whatever the baseline does, unless the rule's total grew by no more than a floor."""
    (max_key, _), _, _ = m.gate.thresholds
    top = s.t[max_key]

    def forgiven(row: _Replicate) -> bool:
        return row.metrics[m.gate.total] <= live_heap_floor(s.t, row.metrics["requests_completed"])[0]

    floor, how = live_heap_floor(s.t, s.cand.median["requests_completed"])
    rule = (f"{max_key} {top:g} + {s.noise_text(m.name)}, unless {m.gate.total} grew by at most "
            f"{format_bytes(floor)} ({how})")
    return _Limit(top + s.k * s.noise(m.name), top, rule, forgiven)


def _growth(m: Metric, s: _Sides) -> _Limit:
    """Growth in bytes: at most max(floor, factor x baseline + k x noise)."""
    _, (factor_key, _) = m.gate.thresholds
    floor, strict_floor, how = _rss_floor(m, s)
    scaled = s.t[factor_key] * max(s.b(m.name), 0)
    rule = f"max(floor {format_bytes(floor)} from {how}, {s.t[factor_key]:g} x baseline + {s.noise_text(m.name)})"
    return _Limit(max(floor, scaled + s.k * s.noise(m.name)), max(strict_floor, scaled), rule)


def _slope(m: Metric, s: _Sides) -> _Limit:
    """The in-load slope: at most max(factor x baseline, baseline + max) + k x noise, judged on both
    fits' 95 % intervals (the baseline's upper end, the candidate's lower end), unless the growth it
    stands for over the run is within the floor of the ``floored_by`` check. A run of few requests
    with much in flight (16 uploads of 20 MiB) fits a slope as wide as in-flight memory; the factor
    and the baseline's interval keep such runs from judging their own noise."""
    (max_key, _), (factor_key, _) = m.gate.thresholds
    base = max(s.base.slope_high(m.name), 0)
    strict = max(s.t[factor_key] * base, base + s.t[max_key])
    by = next(g for g in GATED if g.name == m.gate.floored_by)

    def floor(row: _Replicate) -> float:
        if by.gate.kind == "absolute":
            return live_heap_floor(s.t, row.metrics["requests_completed"])[0]
        return _rss_floor(by, s)[0]

    def forgiven(row: _Replicate) -> bool:
        return row.metrics[m.name] * row.metrics["requests_completed"] <= floor(row)

    def low(row: _Replicate) -> float:
        f = row.fits.get(m.name)
        return f.low if f is not None else row.metrics[m.name]

    rule = (f"max({factor_key} {s.t[factor_key]:g} x baseline's upper end {format_number(base, digits=2)}, "
            f"that + {max_key} {s.t[max_key]:g}) + {s.noise_text(m.name)}, on the fit's 95% interval, unless the "
            f"growth over the run is within {by.name}'s floor ({format_bytes(floor(s.cand.rows[0]))})")
    return _Limit(strict + s.k * s.noise(m.name), strict, rule, forgiven, low)


def _increase(m: Metric, s: _Sides) -> _Limit:
    ((key, _),) = m.gate.thresholds
    b = s.b(m.name)
    return _Limit(b + s.t[key] + s.k * s.noise(m.name), b + s.t[key],
                  f"baseline + {key} {s.t[key]:g} + {s.noise_text(m.name)}")


def _churn(m: Metric, s: _Sides) -> _Limit:
    ((factor_key, _),) = m.gate.thresholds
    b, slack = s.b(m.name), m.gate.slack
    strict = max(s.t[factor_key] * b, b + slack)
    return _Limit(strict + s.k * s.noise(m.name), strict,
                  f"max({factor_key} {s.t[factor_key]:g} x baseline, baseline + {slack:g}) + {s.noise_text(m.name)}")


def _at_most(m: Metric, s: _Sides) -> _Limit:
    ((key, _),) = m.gate.thresholds
    return _Limit(s.t[key], s.t[key], f"{key} {s.t[key]:g}")


_RULES: dict[str, Callable[[Metric, _Sides], _Limit]] = {
    "absolute": _absolute, "growth": _growth, "slope": _slope, "increase": _increase, "churn": _churn,
    "at_most": _at_most}
