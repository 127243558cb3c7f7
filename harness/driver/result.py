"""A run's result file contents, built from its replicate records (also for a run an interrupt stopped)."""

from __future__ import annotations

import datetime
import time
from typing import Any

from analysis.metrics import median_metrics, noise
from harness.driver.interrupt import Interrupted
from harness.driver.machine import commit_info, machine_info
from harness.driver.scenario import Scenario
from harness.results.schema import SCHEMA_VERSION, VERSION


def build_result(scenario: Scenario, config: dict[str, Any], replicates: list[dict[str, Any]], run_id: str,
                 started: datetime.datetime, t0: float, interrupted: Interrupted | None = None) -> dict[str, Any]:
    """The result of the replicates run so far; failed when one failed or an interrupt stopped the run."""
    ok = [r for r in replicates if r["status"] == "ok"]
    failed = next((r for r in replicates if r["status"] != "ok"), None)
    result: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": "memgate",
        "version": VERSION,
        "status": "ok" if failed is None else "failed",
        "failure": None,
        "run_id": run_id,
        "datetime": started.isoformat(timespec="seconds"),
        "wall_s": None,
        "scenario": {"name": config["name"], "description": config["description"], "path": scenario.path,
                     "source": scenario.source},
        "config": config,
        "commit_info": commit_info(),
        "machine_info": machine_info(),
        "allocator": (ok[0] if ok else {}).get("allocator"),
        "pinning": replicates[0]["pinning"] if replicates else None,
        "warnings": sorted({w for r in replicates for w in r.get("warnings", [])}),
        "metrics": median_metrics([r["metrics"] for r in ok]) if ok else None,
        "noise": noise([r["metrics"] for r in ok]),
        "replicates": replicates,
    }
    if ok and config["target"]["kind"] != "refserver":
        result["unjudged_reasons"] = _unjudged_reasons(result["metrics"], ok[0].get("end_sample") or {})
    if interrupted is not None:
        result["status"] = "failed"
        result["failure"] = {**interrupted.failure(), "replicate": len(ok), "replicates_completed": len(ok)}
    elif failed is not None:
        result["failure"] = {**failed["failure"], "replicate": failed["index"],
                             "server_stderr_tail": (failed.get("server") or {}).get("stderr_tail", "")}
    result["wall_s"] = round(time.monotonic() - t0, 3)
    return result


def _unjudged_reasons(metrics: dict[str, Any], end_sample: dict[str, Any]) -> dict[str, str]:
    """Why each metric the target could not give is None: the heap source's note, for the gate's verdict."""
    note = end_sample.get("heap_note") or "the target reported no live heap"
    return {name: note for name in ("live_heap_delta_bytes", "live_heap_bytes_per_request") if metrics.get(name) is None}
