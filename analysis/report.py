"""Numbers for `memgate report`: baseline and candidate results (directories or files) ->
one plain, JSON-able report dict. Rendering lives in analysis/render/{markdown,html}.py.

Verdict per scenario (see docs/RESULTS.md, "Reports"):

* ``invalid``: a failed measurement on either side;
* ``regression``: the gate (analysis/gate.py) fails, and, when both sides have 2+
  replicates, the failing metric's bootstrap interval for the median difference lies
  wholly above 0 (client failures count whatever the spread);
* ``undecided``: no regression, and the gate leaves a check UNDECIDED (a replicate over the limit
  without the noise allowance, within it with noise): the evidence is too noisy to tell, and more
  replicates decide (``memgate gate --rerun`` on the pair's result files);
* ``improvement``: no regression and nothing undecided, and a gated metric fell by at least its
  materiality step (below), beyond the spread when there are replicates;
* ``unchanged``: neither; ``new`` / ``removed``: on one side only.
"""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

from analysis import calibration, diff, gate, stats
from analysis.metrics import BY_NAME, GATED, LOWER, format_signed
from harness.results import files as result_files
from harness.results.index import MatrixError, load_index

VERDICT_ORDER = ("regression", "invalid", "undecided", "improvement", "new", "removed", "unchanged")
# The report's verdict and exit code: the gate's (analysis/gate.py), worst first.
SUMMARY_VERDICTS = ((gate.EXIT_INVALID, "INVALID", "invalid"), (gate.EXIT_REGRESSION, "FAIL", "regression"),
                    (gate.EXIT_UNDECIDED, "UNDECIDED", "undecided"))


class ReportInputError(ValueError):
    pass


VIEW = ["scenario", "protocol", "allocator", "strategy", "requests", "live_heap_delta", "rss_delta",
        "rss_before_trim_delta", "peak_rss_growth", "peak_per_connection", "peak_per_stream", "rss_per_idle_connection",
        "bytes_per_request", "requests_per_s", "vs_loopback", "latency_p99_us", "writes_per_response",
        "bytes_copied_per_response", "client_failures"]

# Beside req/s and latency, what a maintainer reviewing a memory fix asks for next: figures from
# outside the process (its tree in /proc, its cgroup). A second table, shown when a side has them.
OUTSIDE_VIEW = ["requests_per_s", "latency_p99_us", "tree_rss_delta", "cgroup_usage_delta", "syscalls_read_per_request",
                "syscalls_write_per_request", "context_switches_per_request", "cpu_us_per_request"]

# Bars in the HTML, one chart per metric across scenarios: first one for each metric a regression
# failed on (a buffered-vs-writev failure on bytes copied shows that, not the heap it left alone),
# then these, always.
BAR_METRICS = [("live_heap_delta_bytes", "Live heap \u0394"), ("rss_delta_bytes", "RSS \u0394 (after trim)"),
               ("peak_rss_growth_bytes", "Peak RSS \u0394")]
CHARTED = list(dict.fromkeys([m for m, _ in BAR_METRICS] + [m.name for m in GATED]))

MAX_TIMELINE_POINTS = 150

# What every renderer says about an undecided scenario, beside its checks and its rerun command.
UNDECIDED_WHY = ("the evidence is too noisy to tell: a candidate replicate is over the limit without the noise "
                 "allowance, but within it with noise")
UNDECIDED_DECIDE = (f"more replicates decide it: `memgate gate --rerun` on the pair runs candidate replicates until "
                    f"PASS or FAIL (from {gate.DECISIVE_REPLICATES} on, the majority decides); `memgate report` exits "
                    f"{gate.EXIT_UNDECIDED} while a scenario is undecided")


# -- inputs -----------------------------------------------------------------------------------
def _load_result(path: str) -> dict[str, Any]:
    try:
        return result_files.load(path)
    except result_files.InvalidResult as e:
        raise ReportInputError(str(e)) from None


def load_side(path: str) -> dict[str, Any]:
    """A results directory (index.json from `memgate matrix`/`merge`, or loose result files) or one
    result file -> {"path", "kind", "results": {name: result}, "files": {name: result file}, "not_run": [names]}."""
    if os.path.isdir(path):
        index_path = os.path.join(path, "index.json")
        results: dict[str, dict[str, Any]] = {}
        files: dict[str, str] = {}
        not_run: list[str] = []
        if os.path.exists(index_path):
            try:
                index = load_index(path)
            except MatrixError as e:
                raise ReportInputError(str(e)) from None
            for e in index["cases"]:
                if e["status"] in ("ok", "failed"):
                    files[e["name"]] = os.path.join(path, e["result"])
                    results[e["name"]] = _load_result(files[e["name"]])
                elif e["status"] == "pending":
                    not_run.append(e["name"])
        else:
            for name in sorted(os.listdir(path)):
                if name.endswith(".json") and not name.startswith((".", "report")):
                    r = _load_result(os.path.join(path, name))
                    key = (r.get("scenario") or {}).get("name") or name[:-5]
                    results[key], files[key] = r, os.path.join(path, name)
        if not results:
            raise ReportInputError(f"{path}: no result files")
        return {"path": path, "kind": "dir", "results": results, "files": files, "not_run": not_run}
    if not os.path.exists(path):
        raise ReportInputError(f"{path}: no such result file or directory (`memgate run -o FILE` writes a "
                               "result, `memgate matrix -o DIR` a results directory)")
    r = _load_result(path)
    name = (r.get("scenario") or {}).get("name") or "result"
    return {"path": path, "kind": "file", "results": {name: r}, "files": {name: path}, "not_run": []}


# -- the gate's calibration (memgate calibrate), beside the baseline ------------------------------
def _calibrations(side: dict[str, Any]) -> tuple[dict[str, calibration.Calibration], list[str]]:
    """({scenario name: calibration} beside the baseline's results, [why a file there was refused])."""
    found, refused = {}, []
    for name in side["results"]:
        path = calibration.beside(side["path"], name if side["kind"] == "dir" else None)
        if not path.exists():
            continue
        try:
            found[name] = calibration.load(path)
        except calibration.CalibrationError as e:
            refused.append(f"calibration not used: {e}")
    return found, refused


# -- per scenario -----------------------------------------------------------------------------
def _ok_replicates(result: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not result:
        return []
    reps = [r for r in result.get("replicates") or [] if r.get("status") == "ok" and r.get("metrics")]
    if not reps and result.get("status") == "ok" and result.get("metrics"):
        reps = [{"metrics": result["metrics"], "timeline": []}]  # a result file without replicate details
    return reps


def _values(result: dict[str, Any] | None, metric: str) -> list[float]:
    out = []
    for r in _ok_replicates(result):
        v = r["metrics"].get(metric)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
    return out


def _metric_stats(baseline: dict[str, Any], candidate: dict[str, Any], metric: str) -> dict[str, Any]:
    b, c = _values(baseline, metric), _values(candidate, metric)
    mw = stats.mann_whitney_u(b, c)
    ci = stats.bootstrap_median_difference(b, c)
    return {
        "baseline": b, "candidate": c,
        "baseline_median": stats.median(b), "candidate_median": stats.median(c),
        "difference": (stats.median(c) - stats.median(b)) if b and c else None,
        "ci95": list(ci) if ci else None,
        "mann_whitney_u": mw[0] if mw else None, "p_value": mw[1] if mw else None,
    }


def _timelines(result: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per replicate: requests completed -> RSS and live heap growth since the start sample."""
    out = []
    for r in _ok_replicates(result):
        start = r.get("start_sample") or {}
        tl = [p for p in r.get("timeline") or [] if isinstance(p.get("requests"), (int, float))]
        if not tl or "rss_bytes" not in start:
            continue
        step = max(1, -(-len(tl) // MAX_TIMELINE_POINTS))
        tl = tl[::step] if tl[-1] is tl[::step][-1] else tl[::step] + [tl[-1]]
        out.append({
            "replicate": r.get("index"),
            "requests": [p["requests"] for p in tl],
            "rss_growth_bytes": [None if p.get("rss_bytes") is None else p["rss_bytes"] - start["rss_bytes"] for p in tl],
            "live_heap_growth_bytes": [None if p.get("live_heap_bytes") is None or start.get("live_heap_bytes") is None
                                       else p["live_heap_bytes"] - start["live_heap_bytes"] for p in tl],
        })
    return out


def _spread(result: dict[str, Any] | None, metric: str) -> dict[str, Any] | None:
    v = _values(result, metric)
    if not v:
        return None
    return {"median": stats.median(v), "min": min(v), "max": max(v), "n": len(v)}


def _outside(baseline: dict[str, Any] | None, candidate: dict[str, Any] | None) -> dict[str, Any] | None:
    """The outside table's rows, and the RSS explained by the cgroup's split; None without outside figures."""
    if not (diff.has_any(baseline, OUTSIDE_VIEW[2:]) or diff.has_any(candidate, OUTSIDE_VIEW[2:])):
        return None
    base, cand = diff.side(baseline, OUTSIDE_VIEW), diff.side(candidate, OUTSIDE_VIEW)
    explained = {label: ((r or {}).get("metrics") or {}).get("rss_explained") for label, r in
                 (("baseline", baseline), ("candidate", candidate))}
    return {"baseline": base, "candidate": cand,
            "change": diff.change(base, cand, OUTSIDE_VIEW),
            "rss_explained": explained if any(explained.values()) else None}


def rerun_command(files: tuple[str | None, str | None]) -> str:
    """The command that decides an undecided pair, naming its result files where known."""
    base, cand = (shlex.quote(f) if f else placeholder for f, placeholder in zip(files, ("BASELINE.json", "CANDIDATE.json")))
    return f"memgate gate --rerun {base} {cand}"


def compare_scenario(name: str, baseline: dict[str, Any] | None, candidate: dict[str, Any] | None,
                     files: tuple[str | None, str | None] = (None, None),
                     cal: calibration.Calibration | None = None) -> dict[str, Any]:
    """files: the result files of the pair, for the command that decides it when undecided; cal: the
    calibration beside the baseline, which `memgate gate` uses too, so both judge alike."""
    base_row, cand_row = diff.side(baseline, VIEW), diff.side(candidate, VIEW)
    ref = cand_row or base_row
    entry: dict[str, Any] = {
        "name": name,
        "protocol": ref.get("protocol"), "allocator": ref.get("allocator"), "strategy": ref.get("strategy"),
        "description": ((candidate or baseline or {}).get("scenario") or {}).get("description", "").strip(),
        "baseline": base_row, "candidate": cand_row, "change": diff.change(base_row, cand_row, VIEW),
        "replicates": {"baseline": len(_ok_replicates(baseline)), "candidate": len(_ok_replicates(candidate))},
        "verdict": "unchanged", "reasons": [], "notes": [], "checks": [], "stats": {},
        "timelines": {"baseline": _timelines(baseline), "candidate": _timelines(candidate)},
        "bars": {m: {"baseline": _spread(baseline, m), "candidate": _spread(candidate, m)} for m in CHARTED},
        "moved": [],  # the metrics behind the verdict: {metric, baseline, candidate, limit, verdict}
        "decide": None,  # undecided: the command whose replicates decide it
        "outside": _outside(baseline, candidate),
    }
    if baseline is None or candidate is None:
        entry["verdict"] = "new" if baseline is None else "removed"
        entry["notes"].append("only in the candidate: nothing to compare with" if baseline is None
                              else "only in the baseline: the candidate did not run it")
        return entry
    g = gate.evaluate(baseline, candidate, calibration=cal)
    if g.invalid:
        entry["verdict"] = "invalid"
        entry["reasons"] = list(g.invalid)
        return entry
    entry["checks"] = [{"metric": c.metric, "outcome": c.outcome, "text": c.long_repr(), "baseline": c.baseline,
                        "candidate": c.candidate, "limit": c.limit, "strict_limit": c.strict_limit} for c in g.checks]
    undecided = {c.metric for c in g.undecided}
    # The gate's own "undecided: METRIC ..." notes: the report says it in the verdict, with the check
    entry["notes"] += [n for n in g.notes if not any(n.startswith(f"undecided: {m} ") for m in undecided)]
    for metric in sorted(set(diff.metric_names(VIEW)) | {m for m, _ in BAR_METRICS} | {c.metric for c in g.checks}):
        entry["stats"][metric] = _metric_stats(baseline, candidate, metric)
    replicated = min(entry["replicates"].values()) >= 2
    if not replicated:
        entry["notes"].append("no replicates (%d baseline, %d candidate): the verdict rests on one difference, "
                              "without a spread" % (entry["replicates"]["baseline"], entry["replicates"]["candidate"]))
    elif min(entry["replicates"].values()) < stats.MIN_POWERFUL_REPLICATES:
        entry["notes"].append(f"{entry['replicates']['baseline']} vs {entry['replicates']['candidate']} replicates: "
                              f"the exact Mann-Whitney test cannot reach p < 0.05 below {stats.MIN_POWERFUL_REPLICATES} "
                              f"per side, so the verdict uses the bootstrap interval of the median difference")
    for c in g.failures:
        st = entry["stats"].get(c.metric) or {}
        ci = st.get("ci95")
        moved = {"metric": c.metric, "baseline": c.baseline, "candidate": c.candidate, "limit": c.limit,
                 "verdict": "regression"}
        if c.metric == "client_failures" or not replicated:
            entry["reasons"].append(c.long_repr())
            entry["moved"].append(moved)
        elif ci and ci[0] > 0:
            entry["moved"].append(moved)
            entry["reasons"].append(f"{c.long_repr()}; median difference {format_signed(c.metric, st['difference'])}, "
                                    f"95% interval [{format_signed(c.metric, ci[0])}, {format_signed(c.metric, ci[1])}]"
                                    + (f", Mann-Whitney p={st['p_value']:.3g}" if st.get("p_value") is not None else ""))
        else:
            span = f"[{format_signed(c.metric, ci[0])}, {format_signed(c.metric, ci[1])}]" if ci else "n/a"
            entry["notes"].append(f"{c.metric} is over its limit but not separated from the baseline by the spread "
                                  f"(95% interval of the median difference {span}): a standing problem, not this change")
    if entry["reasons"]:
        entry["verdict"] = "regression"
        return entry
    if g.undecided:
        entry["verdict"], entry["decide"] = "undecided", rerun_command(files)
        for c in g.undecided:
            entry["reasons"].append(c.long_repr())
            entry["moved"].append({"metric": c.metric, "baseline": c.baseline, "candidate": c.candidate,
                                   "limit": c.limit, "verdict": "undecided"})
        return entry
    t = g.thresholds
    for m in GATED:
        st = entry["stats"].get(m.name) or {}
        b, c = st.get("baseline_median"), st.get("candidate_median")
        if m.improvement_step is None or b is None or c is None:
            continue
        step = m.improvement_step(t, b)
        better = b - c if m.direction == LOWER else c - b
        if better < step:
            continue
        ci = st.get("ci95")
        if replicated and not (ci and (ci[1] < 0 if m.direction == LOWER else ci[0] > 0)):
            continue
        entry["moved"].append({"metric": m.name, "baseline": b, "candidate": c, "limit": None, "verdict": "improvement"})
        moved = "fell" if m.direction == LOWER else "rose"
        entry["reasons"].append(f"{m.name} {moved} from {format_signed(m.name, b)} to {format_signed(m.name, c)} "
                                f"(step for an improvement: {format_signed(m.name, step)})"
                                + (f"; 95% interval [{format_signed(m.name, ci[0])}, {format_signed(m.name, ci[1])}]"
                                   if ci else ""))
    if entry["reasons"]:
        entry["verdict"] = "improvement"
    return entry


# -- the whole report -------------------------------------------------------------------------
def _pairs(baseline: dict[str, Any], candidate: dict[str, Any]) -> list[tuple[str, dict | None, dict | None, tuple]]:
    """(name, baseline result, candidate result, (baseline file, candidate file)) per scenario."""
    b, c = baseline["results"], candidate["results"]
    bf, cf = baseline.get("files") or {}, candidate.get("files") or {}
    if baseline["kind"] == "file" and candidate["kind"] == "file":
        (bn, br), (cn, cr) = next(iter(b.items())), next(iter(c.items()))
        return [(cn if cn == bn else f"{cn} (vs {bn})", br, cr, (bf.get(bn), cf.get(cn)))]
    names = list(c) + [n for n in b if n not in c]
    return [(n, b.get(n), c.get(n), (bf.get(n), cf.get(n))) for n in names]


def build_report(baseline: dict[str, Any], candidate: dict[str, Any]) -> dict[str, Any]:
    calibrations, refused = _calibrations(baseline)
    baseline_name = {id(r): n for n, r in baseline["results"].items()}
    scenarios = [compare_scenario(name, b, c, files, calibrations.get(baseline_name.get(id(b))))
                 for name, b, c, files in _pairs(baseline, candidate)]
    scenarios.sort(key=lambda s: VERDICT_ORDER.index(s["verdict"]))
    counts = {v: sum(s["verdict"] == v for s in scenarios) for v in VERDICT_ORDER}
    parts = [f"{counts['regression']} regression{'s' if counts['regression'] != 1 else ''}",
             *([f"{counts['undecided']} undecided"] if counts["undecided"] else []),
             f"{counts['improvement']} improvement{'s' if counts['improvement'] != 1 else ''}",
             f"{counts['unchanged']} unchanged"]
    for v in ("invalid", "new", "removed"):
        if counts[v]:
            parts.append(f"{counts[v]} {v}")
    exit_code, verdict = next(((code, word) for code, word, v in SUMMARY_VERDICTS if counts[v]), (gate.EXIT_PASS, "PASS"))
    replicated = [s for s in scenarios if s["verdict"] not in ("new", "removed") and min(s["replicates"].values()) >= 2]
    notes = []
    compared = [s for s in scenarios if s["verdict"] not in ("new", "removed", "invalid")]
    if compared and not replicated:
        notes.append("No replicates: each verdict compares one baseline run with one candidate run; rerun with "
                     "--repeat 3 (or more) for verdicts that account for run-to-run spread.")
    elif len(replicated) < len(compared):
        notes.append(f"{len(compared) - len(replicated)} scenario(s) without replicates: their verdicts rest on one difference.")
    for side, label in ((baseline, "baseline"), (candidate, "candidate")):
        if side["not_run"]:
            notes.append(f"{label} has case(s) not run yet: {', '.join(side['not_run'])}")
    notes += refused
    machine = lambda side: next(iter(side["results"].values())).get("machine_info") or {}
    commit = lambda side: next(iter(side["results"].values())).get("commit_info") or {}
    return {
        "tool": "memgate", "kind": "report", "schema_version": 1,
        "baseline": {"path": baseline["path"], "commit": commit(baseline), "machine": machine(baseline)},
        "candidate": {"path": candidate["path"], "commit": commit(candidate), "machine": machine(candidate)},
        "columns": [{"key": k, "header": h, "kind": kind} for k, h, kind in diff.columns(VIEW)],
        "outside_columns": [{"key": k, "header": h, "kind": kind} for k, h, kind in diff.columns(OUTSIDE_VIEW)],
        "sources": diff.sources(VIEW + [k for k in OUTSIDE_VIEW if k not in VIEW]),
        "bar_metrics": chart_metrics(scenarios),
        "summary": {"counts": counts, "line": ", ".join(parts), "exit_code": exit_code, "verdict": verdict},
        "notes": notes,
        "calibration": {name: calibration.summary(cal) for name, cal in calibrations.items()},
        "scenarios": scenarios,
    }


def chart_metrics(scenarios: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The HTML's bar charts in order: each metric a regression failed on (with the scenarios it failed
    in), then each the gate left undecided, then BAR_METRICS; titled by the metric's name as the reasons
    name it, unless BAR_METRICS titles it; kind says how its figures render (analysis.units.format_cell)."""
    behind: dict[str, dict[str, list[str]]] = {"regression": {}, "undecided": {}}
    for sc in scenarios:
        for m in sc["moved"]:
            if m["verdict"] in behind:
                behind[m["verdict"]].setdefault(m["metric"], []).append(sc["name"])
    failed, undecided = behind["regression"], behind["undecided"]
    titles = dict(BAR_METRICS)
    order = list(dict.fromkeys([*failed, *undecided, *(m for m, _ in BAR_METRICS)]))
    return [{"metric": m, "title": titles.get(m, m), "kind": BY_NAME[m].kind,
             "failed_in": failed.get(m, []), "undecided_in": undecided.get(m, [])} for m in order]


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"

