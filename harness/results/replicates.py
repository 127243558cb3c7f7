"""Joining replicate runs: directories from the same matrix, each holding some replicates of every
case (``ci/gate.sh`` runs one replicate per step so base and head alternate on one runner),
become one directory whose result per case holds all its replicates, as one ``--repeat N`` run
writes it.

The replicates keep their step order and are renumbered 0..N-1; each records the directory it
came from in ``joined_from``. A case's metrics and noise are recomputed over all ok replicates by
the ``summarize`` the caller passes (the analysis layer's median and range: this layer imports
nothing of memgate's).
"""

from __future__ import annotations

import os
from typing import Any, Callable

from harness.results import atomic
from harness.results.files import InvalidResult, load
from harness.results.index import MatrixError, load_one_matrix, write_index

# ok replicates' metrics -> (the result's metrics, its noise)
Summarize = Callable[[list[dict[str, Any]]], tuple[dict[str, Any], dict[str, Any]]]


def join_results(results: list[tuple[str, dict[str, Any]]], summarize: Summarize) -> dict[str, Any]:
    """(source label, result) pairs of one case, in run order -> one result holding every replicate."""
    first = results[0][1]
    replicates = []
    for source, result in results:
        for rep in result.get("replicates") or []:
            replicates.append({**rep, "index": len(replicates), "joined_from": source})
    ok = [r for r in replicates if r["status"] == "ok"]
    failed = next(((source, r) for source, r in results if r.get("status") != "ok"), None)
    metrics, noise = summarize([r["metrics"] for r in ok]) if ok else (None, {})
    joined = {
        **first,
        "status": "ok" if failed is None else "failed",
        "failure": None if failed is None else {**failed[1]["failure"], "joined_from": failed[0]},
        "config": {**(first.get("config") or {}), "repeat": len(replicates)},
        "wall_s": round(sum(r.get("wall_s") or 0.0 for _, r in results), 3),
        "warnings": sorted({w for _, r in results for w in r.get("warnings") or []}),
        "metrics": metrics,
        "noise": noise,
        "replicates": replicates,
    }
    return joined


def join_dirs(dirs: list[str], outdir: str, summarize: Summarize) -> dict[str, Any]:
    """Joins matrix results directories (same matrix, one or more replicates each) into outdir.

    Returns the index written there. Raises MatrixError when the directories are from different
    matrices or a case's result is missing from one of them.
    """
    indexes = load_one_matrix(dirs, "replicates join only when the scenario files and --set match")
    first = indexes[0][1]
    os.makedirs(outdir, exist_ok=True)
    entries = []
    for ordinal, template in enumerate(first["cases"]):
        runs = []
        for d, idx in indexes:
            entry = idx["cases"][ordinal]
            if entry["status"] not in ("ok", "failed"):
                raise MatrixError(f"case {entry['name']!r} is {entry['status']} in {d}: nothing to join")
            try:
                runs.append((d, load(os.path.join(d, entry["result"]))))
            except InvalidResult as e:
                raise MatrixError(str(e)) from None
        joined = join_results(runs, summarize)
        atomic.write_json(os.path.join(outdir, template["result"]), joined)
        entries.append({**template, "status": joined["status"],
                        "failure_kind": (joined["failure"] or {}).get("kind"), "wall_s": joined["wall_s"],
                        "requests_per_s": (joined["metrics"] or {}).get("requests_per_s"),
                        "run_id": joined.get("run_id")})
    index = {**first, "shard": None, "cases": entries}
    write_index(outdir, index)
    return index
