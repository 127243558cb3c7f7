"""A scenario's calibration: its measured A/A spread, false alarms and smallest caught regression.

`memgate calibrate SCENARIO` writes it as JSON beside the scenario's baseline (beside());
the gate reads each metric's ``aa_spread`` as its noise. The format ("memgate.calibration/1")
is described in docs/RESULTS.md. load() refuses a damaged file with a CalibrationError that
names the file and the field, so a gate never runs on figures it misread.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from pathlib import Path
from typing import Any

from analysis.metrics import BY_NAME

SCHEMA = "memgate.calibration/1"
INJECTIONS = ("malloc_per_request", "new_per_request", "malloc_per_connection", "new_per_connection", "copy")
SUFFIX = ".calibration.json"


class CalibrationError(ValueError):
    """A calibration file that cannot be used: names the file, the field and the reason."""

    def __init__(self, path: str | Path, field: str | None, reason: str):
        self.path = str(path)
        self.field = field
        self.reason = reason
        where = f"{path}: field '{field}'" if field else str(path)
        super().__init__(f"{where}: {reason}")


@dataclasses.dataclass(frozen=True)
class LadderStep:
    injection: str
    multiple: float  # of the metric's threshold
    size: float
    unit: str
    runs: int
    caught: int


@dataclasses.dataclass(frozen=True)
class SmallestCaught:
    injection: str
    size: float
    unit: str
    catch_rate: float


@dataclasses.dataclass(frozen=True)
class MetricCalibration:
    name: str
    unit: str
    aa_differences: tuple[float, ...]  # candidate - baseline, one per clean pair
    aa_spread: float  # 95th percentile of |aa_differences|: the gate's noise for this metric
    false_alarms: int
    minimum_detectable: float
    ladder: tuple[LadderStep, ...]
    smallest_caught: SmallestCaught | None


@dataclasses.dataclass(frozen=True)
class Calibration:
    path: str
    scenario: str
    case: str | None
    created: str
    machine: dict[str, Any]
    commit: str | None
    target: dict[str, Any]
    pairs: int
    metrics: dict[str, MetricCalibration]

    def spread(self, metric: str) -> float | None:
        """The metric's A/A spread, or None when this calibration did not measure it."""
        m = self.metrics.get(metric)
        return None if m is None else m.aa_spread


def aa_spread(differences: list[float]) -> float:
    """95th percentile of |differences| by nearest rank (0 for none): what the writer stores as aa_spread."""
    if not differences:
        return 0.0
    ordered = sorted(abs(d) for d in differences)
    return float(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)])


def beside(baseline_path: str | Path, case: str | None = None) -> Path:
    """Where the calibration of a baseline lives: ``<file without .json>.calibration.json``, or for a
    matrix baseline directory ``<dir>/<case>.calibration.json``."""
    p = Path(baseline_path)
    if p.is_dir():
        if not case:
            raise ValueError(f"{p} is a baseline directory: the calibration of which case?")
        return p / f"{case}{SUFFIX}"
    return p.with_name((p.name[:-len(".json")] if p.name.endswith(".json") else p.name) + SUFFIX)


def load(path: str | Path) -> Calibration:
    """Read and validate one calibration file; CalibrationError names the file and the field at fault."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise CalibrationError(path, None, f"cannot read: {e.strerror or e}") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CalibrationError(path, None, f"not JSON: {e}") from e
    return parse(data, str(path))


def parse(data: Any, path: str) -> Calibration:
    """Validate an already-decoded calibration; ``path`` names it in errors."""
    r = _Reader(path)
    if not isinstance(data, dict):
        raise CalibrationError(path, None, "not a JSON object")
    if data.get("schema") != SCHEMA:
        raise CalibrationError(path, "schema", f"expected {SCHEMA!r}, found {data.get('schema')!r}")
    created = r.string(data, "created")
    try:
        datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        raise CalibrationError(path, "created", f"not an ISO 8601 time: {created!r}") from None
    pairs = r.count(data, "pairs", minimum=1)
    metrics = r.field(data, "metrics", dict)
    return Calibration(
        path=path, scenario=r.string(data, "scenario"), case=r.string(data, "case", optional=True), created=created,
        machine=r.field(data, "machine", dict), commit=r.string(data, "commit", optional=True),
        target=r.field(data, "target", dict), pairs=pairs,
        metrics={name: _metric(r, name, entry, pairs) for name, entry in metrics.items()})


def _metric(r: _Reader, name: str, entry: Any, pairs: int) -> MetricCalibration:
    at = f"metrics.{name}"
    if name not in BY_NAME:
        raise CalibrationError(r.path, at, "not a metric memgate knows (analysis/metrics.py)")
    if not isinstance(entry, dict):
        raise CalibrationError(r.path, at, "expected an object")
    differences = r.field(entry, "aa_differences", list, at)
    for i, d in enumerate(differences):
        r.number_value(d, f"{at}.aa_differences[{i}]")
    if len(differences) != pairs:
        raise CalibrationError(r.path, f"{at}.aa_differences", f"{len(differences)} differences for {pairs} pairs")
    ladder = r.field(entry, "ladder", list, at)
    smallest = entry.get("smallest_caught", ...)
    if smallest is ...:
        raise CalibrationError(r.path, f"{at}.smallest_caught", "missing (null when nothing was caught)")
    return MetricCalibration(
        name=name, unit=r.string(entry, "unit", at=at), aa_differences=tuple(float(d) for d in differences),
        aa_spread=r.number(entry, "aa_spread", at), false_alarms=r.count(entry, "false_alarms", at, maximum=pairs),
        minimum_detectable=r.number(entry, "minimum_detectable", at),
        ladder=tuple(_step(r, step, f"{at}.ladder[{i}]") for i, step in enumerate(ladder)),
        smallest_caught=None if smallest is None else _smallest(r, smallest, f"{at}.smallest_caught"))


def _step(r: _Reader, step: Any, at: str) -> LadderStep:
    if not isinstance(step, dict):
        raise CalibrationError(r.path, at, "expected an object")
    runs = r.count(step, "runs", at, minimum=1)
    multiple = r.number(step, "multiple", at)
    if multiple == 0:
        raise CalibrationError(r.path, f"{at}.multiple", "must be above 0")
    return LadderStep(injection=r.injection(step, at), multiple=multiple, size=r.number(step, "size", at),
                      unit=r.string(step, "unit", at=at), runs=runs, caught=r.count(step, "caught", at, maximum=runs))


def _smallest(r: _Reader, entry: Any, at: str) -> SmallestCaught:
    if not isinstance(entry, dict):
        raise CalibrationError(r.path, at, "expected an object or null")
    rate = r.number(entry, "catch_rate", at)
    if rate > 1:
        raise CalibrationError(r.path, f"{at}.catch_rate", f"{rate:g} is not a rate between 0 and 1")
    return SmallestCaught(injection=r.injection(entry, at), size=r.number(entry, "size", at),
                          unit=r.string(entry, "unit", at=at), catch_rate=rate)


class _Reader:
    """Typed field access whose errors carry the file and the dotted field name."""

    def __init__(self, path: str):
        self.path = path

    def field(self, d: dict[str, Any], key: str, kind: type, at: str | None = None) -> Any:
        name = f"{at}.{key}" if at else key
        if key not in d:
            raise CalibrationError(self.path, name, "missing")
        if not isinstance(d[key], kind):
            raise CalibrationError(self.path, name, f"expected {'an object' if kind is dict else 'a list'}, "
                                                    f"found {type(d[key]).__name__}")
        return d[key]

    def string(self, d: dict[str, Any], key: str, *, at: str | None = None, optional: bool = False) -> Any:
        name = f"{at}.{key}" if at else key
        if key not in d:
            raise CalibrationError(self.path, name, "missing" + (" (null when unknown)" if optional else ""))
        v = d[key]
        if (v is None and optional) or (isinstance(v, str) and v):
            return v
        raise CalibrationError(self.path, name, f"expected a non-empty string{' or null' if optional else ''}, found {v!r}")

    def number_value(self, v: Any, name: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise CalibrationError(self.path, name, f"expected a finite number, found {v!r}")
        return float(v)

    def number(self, d: dict[str, Any], key: str, at: str) -> float:
        name = f"{at}.{key}"
        if key not in d:
            raise CalibrationError(self.path, name, "missing")
        v = self.number_value(d[key], name)
        if v < 0:
            raise CalibrationError(self.path, name, f"{v:g} is negative")
        return v

    def count(self, d: dict[str, Any], key: str, at: str | None = None, *, minimum: int = 0,
              maximum: int | None = None) -> int:
        name = f"{at}.{key}" if at else key
        v = d.get(key)
        if isinstance(v, bool) or not isinstance(v, int):
            raise CalibrationError(self.path, name, f"expected a whole number, found {v!r}")
        if v < minimum or (maximum is not None and v > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise CalibrationError(self.path, name, f"{v} is not {bound}")
        return v

    def injection(self, d: dict[str, Any], at: str) -> str:
        v = d.get("injection")
        if v not in INJECTIONS:
            raise CalibrationError(self.path, f"{at}.injection", f"{v!r} is not one of {', '.join(INJECTIONS)}")
        return v


_UNIT_SHORT = {"bytes/request": "B/request", "bytes/connection": "B/connection", "bytes/response": "B/response"}
_HOW = {"malloc_per_request": "malloc", "new_per_request": "operator new", "malloc_per_connection": "malloc",
        "new_per_connection": "operator new", "copy": "copy"}


def summary(cal: Calibration) -> str:
    """One sentence: the measured false-alarm rate (the worst gated metric), and the smallest leak and copy caught
    in >= 95 % of runs, or the minimum detectable effect when nothing could be injected."""
    metrics = cal.metrics
    worst = max(metrics.values(), key=lambda m: m.false_alarms, default=None)
    alarms = worst.false_alarms if worst else 0
    parts = [f"this gate's measured false-alarm rate: {alarms}/{cal.pairs}" + (f" ({worst.name})" if alarms else "")]
    caught = [m.smallest_caught for m in metrics.values() if m.smallest_caught]
    for label, is_leak in (("leak", True), ("copy", False)):
        picks = [c for c in caught if (c.injection != "copy") == is_leak]
        if picks:
            c = min(picks, key=lambda c: (c.unit != "bytes/request", c.size))
            parts.append(f"smallest {label} caught: {c.size:g} {_UNIT_SHORT.get(c.unit, c.unit)} ({_HOW[c.injection]})")
    if not any(m.ladder for m in metrics.values()):
        shown = next((m for m in metrics.values() if m.unit != "count"), None)
        if shown is not None:
            parts.append(f"minimum detectable {shown.name}: {shown.minimum_detectable:.3g} {shown.unit}")
    return "; ".join(parts)
