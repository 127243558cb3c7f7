"""memgate twin: prove the gate catches a scenario's failure mode.

Each failure-mode scenario names its bad twin (``bad_twin``: the keys, usually server
flags, that bring the failure back), optionally a near twin (``near_twin``: the failure at
about 2x the gate's threshold, through plain malloc) and the metric the family is about
(``twin_metric``). A twin check runs the clean scenario twice and each twin once, then gates
them against the first clean run: the clean rerun must PASS (no false alarm) and each twin
must FAIL on the family's own metric (a FAIL on another metric proves nothing about this
family). Every result is written to the output directory as it finishes, with twin.json beside them.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from analysis import diff, gate
from analysis.render.table import render_rows
from harness.driver.interrupt import Interrupted
from harness.driver.runner import run_scenario
from harness.driver.scenario import TWIN_TABLES, Scenario, bad_twin
from harness.results import atomic

EXIT_AS_EXPECTED = 0
EXIT_UNEXPECTED = 1  # a bad twin the gate let through, or a clean rerun it failed
EXIT_FAILED = 2      # a clean run that could not be measured

SUMMARY = "twin.json"

FIGURES = ["peak_rss_growth", "rss_delta", "live_heap_delta", "throughput"]  # metric columns (analysis/diff.py)
COLUMNS = [
    ("case", "Case", "text"),
    ("run", "Run", "text"),
    ("expected", "Expected", "text"),
    ("verdict", "Gate", "text"),
    *diff.columns(FIGURES[:3]),
    ("per_connection", "Peak \u0394/conn", "bytes"),
    *diff.columns(FIGURES[3:]),
    ("outcome", "Outcome", "text"),
]


def _figures(result: dict[str, Any]) -> dict[str, Any]:
    m = result.get("metrics") or {}
    failure = result.get("failure") or {}
    return {
        **diff.side(result, FIGURES),
        "per_connection": m.get("rss_per_held_connection_bytes") or m.get("peak_rss_growth_per_connection_bytes"),
        "failure": f"{failure.get('kind')}: {failure.get('message')}" if failure else None,
    }


# A run stopped at its memory ceiling fails one check, on peak RSS itself: the peak-growth families' failure.
CEILING_CHECK = {"peak_rss_bytes": "peak_rss_growth_bytes"}


def as_expected(report: gate.GateReport, expected: str, metric: str) -> bool:
    """A clean rerun must PASS; a twin must FAIL on the family's metric."""
    if expected == "PASS":
        return report.verdict == "PASS"
    return report.verdict == "FAIL" and metric in {CEILING_CHECK.get(c.metric, c.metric) for c in report.failures}


def _reasons(report: gate.GateReport, ok: bool, metric: str) -> list[str]:
    failed = [c.metric for c in report.failures]
    wrong_metric = [f"failed on {', '.join(failed)}, not on the family's metric {metric}"] if failed and not ok else []
    return wrong_metric + [c.long_repr() for c in report.failures] + report.invalid


def check_case(clean: Scenario, outdir: str, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Runs clean, clean again and each twin; returns the case's rows and verdicts."""
    twins = [(table.replace("_", "-"), bad_twin(clean, table=table)) for table in TWIN_TABLES if clean.config[table]]
    runs = [("clean", clean), ("clean-rerun", clean), *twins]
    paths = {run: os.path.join(outdir, f"{clean.name}.{run}.json") for run, _ in runs}
    results: dict[str, dict[str, Any]] = {}
    for run, sc in runs:
        progress(f"{clean.name}: {run} ...")
        try:
            results[run] = run_scenario(sc)
        except Interrupted as e:  # the run stopped midway: its result still says how far it got
            if e.result is not None:
                atomic.write_json(paths[run], e.result)
            raise
        atomic.write_json(paths[run], results[run])
        if run == "clean" and results[run]["status"] != "ok":
            break  # no baseline: nothing to gate against
    baseline = results["clean"]
    metric = clean.config["twin_metric"]
    case: dict[str, Any] = {"case": clean.name, "bad_twin": clean.config["bad_twin"], "near_twin": clean.config["near_twin"],
                            "twin_metric": metric, "files": paths, "rows": []}
    case["rows"].append({"case": clean.name, "run": "clean", "expected": "baseline",
                         "verdict": "ok" if baseline["status"] == "ok" else "INVALID",
                         "outcome": "ok" if baseline["status"] == "ok" else "FAILED",
                         **_figures(baseline)})
    if baseline["status"] != "ok":
        case["outcome"] = "failed"
        return case
    unexpected = False
    for run, expected in (("clean-rerun", "PASS"), *((name, "FAIL") for name, _ in twins)):
        report = gate.evaluate(baseline, results[run])
        ok = as_expected(report, expected, metric)
        unexpected |= not ok
        case["rows"].append({"case": "", "run": run, "expected": expected if expected == "PASS" else f"FAIL {metric}",
                             "verdict": report.verdict,
                             "outcome": "as expected" if ok else "UNEXPECTED",
                             "reasons": _reasons(report, ok, metric),
                             **_figures(results[run])})
    case["outcome"] = "unexpected" if unexpected else "as_expected"
    return case


def run_twins(cases: list[Scenario], outdir: str, progress: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    os.makedirs(outdir, exist_ok=True)
    summary: dict[str, Any] = {"tool": "memgate", "kind": "twin", "cases": []}
    for sc in cases:
        summary["cases"].append(check_case(sc, outdir, progress))
        atomic.write_json(os.path.join(outdir, SUMMARY), summary)  # what is measured stays, also if stopped
    outcomes = {c["outcome"] for c in summary["cases"]}
    summary["exit_code"] = (EXIT_FAILED if "failed" in outcomes else
                            EXIT_UNEXPECTED if "unexpected" in outcomes else EXIT_AS_EXPECTED)
    atomic.write_json(os.path.join(outdir, SUMMARY), summary)
    return summary


def render(summary: dict[str, Any]) -> str:
    rows = [row for case in summary["cases"] for row in case["rows"]]
    lines = [render_rows(COLUMNS, rows)]
    for row in rows:
        if row.get("outcome") in ("UNEXPECTED", "FAILED"):
            why = row.get("failure") or "; ".join(row.get("reasons") or []) or "the gate passed it"
            lines.append(f"  {row['run']} of {row['case'] or 'the case above'}: {why}")
    verdict = {EXIT_AS_EXPECTED: "every clean rerun passed and every bad twin failed the gate",
               EXIT_UNEXPECTED: "UNEXPECTED verdicts: see the rows marked UNEXPECTED",
               EXIT_FAILED: "a clean run could not be measured"}[summary["exit_code"]]
    lines.append(f"\ntwin check: {verdict}")
    return "\n".join(lines)
