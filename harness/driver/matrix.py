"""Matrix runs: every case of one or more scenario files, one result file per case and an
index.json, resumable, sliceable into shards for parallel CI jobs, and mergeable.

Each case's result goes beside the others; the index of the directory (its contract with
``memgate merge`` and ``memgate report``) is harness/results/index.py's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from typing import Any, Callable, TextIO

from harness.driver.identity import case_binaries
from harness.driver.interrupt import Interrupted
from harness.driver.runner import run_scenario
from harness.driver.scenario import Scenario, ScenarioError, load_cases
from harness.results import atomic, files as result_files
from harness.results.index import header, write_index


@dataclasses.dataclass
class Case:
    ordinal: int
    scenario: Scenario
    file: str
    config_digest: str
    binaries: dict[str, str]  # name -> identity (harness/driver/identity.py)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def digest(self) -> str:
        """What a result was measured with: a finished case is re-run when its config or a binary changed."""
        return _digest([self.config_digest, sorted(self.binaries.items())])


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def collect(files: list[str], overrides: list[tuple[str, Any]] | None = None) -> list[Case]:
    """All cases of all files, in file order then expansion order. Raises ScenarioError."""
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in files:
        for sc in load_cases(path, overrides):
            if sc.name in seen:
                raise ScenarioError(path, "name", f"case {sc.name!r} also comes from {seen[sc.name]}; give the files distinct names")
            seen[sc.name] = path
            cases.append(Case(len(cases), sc, os.path.relpath(path) if not os.path.isabs(path) else path,
                              _digest(sc.config), case_binaries(sc.config)))
    return cases


def parse_shard(text: str) -> tuple[int, int]:
    """'i/N' with 1 <= i <= N -> (i, N). Raises ValueError quoting the text."""
    head, sep, tail = text.partition("/")
    try:
        i, n = int(head), int(tail)
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected i/N, e.g. 1/4") from None
    if not sep or n < 1 or not 1 <= i <= n:
        raise ValueError(f"--shard {text!r}: expected i/N with 1 <= i <= N")
    return i, n


def shard_of(case: Case, count: int) -> int:
    """Round-robin on the expansion order: deterministic, and neighbours (often similar cost) spread apart."""
    return case.ordinal % count + 1


def matrix_id(cases: list[Case]) -> str:
    """The cases, not the builds: shards built on different runners still merge."""
    return _digest([(c.name, c.config_digest) for c in cases])


def _entry(case: Case, status: str, shard: int | None) -> dict[str, Any]:
    return {"ordinal": case.ordinal, "name": case.name, "file": case.file, "params": case.scenario.params,
            "digest": case.digest, "shard": shard, "result": f"{case.name}.json", "status": status,
            "failure_kind": None, "wall_s": None, "requests_per_s": None, "run_id": None, "rerun_reason": None}


def _fill_from_result(entry: dict[str, Any], result: dict[str, Any]) -> None:
    entry["status"] = "ok" if result.get("status") == "ok" else "failed"
    entry["failure_kind"] = (result.get("failure") or {}).get("kind")
    entry["wall_s"] = result.get("wall_s")
    entry["requests_per_s"] = (result.get("metrics") or {}).get("requests_per_s")
    entry["run_id"] = result.get("run_id")


def _finished(outdir: str, case: Case) -> tuple[dict[str, Any] | None, str | None]:
    """(the case's result in outdir, None) when it measured successfully with the same config and
    binaries, else (None, why it runs again; None when there is no result)."""
    try:
        result = result_files.load(os.path.join(outdir, f"{case.name}.json"))
    except result_files.InvalidResult:
        return None, None
    if result.get("status") != "ok":
        return None, f"failed before ({(result.get('failure') or {}).get('kind')})"
    recorded = result.get("matrix") or {}
    if recorded.get("config_digest") != case.config_digest:
        return None, "stale: config changed"
    before = recorded.get("binaries") or {}
    changed = sorted(name for name in {**before, **case.binaries} if before.get(name) != case.binaries.get(name))
    if changed:
        return None, f"stale: {', '.join(changed)} changed"
    return result, None


def _save(outdir: str, case: Case, entry: dict[str, Any], index: dict[str, Any], result: dict[str, Any]) -> None:
    result["matrix"] = {"file": case.file, "params": case.scenario.params, "ordinal": case.ordinal,
                        "digest": case.digest, "config_digest": case.config_digest, "binaries": case.binaries,
                        "shard": entry["shard"]}
    atomic.write_json(os.path.join(outdir, entry["result"]), result)
    _fill_from_result(entry, result)
    write_index(outdir, index)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def new_index(cases: list[Case], files: list[str], shard: tuple[int, int] | None) -> dict[str, Any]:
    entries = []
    for c in cases:
        s = shard_of(c, shard[1]) if shard else None
        entries.append(_entry(c, "pending" if shard is None or s == shard[0] else "other_shard", s))
    return {**header(matrix_id(cases), files, len(cases), shard), "cases": entries}


def run_matrix(cases: list[Case], files: list[str], outdir: str, *, shard: tuple[int, int] | None = None,
               runner: Callable[[Scenario], dict[str, Any]] = run_scenario, progress: TextIO = sys.stderr,
               clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Runs the cases of this shard not already finished in outdir; returns the index (also on disk).

    An interrupt leaves the index consistent: the case in progress is ``failed`` with its
    interrupted result (``pending`` when the runner gave none) and the next run of the same
    command picks up from there.
    """
    os.makedirs(outdir, exist_ok=True)
    index = new_index(cases, files, shard)
    mine = [(c, e) for c, e in zip(cases, index["cases"]) if e["status"] == "pending"]
    todo = []
    for case, entry in mine:
        done, entry["rerun_reason"] = _finished(outdir, case)
        if done is not None:
            _fill_from_result(entry, done)
        else:
            todo.append((case, entry))
    write_index(outdir, index)
    total = len(mine)
    skipped = total - len(todo)
    label = f" (shard {shard[0]}/{shard[1]} of {len(cases)} cases)" if shard else ""
    _say(progress, f"matrix: {total} case(s){label} into {outdir}; {skipped} already done, {len(todo)} to run")
    t0 = clock()
    ran_wall = 0.0
    for n, (case, entry) in enumerate(todo):
        position = skipped + n + 1
        why = f"; {entry['rerun_reason']}" if entry["rerun_reason"] else ""
        _say(progress, f"[{position}/{total}] {case.name}: running ({_describe(case.scenario)}){why}")
        started = clock()
        try:
            result = runner(case.scenario)
        except Interrupted as e:  # the case's result says how far it got; a resume runs it again
            if e.result is not None:
                _save(outdir, case, entry, index, e.result)
            raise
        _save(outdir, case, entry, index, result)
        took = clock() - started
        ran_wall += took
        remaining = len(todo) - n - 1
        eta = ran_wall / (n + 1) * remaining
        rate = entry["requests_per_s"]
        what = (f"ok, {rate:,.0f} req/s" if entry["status"] == "ok" and rate is not None
                else f"FAILED ({entry['failure_kind']}): {(result.get('failure') or {}).get('message', '')[:200]}")
        _say(progress, f"[{position}/{total}] {case.name}: {what}, {took:.1f} s; elapsed {_duration(clock() - t0)}, "
                       f"estimated remaining {_duration(eta)}")
    failed = [e["name"] for e in index["cases"] if e["status"] == "failed"]
    _say(progress, f"matrix: {total - len(failed)} of {total} case(s) ok" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return index


def _describe(sc: Scenario) -> str:
    c = sc.config
    return f"{c['protocol']}, {c['allocator']}, copy={c['copy']}, {c['requests']:,} requests x {c['repeat']}"


def _say(stream: TextIO, text: str) -> None:
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:  # pragma: no cover
        pass
