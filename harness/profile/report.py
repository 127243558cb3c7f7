"""Profiler-independent part: stack trimming, per-site figures, the diff, profile.md / profile.json."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import subprocess
import tempfile
from typing import Any

from analysis.units import collapse_templates, cut

TOP_N = 10
KEEP_FRAMES = 6

# Frames that are the allocator, memgate's own counting hooks, or the profiler: never the "site".
_ALLOCATOR_PREFIXES = ("operator new", "operator delete", "malloc", "calloc", "realloc", "free", "posix_memalign",
                       "aligned_alloc", "memalign", "__libc_", "_int_malloc", "je_", "mi_", "heaptrack",
                       "memgate::metrics::", "memgate::alloc::", "nghttp2_mem_", "CRYPTO_malloc", "CRYPTO_zalloc",
                       "CRYPTO_realloc")
# memgate's counting hooks by source file: with DWARF their names lose the namespace (the nghttp2_mem
# hooks in heap_accounting.cpp's anonymous namespace show as plain `nghttp2_malloc`).
_HOOK_FILES = ("server/metrics/heap_accounting.cpp", "server/metrics/counters.", "server/alloc/")
# Library internals dropped from the shown stack (kept only when nothing better exists).
_NOISE_PREFIXES = ("std::", "boost::", "__gnu_cxx::", "void std::", "void boost::", "_start", "__libc_start",
                   "main", "start_thread", "clone", "??")
# Library code shown (not keyed) beneath the first memgate frame: the Beast call memgate made.
_CONTEXT_PREFIXES = ("boost::beast::",)


@functools.lru_cache(maxsize=64)
def has_debug_info(binary: str) -> bool | None:
    """Whether an ELF file carries DWARF line tables (None: readelf unavailable)."""
    try:
        out = subprocess.run(["readelf", "-S", "--wide", binary], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return ".debug_info" in out or ".debug_line" in out


@dataclasses.dataclass(frozen=True)
class Frame:
    func: str
    file: str = ""
    line: int = 0
    module: str = ""

    def text(self) -> str:
        where = f" ({self.file}:{self.line})" if self.file and self.line else ""
        return f"{self.func}{where}"

    def to_json(self) -> dict[str, Any]:
        return {"function": self.func, "file": self.file or None, "line": self.line or None,
                "module": os.path.basename(self.module) if self.module else None}


def _is_allocator(f: Frame) -> bool:
    if f.func.startswith(_ALLOCATOR_PREFIXES) or f.func in ("", "<unknown>"):
        return True
    return bool(f.file) and any(h in f.file for h in _HOOK_FILES)


def _name(func: str) -> str:
    """The qualified name without a leading return type ("void memgate::f<...>(...)" -> "memgate::f")."""
    head = func.split("(", 1)[0].split("<", 1)[0].strip()
    return head.split()[-1] if head else ""


def _matters(func: str) -> bool:
    """memgate:: code and nghttp2 are what a reviewer acts on."""
    if func.startswith(("memgate::metrics::", "memgate::alloc::", "nghttp2_mem_")):
        return False
    name = _name(func)
    return name.startswith("memgate::") or name.startswith("nghttp2_")


def _short_func(func: str, limit: int = 160) -> str:
    """For tables: template arguments collapsed to <...>, long names cut."""
    return cut(collapse_templates(func), limit)


def _dedupe(frames: list[Frame]) -> list[Frame]:
    """Consecutive frames of one function (a handler's nested lambdas, recursion) shown once, innermost kept."""
    out: list[Frame] = []
    for f in frames:
        if not out or out[-1].func != f.func:
            out.append(f)
    return out


def trim_stack(stack: list[Frame]) -> tuple[str, list[Frame]]:
    """(site key, frames that matter), innermost first.

    The key is the innermost memgate:: or nghttp2 frame (with DWARF, inlined frames count: the
    buffered strategy's `strategy::fresh_buffer` is its own site, not its caller). The frames shown
    are the memgate:: and nghttp2 ones from there outwards, led by the Beast call memgate made when
    one sits between the allocator and the key. Allocator, hook, std:: (libstdc++) and Asio frames
    are dropped. Without a memgate or nghttp2 frame: the innermost Beast frame, else the innermost
    frame that is not the allocator (e.g. an OpenSSL function), tagged with its module.
    """
    body = [f for f in stack if not _is_allocator(f)]
    first = next((i for i, f in enumerate(body) if _matters(f.func)), None)
    if first is not None:
        kept = _dedupe([f for f in body[first:] if _matters(f.func)])
        context = [f for f in body[:first] if _name(f.func).startswith(_CONTEXT_PREFIXES)]
        if context:
            kept = [context[-1]] + kept
        return body[first].func, kept[:KEEP_FRAMES]
    beast = [f for f in body if _name(f.func).startswith(_CONTEXT_PREFIXES)]
    if beast:
        return beast[0].func, _dedupe(beast)[:3]
    other = [f for f in body if not f.func.startswith(_NOISE_PREFIXES)] or body
    if other:
        f = other[0]
        mod = os.path.basename(f.module) if f.module else "?"
        return f"{f.func} [{mod}]", other[:3]
    return "<no stack>", []


@dataclasses.dataclass
class Site:
    key: str
    stack: list[Frame]
    allocs: float = 0
    bytes: float = 0
    live_growth_bytes: float = 0
    live_growth_count: float = 0
    live_end_bytes: float = 0
    _best: float = -1
    # trimmed call path (function names) -> [frames, allocs, bytes, live growth bytes]: the site's callers
    paths: dict[tuple[str, ...], list[Any]] = dataclasses.field(default_factory=dict)

    def add(self, c: dict[str, float], stack: list[Frame]) -> None:
        self.allocs += c.get("allocs", 0)
        self.bytes += c.get("bytes", 0)
        self.live_growth_bytes += c.get("live_growth_bytes", 0)
        self.live_growth_count += c.get("live_growth_count", 0)
        self.live_end_bytes += c.get("live_end_bytes", 0)
        weight = c.get("bytes", 0) + max(c.get("live_growth_bytes", 0), 0)
        if weight > self._best:
            self._best = weight
            self.stack = stack
        p = self.paths.setdefault(tuple(f.func for f in stack), [stack, 0, 0, 0])
        p[1] += c.get("allocs", 0)
        p[2] += c.get("bytes", 0)
        p[3] += c.get("live_growth_bytes", 0)


MAX_PATHS = 4


def _paths_json(s: Site, scale: float) -> list[dict[str, Any]]:
    """The site's heaviest call paths (for the icicle view); empty when there is only one."""
    if len(s.paths) < 2:
        return []
    ranked = sorted(s.paths.values(), key=lambda p: -(p[2] + max(p[3], 0)))[:MAX_PATHS]
    return [{"stack": [{"function": f.func, "file": f.file or None, "line": f.line or None} for f in frames],
             "allocs": round(a * scale), "bytes": round(b * scale), "live_growth_bytes": round(lv * scale)}
            for frames, a, b, lv in ranked]


def site_rows(sites: dict[str, Site], requests: int, scale: float = 1.0) -> list[dict[str, Any]]:
    """JSON rows; `scale` multiplies sampled figures back to estimates (1 for heaptrack)."""
    req = max(requests, 1)
    rows = []
    for s in sites.values():
        row = {
            "site": s.key,
            "stack": [f.to_json() for f in s.stack],
            "allocs": round(s.allocs * scale),
            "bytes": round(s.bytes * scale),
            "allocs_per_request": s.allocs * scale / req,
            "bytes_per_request": s.bytes * scale / req,
            "live_growth_bytes": round(s.live_growth_bytes * scale),
            "live_growth_count": round(s.live_growth_count * scale),
            "live_end_bytes": round(s.live_end_bytes * scale),
            # the driver's own /mem probes (their count follows the run's duration, not the traffic)
            "probe": any(f.func.startswith(PROBE_PREFIXES) or f.file.endswith(PROBE_FILES) for f in s.stack),
        }
        paths = _paths_json(s, scale)
        if paths:
            row["paths"] = paths
        rows.append(row)
    return rows


PROBE_PREFIXES = ("memgate::app::memory_sampler::", "memgate::app::(anonymous namespace)::render(")
PROBE_FILES = ("server/app/memory_sampler.cpp",)

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


def _where(frame: dict[str, Any]) -> str | None:
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
                at = at["children"].setdefault(f["function"], node(f["function"], _where(f)))
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


# -- rendering ------------------------------------------------------------------------------------
def _b(n: float) -> str:
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{sign}{n:.0f} {unit}" if unit == "B" else f"{sign}{n:.1f} {unit}"
        n /= 1024
    return f"{sign}{n}"  # pragma: no cover


def _sb(n: float) -> str:
    return ("+" if n > 0 else "") + _b(n)


def site_where(r: dict[str, Any]) -> str:
    """file:line of the site's own frame (where it calls into the allocator or the next frame), or "-"."""
    f = next((f for f in r["stack"] if f["function"] == r["site"]), None)
    return (_where(f) if f else None) or "-"


def brief_func(func: str) -> str:
    """A caller's name for tables: no parameters, template arguments collapsed, no return type."""
    head = _short_func(func.split("(", 1)[0] if "(" in func else func, 100).split()
    return head[-1] if head else func


def split_stack(r: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(library frames the site called, e.g. the Beast call that allocated; the site's callers), innermost first."""
    stack = r["stack"]
    i = next((k for k, f in enumerate(stack) if f["function"] == r["site"]), None)
    if i is None:
        return [], stack
    return stack[:i], stack[i + 1:]


def _frames_text(frames: list[dict[str, Any]], depth: int = 3) -> str:
    parts = []
    for f in frames[:depth]:
        t = brief_func(f["function"])
        if _where(f):
            t += f" ({_where(f)})"
        parts.append(t)
    return " <- ".join(parts) or "-"


def _site_cell(r: dict[str, Any], limit: int = 160) -> str:
    via, _ = split_stack(r)
    text = f"`{_md_cell(_short_func(r['site'], limit))}`" + (" (new)" if r.get("new_site") else "")
    if via:
        text += f" via `{_md_cell(brief_func(via[-1]['function']))}` ({_where(via[-1]) or '-'})"
    return text


def _callers_text(r: dict[str, Any], depth: int = 3) -> str:
    return _frames_text(split_stack(r)[1], depth)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_tables(profile: dict[str, Any], n: int = 5, md: bool = True) -> str:
    lines = []
    rows = {r["site"]: r for r in profile["sites"]}
    for name, (field, title) in RANKINGS.items():
        if name == "live" and profile.get("live_title"):
            title = profile["live_title"]
        lines.append(f"### Top {n} by {title}" if md else f"Top {n} by {title}:")
        if md:
            lines += ["", "| # | site | at | live growth | bytes/req | allocs/req | called from (innermost first) |",
                      "|---|---|---|---:|---:|---:|---|"]
        for i, key in enumerate(profile["top"][name][:n], 1):
            r = rows[key]
            if md:
                lines.append(f"| {i} | {_site_cell(r)} | {site_where(r)} | {_b(r['live_growth_bytes'])} "
                             f"| {r['bytes_per_request']:.1f} | {r['allocs_per_request']:.3f} "
                             f"| {_md_cell(_callers_text(r))} |")
            else:
                lines.append(f"  {i}. {_b(r['live_growth_bytes']):>10} live  {r['bytes_per_request']:>11.1f} B/req  "
                             f"{r['allocs_per_request']:>8.3f} allocs/req  {_short_func(r['site'], 100)} ({site_where(r)})")
        if not profile["top"][name]:
            lines.append("| - | (nothing) | | | | | |" if md else "  (nothing)")
        lines.append("")
    return "\n".join(lines)


def render_diff(d: dict[str, Any], n: int = 5, md: bool = True) -> str:
    lines = []
    specs = (("grew_bytes_per_request", "bytes allocated per request"),
             ("grew_allocs_per_request", "allocations per request"),
             ("grew_live", "live bytes grown over the measured run"))
    for key, title in specs:
        lines.append(f"### Sites that grew: {title}" if md else f"Grew, {title}:")
        if md:
            lines += ["", "| # | site | at | bytes/req (base -> cand) | allocs/req (base -> cand) | live growth (base -> cand) "
                      "| called from |", "|---|---|---|---:|---:|---:|---|"]
        for i, r in enumerate(d[key][:n], 1):
            new = " (new)" if r["new_site"] else ""
            if md:
                lines.append(
                    f"| {i} | {_site_cell(r)} | {site_where(r)} "
                    f"| {r['bytes_per_request_base']:.1f} -> {r['bytes_per_request']:.1f} (+{r['d_bytes_per_request']:.1f}) "
                    f"| {r['allocs_per_request_base']:.3f} -> {r['allocs_per_request']:.3f} "
                    f"| {_b(r['live_growth_bytes_base'])} -> {_b(r['live_growth_bytes'])} "
                    f"| {_md_cell(_callers_text(r))} |")
            else:
                lines.append(f"  {i}. +{r['d_bytes_per_request']:>11.1f} B/req  +{r['d_allocs_per_request']:.3f} allocs/req  "
                             f"+{_b(r['d_live_growth_bytes'])} live  {_short_func(r['site'], 90)} ({site_where(r)}){new}")
        if not d[key]:
            lines.append("| - | (nothing grew) | | | | | |" if md else "  (nothing grew)")
        lines.append("")
    return "\n".join(lines)


def _source_line(side: dict[str, Any]) -> str:
    p = side.get("profiler") or {}
    return (f"`{side.get('label') or side.get('scenario')}` ({side.get('config_text') or '?'}; {side.get('requests')} "
            f"measured requests; {p.get('name', '?')}, sampling: {p.get('sampling', '?')})")


def render_report_md(d: dict[str, Any], n: int = 10) -> str:
    """report.md: one short table of the sites that grew, baseline -> candidate, ranked (see diff())."""
    lines = ["# memgate profile diff: sites that grew", "",
             f"- baseline: {_source_line(d['baseline'])}",
             f"- candidate: {_source_line(d['candidate'])}",
             "- ranked by growth in bytes per measured request: the larger of the allocated-bytes growth and the "
             "live-bytes growth / requests; the driver's /mem probe sites are left out", "",
             "| # | site | at | called from | bytes/req | Δ bytes/req | allocs/req | Δ allocs/req | live growth | Δ live |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(d["rows"][:n], 1):
        lines.append(f"| {i} | {_site_cell(r, 90)} | {site_where(r)} | {_md_cell(_callers_text(r, 2))} "
                     f"| {_b(r['bytes_per_request_base'])} -> {_b(r['bytes_per_request'])} | {_sb(r['d_bytes_per_request'])} "
                     f"| {r['allocs_per_request_base']:.3f} -> {r['allocs_per_request']:.3f} | {r['d_allocs_per_request']:+.3f} "
                     f"| {_b(r['live_growth_bytes_base'])} -> {_b(r['live_growth_bytes'])} | {_sb(r['d_live_growth_bytes'])} |")
    if not d["rows"]:
        lines.append("| - | (nothing grew) | | | | | | | | |")
    extra = len(d["rows"]) - min(len(d["rows"]), n)
    lines += ["", f"{extra} more site(s) grew: profile.json (`against.rows`)." if extra else "",
              "The icicle view of this growth is in report.html.", ""]
    return "\n".join(lines)


def render_markdown(profile: dict[str, Any], against: dict[str, Any] | None = None) -> str:
    p = profile["profiler"]
    lines = [f"# memgate profile: {profile.get('label') or profile['scenario']}", "",
             f"- scenario: `{profile['scenario']}` ({profile.get('config_text', '')})",
             f"- profiler: **{p['name']}** ({p.get('version') or '?'}), sampling: {p['sampling']}",
             f"- measured requests: {profile['requests']}; window: {profile.get('window', {}).get('how', '')}",
             f"- symbolization: {profile.get('symbolization', '?')}"]
    if profile.get("requests_served_total"):
        lines.append(f"- per-request figures divide by all {profile['requests_served_total']} requests the server served")
    ov = profile.get("overhead")
    if ov:
        if ov.get("ratio"):
            lines.append(f"- profiler overhead: {ov['profiled_rps']:.0f} req/s profiled vs {ov['plain_rps']:.0f} req/s "
                         f"without, ratio {ov['ratio']:.3f} (throughput with / without)")
        else:
            lines.append(f"- profiler overhead: {ov.get('note', 'not measured')}")
    t = profile["totals"]
    lines += [f"- totals: {t['allocs_per_request']:.2f} allocations and {_b(t['bytes_per_request'])} per request; "
              f"live growth {_b(t['live_growth_bytes'])}", ""]
    if against is not None:
        lines += [f"## Against {against['baseline'].get('label') or against['baseline'].get('scenario')}", "",
                  render_diff(against)]
    lines += ["## Top allocation sites", "", render_tables(profile)]
    lines += ["Sites are the innermost memgate:: or nghttp2 frame (inlined ones included when the binary has DWARF); "
              "`at` is that frame's file:line. Stacks are trimmed: allocator, memgate's counting hooks, libstdc++ "
              "(std::) and Asio frames are dropped; memgate:: and nghttp2 frames are kept, innermost first, led by "
              "the Beast call memgate made when there is one. Up to "
              f"{KEEP_FRAMES} kept frames per site are in profile.json.", ""]
    return "\n".join(lines)


def write_atomic(path: str, text: str) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=False) + "\n"


def diff_views(d: dict[str, Any]) -> dict[str, Any]:
    """What report.html draws: the diff and one growth tree per figure (analysis.render.html.render_profile_diff)."""
    return {"diff": d, "trees": [growth_tree(d, view) for view in GROWTH_VIEWS]}
