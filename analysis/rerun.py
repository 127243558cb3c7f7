"""More replicates until the gate decides: the loop behind `memgate gate --rerun`.

decide() evaluates the pair and, while the verdict is UNDECIDED, adds a candidate replicate (and
a baseline one, when the caller can run it) and judges again. From gate.DECISIVE_REPLICATES on
the gate no longer answers UNDECIDED, so the loop ends there unless its bounds stop it first.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from analysis import gate
from analysis.calibration import Calibration
from analysis.metrics import median_metrics, noise


def with_replicates(result: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """`result` with `more`'s replicates appended, its medians and spread recomputed over all of them."""
    reps = [dict(r, index=i) for i, r in enumerate((result.get("replicates") or []) + (more.get("replicates") or []))]
    ok = [r["metrics"] for r in reps if r.get("status") == "ok"]
    config = dict(result.get("config") or {}, repeat=len(reps))
    return {**result, "config": config, "replicates": reps, "metrics": median_metrics(ok), "noise": noise(ok)}


def decide(baseline: dict[str, Any], candidate: dict[str, Any], rerun: Callable[[], dict[str, Any]], *,
           rerun_baseline: Callable[[], dict[str, Any]] | None = None, calibration: Calibration | None = None,
           overrides: dict[str, float] | None = None, max_replicates: int = 10, max_seconds: float = 600.0,
           clock: Callable[[], float] = time.monotonic) -> gate.GateReport:
    """evaluate(), then while UNDECIDED: one more candidate replicate from rerun() (and a baseline one
    from rerun_baseline, when given), until the verdict is decided, the candidate has max_replicates,
    or another rerun would end past max_seconds (each rerun is expected to last as long as the last)."""
    started = clock()
    report = gate.evaluate(baseline, candidate, overrides, calibration)
    reruns, last = 0, 0.0
    while report.verdict == "UNDECIDED":
        have = report.replicates["candidate"]
        if have >= max_replicates:
            report.notes.append(f"still undecided at {have} candidate replicates, the most allowed")
            break
        if clock() - started + last > max_seconds:
            report.notes.append(f"still undecided after {clock() - started:.0f} s; another replicate would pass "
                                f"the {max_seconds:g} s allowed")
            break
        t0 = clock()
        more = rerun()
        if more.get("status") != "ok":
            return gate.evaluate(baseline, more, overrides, calibration)
        candidate = with_replicates(candidate, more)
        if rerun_baseline is not None:
            again = rerun_baseline()
            if again.get("status") != "ok":
                return gate.evaluate(again, candidate, overrides, calibration)
            baseline = with_replicates(baseline, again)
        reruns, last = reruns + 1, clock() - t0
        report = gate.evaluate(baseline, candidate, overrides, calibration)
    if reruns:
        report.reruns = reruns
        report.notes.append(f"{report.verdict} after {reruns} more replicate(s): {report.replicates['baseline']} "
                            f"baseline, {report.replicates['candidate']} candidate replicates judged")
    return report
