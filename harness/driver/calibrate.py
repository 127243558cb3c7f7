"""memgate calibrate: the gate's measured false-alarm rate and power on one scenario.

Clean A/A pairs first, run in A B A B order, each side one run of the scenario: the gate judges
every pair, and a failure on a metric is a false alarm. Then a ladder of injected regressions
(refserver's --inject-leak*, --inject-leak-via and --inject-copy), each sized as a multiple of the
threshold the gate applies to this scenario's request count, every run gated against a clean A
side: a failure on a metric the injection shows in is a catch. Per metric the file holds the A/A
differences and spread, the false alarms, the minimum detectable effect (noise_k x spread) and the
smallest injection caught in at least 95 % of its runs. A target memgate cannot inject into
(command, attach) gets the A/A part only. The schema is docs/RESULTS.md's calibration file.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import time
from typing import Any, Callable

from analysis import calibration, gate
from analysis.metrics import BY_NAME
from analysis.render.table import render_rows
from analysis.units import format_bytes, format_number
from harness.driver.interrupt import Interrupted
from harness.driver.machine import commit_info, machine_info
from harness.driver.runner import run_scenario
from harness.driver.scenario import Scenario
from harness.results import atomic

DEFAULT_MULTIPLES = (0.25, 0.5, 1.0, 2.0, 4.0)
CATCH_RATE = 0.95  # a step counts as caught from this share of its runs up
MAX_PAIRS = 500
MAX_LADDER_RUNS = 100


@dataclasses.dataclass(frozen=True)
class Injection:
    name: str
    unit: str
    flags: tuple[str, ...]  # the size is appended to the first

    def server_args(self, size: int) -> list[str]:
        return [f"{self.flags[0]}={size}", *self.flags[1:]]

    @property
    def is_leak(self) -> bool:
        return self.name != "copy"


INJECTIONS = (
    Injection("malloc_per_request", "bytes/request", ("--inject-leak", "--inject-leak-via=malloc")),
    Injection("new_per_request", "bytes/request", ("--inject-leak", "--inject-leak-via=new")),
    Injection("malloc_per_connection", "bytes/connection", ("--inject-leak-per-connection", "--inject-leak-via=malloc")),
    Injection("new_per_connection", "bytes/connection", ("--inject-leak-per-connection", "--inject-leak-via=new")),
    Injection("copy", "bytes/response", ("--inject-copy",)),
)


def shows_in(injection: Injection, metric: str) -> bool:
    """Whether a gated metric is one an injection is meant to move: a leak held heap and RSS, a copy bytes copied."""
    if injection.is_leak:
        return "heap" in metric or "rss" in metric
    return "copied" in metric


def connections_opened(config: dict[str, Any]) -> int:
    """Client connections a measured run opens and closes: once each, or again every requests_per_connection."""
    per = config["requests_per_connection"]
    return max(config["connections"], math.ceil(config["requests"] / per)) if per else config["connections"]


def leak_threshold_per_request(config: dict[str, Any], thresholds: dict[str, float]) -> float:
    """The smallest per-request live-heap growth the gate fails: the bound, or the floor spread over the requests."""
    return max(thresholds["live_heap_bytes_per_request_max"], gate.live_heap_floor(thresholds, config["requests"])[0] / config["requests"])


def threshold_for(injection: Injection, config: dict[str, Any], thresholds: dict[str, float]) -> float:
    """The injection's size at 1x: what the gate lets through at most, in the injection's own unit."""
    if not injection.is_leak:
        return thresholds["bytes_copied_per_response_increase_max"]
    per_request = leak_threshold_per_request(config, thresholds)
    if injection.unit == "bytes/request":
        return per_request
    return per_request * config["requests"] / connections_opened(config)


def ladder_plan(config: dict[str, Any], thresholds: dict[str, float],
                multiples: tuple[float, ...]) -> list[tuple[Injection, float, int]]:
    """(injection, multiple, size) for every step; nothing for a target memgate does not start as refserver."""
    if config["target"]["kind"] != "refserver":
        return []
    return [(inj, mult, max(1, round(mult * threshold_for(inj, config, thresholds))))
            for inj in INJECTIONS for mult in multiples]


def injected(clean: Scenario, injection: Injection, size: int) -> Scenario:
    config = {**clean.config, "name": f"{clean.name}.{injection.name}-{size}",
              "server_args": [*clean.config["server_args"], *injection.server_args(size)]}
    return Scenario(config=config, source=f"{clean.source} [calibrate {injection.name} {size}]", path=clean.path)


@dataclasses.dataclass
class Calibration:
    """What the runs have shown so far; to_json() is the calibration file at any point."""
    scenario: Scenario
    thresholds: dict[str, float]
    clean: list[tuple[dict[str, Any], dict[str, Any]]] = dataclasses.field(default_factory=list)  # (A, B) results
    pair_failures: list[set[str]] = dataclasses.field(default_factory=list)  # metrics the gate failed, per pair
    ladder: dict[tuple[str, float], dict[str, Any]] = dataclasses.field(default_factory=dict)  # (injection, multiple)
    metrics: list[str] = dataclasses.field(default_factory=list)  # the gated metrics the gate judged
    skipped: list[str] = dataclasses.field(default_factory=list)  # runs that could not be measured, and why
    stopped: str | None = None  # why it ended early (time budget, interrupt)
    interrupted: Interrupted | None = None  # the signal that stopped it
    ladder_runs_gated: int = 0  # ladder runs take the clean pairs' A sides in turn as their baseline

    def add_pair(self, a: dict[str, Any], b: dict[str, Any]) -> None:
        report = gate.evaluate(a, b)
        if report.invalid:
            self.skipped.append("clean pair: " + "; ".join(report.invalid))
            return
        if not self.metrics:
            self.metrics = [c.metric for c in report.checks]
        self.clean.append((a, b))
        self.pair_failures.append({c.metric for c in report.failures})

    def add_step_run(self, injection: Injection, multiple: float, size: int, result: dict[str, Any]) -> None:
        baseline = self.clean[self.ladder_runs_gated % len(self.clean)][0]
        self.ladder_runs_gated += 1
        report = gate.evaluate(baseline, result)
        if report.invalid:
            self.skipped.append(f"{injection.name} {size}: " + "; ".join(report.invalid))
            return
        step = self.ladder.setdefault((injection.name, multiple), {"injection": injection, "size": size,
                                                                   "caught": {}, "judged": {}})
        failed = {c.metric for c in report.failures}
        for check in report.checks:
            step["judged"][check.metric] = step["judged"].get(check.metric, 0) + 1
            step["caught"][check.metric] = step["caught"].get(check.metric, 0) + (check.metric in failed)

    def _metric_block(self, name: str) -> dict[str, Any]:
        differences = [float(b["metrics"][name]) - float(a["metrics"][name]) for a, b in self.clean
                       if isinstance(a["metrics"].get(name), (int, float)) and isinstance(b["metrics"].get(name), (int, float))]
        spread = calibration.aa_spread(differences)
        ladder = [{"injection": s["injection"].name, "multiple": multiple, "size": s["size"], "unit": s["injection"].unit,
                   "runs": s["judged"][name], "caught": s["caught"][name]}
                  for (_, multiple), s in self.ladder.items()
                  if name in s["judged"] and shows_in(s["injection"], name)]
        caught = [step for step in ladder if step["caught"] >= CATCH_RATE * step["runs"]]
        order = [inj.name for inj in INJECTIONS]
        smallest = min(caught, key=lambda s: (s["multiple"], order.index(s["injection"])), default=None)
        return {
            "unit": BY_NAME[name].unit,
            "aa_differences": differences,
            "aa_spread": spread,
            "false_alarms": sum(name in failed for failed in self.pair_failures),
            "minimum_detectable": self.thresholds["noise_k"] * spread,
            "ladder": ladder,
            "smallest_caught": None if smallest is None else {
                "injection": smallest["injection"], "size": smallest["size"], "unit": smallest["unit"],
                "catch_rate": smallest["caught"] / smallest["runs"]},
        }

    def to_json(self) -> dict[str, Any]:
        config = self.scenario.config
        return {
            "schema": calibration.SCHEMA,
            "scenario": config["name"],
            "case": None,  # a plain scenario file: scenario.load refuses a [matrix] one
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine_info(),
            "commit": commit_info()["id"],
            "target": config["target"],
            "pairs": len(self.clean),
            "metrics": {name: self._metric_block(name) for name in self.metrics},
        }


def calibrate(scenario: Scenario, *, pairs: int, ladder_runs: int, multiples: tuple[float, ...], budget_s: float,
              progress: Callable[[str], None] = lambda _: None) -> Calibration:
    """Runs the pairs, then the ladder, within budget_s; SIGINT, SIGTERM or SIGHUP (interrupt.py) ends it with what it has."""
    started = time.monotonic()
    cal = Calibration(scenario, gate.thresholds_for({"config": scenario.config}))
    plan = ladder_plan(scenario.config, cal.thresholds, multiples)
    durations: list[float] = []

    def timed(sc: Scenario, what: str) -> dict[str, Any] | None:
        if durations and time.monotonic() - started + max(durations) > budget_s:
            cal.stopped = f"the time budget of {budget_s:g} s would be exceeded by the next run"
            return None
        progress(what)
        t0 = time.monotonic()
        result = run_scenario(sc)  # a failed measurement is refused by the gate, and listed in skipped there
        durations.append(time.monotonic() - t0)
        return result

    try:
        for i in range(pairs):
            a = timed(scenario, f"clean pair {i + 1}/{pairs}: A ...")
            b = timed(scenario, f"clean pair {i + 1}/{pairs}: B ...") if a is not None else None
            if b is None:
                return cal
            cal.add_pair(a, b)
        if not cal.clean:
            cal.stopped = "no clean pair could be measured"
            return cal
        for r in range(ladder_runs):  # every step once per round, so a drift over time spreads over all steps
            for injection, multiple, size in plan:
                result = timed(injected(scenario, injection, size),
                               f"ladder round {r + 1}/{ladder_runs}: {injection.name} {size} {injection.unit} ({multiple:g}x) ...")
                if result is None:
                    return cal
                cal.add_step_run(injection, multiple, size, result)
    except Interrupted as e:  # what was measured is kept; the command exits 128 + the signal
        cal.stopped = "interrupted"
        cal.interrupted = e
    return cal


def write(cal: Calibration, path: str) -> dict[str, Any]:
    data = cal.to_json()
    atomic.write_json(path, data)
    return data


def _amount(value: float, unit: str) -> str:
    return format_bytes(value, digits=2) if unit == "bytes" else f"{format_number(value, digits=2)} {unit}"


def render(data: dict[str, Any]) -> str:
    """The calibration as a table: one row per gated metric."""
    rows = []
    for name, m in data["metrics"].items():
        smallest = m["smallest_caught"]
        rows.append({"metric": name, "false_alarms": f"{m['false_alarms']}/{data['pairs']}",
                     "spread": _amount(m["aa_spread"], m["unit"]), "mde": _amount(m["minimum_detectable"], m["unit"]),
                     "steps": str(len(m["ladder"])),
                     "smallest": "none" if smallest is None else
                     f"{smallest['size']} {smallest['unit']} ({smallest['injection']}, {smallest['catch_rate']:.0%})"})
    columns = [("metric", "Metric", "text"), ("false_alarms", "False alarms", "text"), ("spread", "A/A spread", "text"),
               ("mde", "Min. detectable", "text"), ("steps", "Ladder steps", "text"),
               ("smallest", "Smallest caught (>= 95 %)", "text")]
    return render_rows(columns, rows)
