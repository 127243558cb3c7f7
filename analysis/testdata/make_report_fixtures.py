"""Writes analysis/testdata/report/{baseline,candidate}/: a constructed matrix pair whose verdicts
are known (see EXPECTED). Deterministic; rerun after changing the result schema:

    /usr/bin/python3 analysis/testdata/make_report_fixtures.py
"""

from __future__ import annotations

import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1024 * 1024
REQUESTS = 20000

# scenario -> expected verdict in `memgate report baseline candidate`
EXPECTED = {
    "r-leak": "regression",        # 72 B/request of live heap in every candidate replicate
    "r-copy": "regression",        # buffered copy: peak RSS +4 MiB, 1 MiB copied per response
    "r-fixed": "improvement",      # the reverse of r-copy
    "r-steady": "unchanged",       # same numbers, some jitter
    "r-standing": "unchanged",     # leaks on both sides alike: over the limit, not separated by the spread
    "r-failed": "invalid",         # the candidate's measurement failed
    "r-new": "new",                # only in the candidate
}


def replicate(i: int, rng: random.Random, *, heap_per_req: float, peak: float, copied: float, rss: float) -> dict:
    heap = heap_per_req * REQUESTS + rng.uniform(-200, 200) * (heap_per_req > 1)
    peak_v = peak * rng.uniform(0.95, 1.05)
    start = {"rss_bytes": 10 * MIB, "live_heap_bytes": 300_000}
    timeline = []
    for k in range(1, 21):
        req = REQUESTS * k // 20
        wobble = (k % 3) * 0.3 * peak_v if copied else 0
        timeline.append({"t_s": k * 0.05, "requests": req,
                         "rss_bytes": int(start["rss_bytes"] + rss * k / 20 + min(peak_v, wobble + 0.2 * MIB)),
                         "live_heap_bytes": int(start["live_heap_bytes"] + heap * k / 20 + (copied and 40 * 65536 or 0))})
    metrics = {
        "requests_completed": REQUESTS, "client_failures": 0, "server_requests": {"h1": 0, "h2": REQUESTS},
        "live_heap_delta_bytes": heap, "rss_delta_bytes": rss * rng.uniform(0.9, 1.1),
        "rss_before_trim_delta_bytes": peak_v * 0.8, "peak_rss_bytes": start["rss_bytes"] + peak_v,
        "peak_rss_growth_bytes": peak_v, "live_heap_bytes_per_request": heap / REQUESTS,
        "write_calls_per_response": 4.0 + rng.uniform(-0.1, 0.1), "bytes_copied_per_response": copied,
        "requests_per_s": 3000 * rng.uniform(0.9, 1.1), "latency_p99_us": 20000 * rng.uniform(0.9, 1.1),
        "elapsed_s": 6.0,
    }
    return {"index": i, "status": "ok", "metrics": metrics, "start_sample": start, "timeline": timeline}


def result(name: str, copy: str, reps: list[dict], status: str = "ok") -> dict:
    from statistics import median
    metrics = None
    if status == "ok":
        metrics = {k: median(r["metrics"][k] for r in reps) for k in reps[0]["metrics"] if k != "server_requests"}
        metrics["server_requests"] = reps[0]["metrics"]["server_requests"]
    noise = {}
    if status == "ok" and len(reps) > 1:
        for k in metrics:
            if k != "server_requests":
                vals = [r["metrics"][k] for r in reps]
                noise[k] = {"min": min(vals), "max": max(vals), "range": max(vals) - min(vals)}
    return {
        "schema_version": 1, "tool": "memgate", "version": "fixture", "status": status,
        "failure": None if status == "ok" else {"kind": "server_died", "message": "measured run: the server died (SIGSEGV)"},
        "run_id": f"fixture-{name}", "wall_s": 7.0,
        "scenario": {"name": name, "description": f"constructed fixture {name}"},
        "config": {"protocol": "h2c", "allocator": "glibc", "copy": copy, "request_body": "streamed",
                   "endpoint": "/bytes/1048576", "method": "GET", "requests": REQUESTS, "thresholds": {}},
        "commit_info": {"id": None, "dirty": False, "branch": None}, "machine_info": {"cores": 2},
        "allocator": {"name": "glibc"}, "metrics": metrics, "noise": noise,
        "replicates": reps if status == "ok" else [],
    }


CLEAN = dict(heap_per_req=0.015, peak=200 * 1024, copied=0.0, rss=150 * 1024)
LEAK = dict(heap_per_req=72.0, peak=1.6 * MIB, copied=0.0, rss=1.5 * MIB)
COPY = dict(heap_per_req=0.015, peak=4.2 * MIB, copied=1048576.0, rss=1.1 * MIB)


def side(label: str) -> dict[str, dict]:
    rng = random.Random(label)
    cand = label == "candidate"
    def reps(**kw):
        return [replicate(i, rng, **kw) for i in range(3)]
    out = {
        "r-leak": result("r-leak", "writev", reps(**(LEAK if cand else CLEAN))),
        "r-copy": result("r-copy", "buffered" if cand else "writev", reps(**(COPY if cand else CLEAN))),
        "r-fixed": result("r-fixed", "writev" if cand else "buffered", reps(**(CLEAN if cand else COPY))),
        "r-steady": result("r-steady", "writev", reps(**CLEAN)),
        "r-standing": result("r-standing", "writev", reps(**LEAK)),
        "r-failed": result("r-failed", "writev", reps(**CLEAN), status="failed" if cand else "ok"),
    }
    if cand:
        out["r-new"] = result("r-new", "writev", reps(**CLEAN))
    return out


def write(label: str) -> None:
    d = os.path.join(HERE, "report", label)
    os.makedirs(d, exist_ok=True)
    cases = []
    for n, (name, r) in enumerate(side(label).items()):
        with open(os.path.join(d, f"{name}.json"), "w") as f:
            json.dump(r, f, indent=1)
            f.write("\n")
        cases.append({"ordinal": n, "name": name, "file": "fixture.toml", "params": {}, "digest": name, "shard": None,
                      "result": f"{name}.json", "status": "ok" if r["status"] == "ok" else "failed",
                      "failure_kind": (r["failure"] or {}).get("kind"), "wall_s": 7.0,
                      "requests_per_s": (r["metrics"] or {}).get("requests_per_s"), "run_id": r["run_id"]})
    index = {"schema_version": 1, "tool": "memgate", "kind": "matrix-index", "matrix_id": f"fixture-{label}",
             "files": ["fixture.toml"], "total_cases": len(cases), "shard": None, "cases": cases}
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    write("baseline")
    write("candidate")
