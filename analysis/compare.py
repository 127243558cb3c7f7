"""Numbers for `memgate compare`: one baseline/candidate pair -> rows of values (no printing).

get_comparison() returns plain data (the diff of analysis/diff.py in this view, with the
gate's verdict); analysis/render/table.py turns it into text.
"""

from __future__ import annotations

from typing import Any

from analysis import diff, gate
from analysis.calibration import Calibration

VIEW = ["scenario", "protocol", "requests", "live_heap_delta", "rss_delta", "peak_rss_growth", "per_protocol",
        "client_failures", "requests_per_s", "latency_p99_us", "writes_per_response", "bytes_copied_per_response",
        "allocations_per_request"]
COLUMNS: list[tuple[str, str, str]] = diff.columns(VIEW) + [("verdict", "Verdict", "text")]


def get_comparison(baseline: dict[str, Any], candidate: dict[str, Any],
                   overrides: dict[str, float] | None = None, calibration: Calibration | None = None) -> dict[str, Any]:
    """Rows: baseline, candidate, change (candidate - baseline), each a dict keyed by COLUMNS keys. The
    verdict is the gate's, with the same calibration `memgate gate` would use."""
    report = gate.evaluate(baseline, candidate, overrides, calibration=calibration)
    base, cand = diff.side(baseline, VIEW), diff.side(candidate, VIEW)
    change = diff.change(base, cand, VIEW)
    base["verdict"] = "baseline" if baseline.get("status") == "ok" else "INVALID"
    cand["verdict"] = report.verdict
    change.update({"scenario": "change", "protocol": "", "per_protocol": "", "verdict": ""})
    for row, label in ((base, "baseline"), (cand, "candidate"), (change, "change")):
        row["label"] = label
    return {
        "columns": COLUMNS,
        "rows": [base, cand, change],
        "verdict": report.verdict,
        "exit_code": report.exit_code,
        "reasons": [c.long_repr() for c in report.failures + report.undecided] + report.invalid,  # what the verdict rests on
        "notes": report.notes,
        "checks": [c.long_repr() for c in report.checks],
        "sources": diff.sources(VIEW),
    }
