"""Allocation profiles as data: the rankings in a profile, the diff of two profiles (which sites
grew), and the diff as call trees for the icicle views. The profilers (harness/profile/) produce the
per-site rows; analysis/render/profile.py and profile_html.py draw what this module computes."""

from __future__ import annotations

import json
import os
from typing import Any

TOP_N = 10
KEEP_FRAMES = 6  # frames kept per site (harness/profile/sites.py trim_stack), named in profile.md

RANKINGS = {
    "live": ("live_growth_bytes", "live bytes grown over the measured run (still live at the end, after trim)"),
    "bytes_per_request": ("bytes_per_request", "bytes allocated per request"),
    "allocs_per_request": ("allocs_per_request", "allocations per request"),
}


def rank(rows: list[dict[str, Any]], field: str, n: int = TOP_N) -> list[dict[str, Any]]:
    return sorted((r for r in rows if r[field] > 0), key=lambda r: (-r[field], r["site"]))[:n]


def build_profile(meta: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    tops = {name: [r["site"] for r in rank(rows, field)] for name, (field, _) in RANKINGS.items()}
    wanted = {k for v in tops.values() for k in v}
    # keep every site with any activity, heaviest first, so --against can diff sites outside the top
    keep = sorted(rows, key=lambda r: (-(r["bytes"] + abs(r["live_growth_bytes"])), r["site"]))
    keep = [r for r in keep if r["allocs"] or r["live_growth_bytes"] or r["site"] in wanted][:500]
    totals = {"allocs_per_request": sum(r["allocs_per_request"] for r in rows),
              "bytes_per_request": sum(r["bytes_per_request"] for r in rows),
              "live_growth_bytes": sum(r["live_growth_bytes"] for r in rows)}
    return {"kind": "memgate-profile", "version": 1, **meta, "totals": totals, "top": tops, "sites": keep}


def diff(baseline: dict[str, Any], candidate: dict[str, Any], n: int = TOP_N) -> dict[str, Any]:
    """Sites whose per-request bytes/allocations or live growth went up, ranked; the /mem probe's sites are left out.

    `rows` holds every site that grew, ranked by its growth in bytes per measured request: the larger of
    its allocated-bytes growth and its live-bytes growth divided by the candidate's requests (a leak that
    was freed before shows only in the second). The three `grew_*` lists rank the same rows per figure.
    """
    base = {r["site"]: r for r in baseline["sites"]}
    requests = max(int(candidate.get("requests") or 1), 1)
    rows = []
    for r in candidate["sites"]:
        if r.get("probe"):
            continue
        b = base.get(r["site"], {})
        d = {
            "site": r["site"],
            "stack": r["stack"],
            "bytes_per_request": r["bytes_per_request"], "bytes_per_request_base": b.get("bytes_per_request", 0.0),
            "allocs_per_request": r["allocs_per_request"], "allocs_per_request_base": b.get("allocs_per_request", 0.0),
            "live_growth_bytes": r["live_growth_bytes"], "live_growth_bytes_base": b.get("live_growth_bytes", 0),
        }
        if r.get("paths"):
            d["paths"] = r["paths"]
        d["d_bytes_per_request"] = d["bytes_per_request"] - d["bytes_per_request_base"]
        d["d_allocs_per_request"] = d["allocs_per_request"] - d["allocs_per_request_base"]
        # live growth counts only upward: a negative net (warm-up connections closed inside the window) is not a gain
        d["d_live_growth_bytes"] = max(d["live_growth_bytes"], 0) - max(d["live_growth_bytes_base"], 0)
        d["score"] = max(d["d_bytes_per_request"], d["d_live_growth_bytes"] / requests)
        d["new_site"] = r["site"] not in base
        rows.append(d)
    # noise floor: ignore < 1 byte and < 0.01 allocations per request, < 4 KiB of live growth
    grew = [d for d in rows if d["d_bytes_per_request"] >= 1 or d["d_allocs_per_request"] >= 0.01
            or d["d_live_growth_bytes"] >= 4096]
    ranked = sorted(grew, key=lambda d: (-d["score"], -d["d_allocs_per_request"], d["site"]))
    by_bytes = sorted((d for d in grew if d["d_bytes_per_request"] >= 1),
                      key=lambda d: (-d["d_bytes_per_request"], d["site"]))[:n]
    by_allocs = sorted((d for d in grew if d["d_allocs_per_request"] >= 0.01),
                       key=lambda d: (-d["d_allocs_per_request"], d["site"]))[:n]
    by_live = sorted((d for d in grew if d["d_live_growth_bytes"] >= 4096),
                     key=lambda d: (-d["d_live_growth_bytes"], d["site"]))[:n]
    return {"baseline": {k: baseline.get(k) for k in ("label", "scenario", "profiler", "config_text", "requests")},
            "candidate": {k: candidate.get(k) for k in ("label", "scenario", "profiler", "config_text", "requests")},
            "rows": ranked[:MAX_DIFF_ROWS],
            "grew_bytes_per_request": by_bytes, "grew_allocs_per_request": by_allocs, "grew_live": by_live}


MAX_DIFF_ROWS = 200

# The icicle views: (title, growth field in a diff row, the per-path figure that splits it among callers).
GROWTH_VIEWS = {
    "bytes_per_request": ("bytes allocated per request", "d_bytes_per_request", "bytes"),
    "allocs_per_request": ("allocations per request", "d_allocs_per_request", "allocs"),
    "live": ("live bytes grown over the measured run", "d_live_growth_bytes", "live_growth_bytes"),
}


def frame_where(frame: dict[str, Any]) -> str | None:
    if frame.get("file") and frame.get("line"):
        return f"{os.path.basename(frame['file'])}:{frame['line']}"
    return None


def growth_tree(d: dict[str, Any], view: str) -> dict[str, Any]:
    """The candidate's growth as a call tree for an icicle view, outermost frame at the root's children.

    Each site that grew contributes its growth in one figure (GROWTH_VIEWS) along its trimmed stack; a
    site reached by several call paths has its growth split in proportion to the path's candidate figure
    (the baseline is per site, not per path). Node: {name, where, value, self, site, new_site, children}.
    """
    title, field, path_field = GROWTH_VIEWS[view]

    def node(name: str, where: str | None = None) -> dict[str, Any]:
        return {"name": name, "where": where, "value": 0.0, "self": 0.0, "site": None, "new_site": False,
                "children": {}}

    root = node(f"all growth: {title}")
    for r in d["rows"]:
        delta = r[field]
        if delta <= 0:
            continue
        paths = r.get("paths") or [{"stack": r["stack"], path_field: 1}]
        weights = [max(p.get(path_field) or 0, 0) for p in paths]
        if not sum(weights):
            weights = [1] * len(paths)
        for p, w in zip(paths, weights):
            share = delta * w / sum(weights)
            if share <= 0:
                continue
            root["value"] += share
            at, site_node = root, None
            for f in reversed(p["stack"] or [{"function": r["site"]}]):
                at = at["children"].setdefault(f["function"], node(f["function"], frame_where(f)))
                at["value"] += share
                if f["function"] == r["site"]:
                    site_node = at
            at["self"] += share  # the innermost frame: the site, or the library call it made
            site_node = site_node or at
            site_node["site"] = r["site"]
            site_node["new_site"] = site_node["new_site"] or r["new_site"]

    def finish(nd: dict[str, Any]) -> dict[str, Any]:
        kids = sorted(nd["children"].values(), key=lambda c: (-c["value"], c["name"]))
        return {**nd, "children": [finish(c) for c in kids]}

    return {"view": view, "title": title, "field": field, **finish(root)}


def to_json(obj: Any) -> str:
    """profile.json's format."""
    return json.dumps(obj, indent=1, sort_keys=False) + "\n"


def diff_views(d: dict[str, Any]) -> dict[str, Any]:
    """What report.html draws: the diff and one growth tree per figure (analysis.render.profile_html)."""
    return {"diff": d, "trees": [growth_tree(d, view) for view in GROWTH_VIEWS]}
