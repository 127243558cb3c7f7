"""The matrix index (``index.json`` in a results directory) and merging shard directories.

The index, written atomically after every case, is the contract that ``memgate merge`` and
``memgate report`` read:

    {"schema_version": 1, "tool": "memgate", "kind": "matrix-index", "matrix_id": "...",
     "files": [...], "total_cases": N, "shard": null | {"index": i, "count": n},
     "cases": [{"ordinal", "name", "file", "params", "digest", "shard", "result",
                "status", "failure_kind", "wall_s", "requests_per_s", "run_id", "rerun_reason"}, ...]}

Every index lists every case of the matrix, in expansion order; ``status`` is ``ok``,
``failed``, ``pending`` (not run yet) or ``other_shard`` (another shard runs it). An
unsharded run and the merge of all its shards give the same index. ``rerun_reason`` says why a
case that had a result ran again ("stale: refserver-glibc changed", "stale: config changed",
"failed before (server_died)"); null when it was reused or never ran.
"""

from __future__ import annotations

import os
from typing import Any

from harness.results import atomic
from harness.results.files import read_json
from harness.results.schema import SCHEMA_VERSION, TOOL, header_problem

INDEX = "index.json"
KIND = "matrix-index"
CASE_KEYS = ("ordinal", "name", "file", "params", "digest", "shard", "result", "status", "failure_kind",
             "wall_s", "requests_per_s", "run_id")
# Written in every entry; not required of one, since indexes from before it still load and merge.
RERUN_REASON = "rerun_reason"


class MatrixError(ValueError):
    pass


def header(matrix_id: str, files: list[str], total_cases: int, shard: tuple[int, int] | None) -> dict[str, Any]:
    """An index without its cases."""
    return {"schema_version": SCHEMA_VERSION, "tool": TOOL, "kind": KIND, "matrix_id": matrix_id,
            "files": list(files), "total_cases": total_cases,
            "shard": {"index": shard[0], "count": shard[1]} if shard else None}


def write_index(outdir: str, index: dict[str, Any]) -> None:
    atomic.write_json(os.path.join(outdir, INDEX), index)


def load_index(directory: str) -> dict[str, Any]:
    path = os.path.join(directory, INDEX)
    index = read_json(path, MatrixError, f"no {INDEX} (not a matrix results directory)")
    if not isinstance(index, dict) or index.get("kind") != KIND:
        raise MatrixError(f"{path}: not a memgate matrix index")
    problem = header_problem(index, "matrix index")
    if problem:
        raise MatrixError(f"{path}: {problem}")
    cases = index.get("cases")
    if not isinstance(cases, list) or not all(isinstance(c, dict) and all(k in c for k in CASE_KEYS) for c in cases):
        raise MatrixError(f"{path}: damaged: 'cases' is not a list of case entries ({', '.join(CASE_KEYS)})")
    return index


def load_one_matrix(dirs: list[str], needed: str) -> list[tuple[str, dict[str, Any]]]:
    """(directory, index) of each directory; MatrixError when they are not all of one matrix,
    `needed` saying what makes them so."""
    indexes = [(d, load_index(d)) for d in dirs]
    first_dir, first = indexes[0]
    for d, idx in indexes[1:]:
        if idx["matrix_id"] != first["matrix_id"]:
            raise MatrixError(f"{d} is from another matrix than {first_dir} (matrix_id {idx['matrix_id']} vs "
                              f"{first['matrix_id']}): {needed}")
    return indexes


def merge(dirs: list[str], outdir: str) -> tuple[dict[str, Any], list[str]]:
    """Joins shard directories into outdir: the index an unsharded run gives, plus the result files.

    Returns (index, problems); problems name cases no shard finished. Raises MatrixError when
    the directories are not shards of one matrix.
    """
    indexes = load_one_matrix(dirs, "same scenario files and --set/--repeat are needed")
    first_dir, first = indexes[0]
    os.makedirs(outdir, exist_ok=True)
    merged = {**first, "shard": None, "files": first["files"]}
    entries: list[dict[str, Any] | None] = [None] * first["total_cases"]
    sources: list[str | None] = [None] * first["total_cases"]
    for d, idx in indexes:
        for e in idx["cases"]:
            if e["status"] == "other_shard":
                continue
            current = entries[e["ordinal"]]
            if current is not None and current["status"] == "ok" and e["status"] != "ok":
                continue  # a finished copy of the case wins over a pending or failed one
            if current is not None and current["status"] == "ok" and e["status"] == "ok" and sources[e["ordinal"]] != d:
                raise MatrixError(f"case {e['name']!r} finished in both {sources[e['ordinal']]} and {d}: "
                                  f"were the same shards given twice?")
            entries[e["ordinal"]] = {**e, "shard": None}  # as an unsharded run writes it
            sources[e["ordinal"]] = d
    problems = []
    template = first["cases"]
    for i, e in enumerate(entries):
        if e is None:
            e = {**template[i], "shard": None, "status": "pending", "failure_kind": None, "wall_s": None, "requests_per_s": None,
                 "run_id": None, RERUN_REASON: None}
            entries[i] = e
            problems.append(f"case {e['name']!r} (shard {template[i]['shard']}) is in none of the directories")
            continue
        if e["status"] != "ok":
            problems.append(f"case {e['name']!r} is {e['status']} in {sources[i]}")
        src = os.path.join(sources[i], e["result"])
        dst = os.path.join(outdir, e["result"])
        if os.path.exists(src) and not (os.path.exists(dst) and os.path.samefile(src, dst)):
            atomic.copy_file(src, dst)
    merged["cases"] = entries
    write_index(outdir, merged)
    return merged, problems
