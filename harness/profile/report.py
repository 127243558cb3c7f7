"""Profiler-independent part: stack trimming, per-site figures, the diff, profile.md / profile.json."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from typing import Any

TOP_N = 10
KEEP_FRAMES = 6

# Frames that are the allocator, memgate's own counting hooks, or the profiler: never the "site".
_ALLOCATOR_PREFIXES = ("operator new", "operator delete", "malloc", "calloc", "realloc", "free", "posix_memalign",
                       "aligned_alloc", "memalign", "__libc_", "_int_malloc", "je_", "mi_", "heaptrack",
                       "memgate::metrics::", "memgate::alloc::", "nghttp2_mem_", "CRYPTO_malloc", "CRYPTO_zalloc",
                       "CRYPTO_realloc")
# Library internals dropped from the shown stack (kept only when nothing better exists).
_NOISE_PREFIXES = ("std::", "boost::", "__gnu_cxx::", "void std::", "void boost::", "_start", "__libc_start",
                   "main", "start_thread", "clone", "??")


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


def _is_allocator(func: str) -> bool:
    return func.startswith(_ALLOCATOR_PREFIXES) or func in ("", "<unknown>")


def _matters(func: str) -> bool:
    """memgate:: code and nghttp2 are what a reviewer acts on."""
    if func.startswith(("memgate::metrics::", "memgate::alloc::", "nghttp2_mem_")):
        return False
    head = func.split("(", 1)[0].split("<", 1)[0].strip()
    name = head.split()[-1] if head else ""  # drop a leading return type ("void memgate::...")
    return name.startswith("memgate::") or name.startswith("nghttp2_")


def _short_func(func: str, limit: int = 160) -> str:
    """For tables: template arguments collapsed to <...>, long names cut."""
    out, depth = [], 0
    for ch in func:
        if ch == "<":
            if depth == 0:
                out.append("<...>")
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    text = "".join(out)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def trim_stack(stack: list[Frame]) -> tuple[str, list[Frame]]:
    """(site key, frames that matter), innermost first.

    The key is the innermost memgate:: or nghttp2 frame; without one, the innermost frame
    that is not the allocator (e.g. an OpenSSL or libstdc++ function), tagged with its module.
    """
    body = [f for f in stack if not _is_allocator(f.func)]
    kept = [f for f in body if _matters(f.func)]
    if kept:
        return kept[0].func, kept[:KEEP_FRAMES]
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
    allocs: int = 0
    bytes: int = 0
    live_growth_bytes: int = 0
    live_growth_count: int = 0
    live_end_bytes: int = 0
    _best: int = -1

    def add(self, c: dict[str, int], stack: list[Frame]) -> None:
        self.allocs += c.get("allocs", 0)
        self.bytes += c.get("bytes", 0)
        self.live_growth_bytes += c.get("live_growth_bytes", 0)
        self.live_growth_count += c.get("live_growth_count", 0)
        self.live_end_bytes += c.get("live_end_bytes", 0)
        weight = c.get("bytes", 0) + max(c.get("live_growth_bytes", 0), 0)
        if weight > self._best:
            self._best = weight
            self.stack = stack


def site_rows(sites: dict[str, Site], requests: int, scale: float = 1.0) -> list[dict[str, Any]]:
    """JSON rows; `scale` multiplies sampled figures back to estimates (1 for heaptrack)."""
    req = max(requests, 1)
    rows = []
    for s in sites.values():
        rows.append({
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
            "probe": any(f.func.startswith(PROBE_PREFIXES) for f in s.stack),
        })
    return rows


PROBE_PREFIXES = ("memgate::app::memory_sampler::", "memgate::app::(anonymous namespace)::render(")

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
    """Sites whose per-request bytes/allocations or live growth went up, ranked; the /mem probe's sites are left out."""
    base = {r["site"]: r for r in baseline["sites"]}
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
        d["d_bytes_per_request"] = d["bytes_per_request"] - d["bytes_per_request_base"]
        d["d_allocs_per_request"] = d["allocs_per_request"] - d["allocs_per_request_base"]
        # live growth counts only upward: a negative net (warm-up connections closed inside the window) is not a gain
        d["d_live_growth_bytes"] = max(d["live_growth_bytes"], 0) - max(d["live_growth_bytes_base"], 0)
        d["new_site"] = r["site"] not in base
        rows.append(d)
    # noise floor: ignore < 1 byte and < 0.01 allocations per request, < 4 KiB of live growth
    grew = [d for d in rows if d["d_bytes_per_request"] >= 1 or d["d_allocs_per_request"] >= 0.01
            or d["d_live_growth_bytes"] >= 4096]
    by_bytes = sorted((d for d in grew if d["d_bytes_per_request"] >= 1),
                      key=lambda d: (-d["d_bytes_per_request"], d["site"]))[:n]
    by_allocs = sorted((d for d in grew if d["d_allocs_per_request"] >= 0.01),
                       key=lambda d: (-d["d_allocs_per_request"], d["site"]))[:n]
    by_live = sorted((d for d in grew if d["d_live_growth_bytes"] >= 4096),
                     key=lambda d: (-d["d_live_growth_bytes"], d["site"]))[:n]
    return {"baseline": {k: baseline.get(k) for k in ("label", "scenario", "profiler")},
            "grew_bytes_per_request": by_bytes, "grew_allocs_per_request": by_allocs, "grew_live": by_live}


# -- rendering ------------------------------------------------------------------------------------
def _b(n: float) -> str:
    sign = "-" if n < 0 else ""
    n = abs(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{sign}{n:.0f} {unit}" if unit == "B" else f"{sign}{n:.1f} {unit}"
        n /= 1024
    return f"{sign}{n}"  # pragma: no cover


def _stack_text(stack: list[dict[str, Any]], depth: int = 3) -> str:
    parts = []
    for f in stack[:depth]:
        t = _short_func(f["function"])
        if f.get("file") and f.get("line"):
            t += f" ({os.path.basename(f['file'])}:{f['line']})"
        parts.append(t)
    return " <- ".join(parts) or "-"


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
            lines += ["", "| # | site | live growth | bytes/req | allocs/req | stack (innermost first) |",
                      "|---|---|---:|---:|---:|---|"]
        for i, key in enumerate(profile["top"][name][:n], 1):
            r = rows[key]
            if md:
                lines.append(f"| {i} | `{_md_cell(_short_func(r['site']))}` | {_b(r['live_growth_bytes'])} | {r['bytes_per_request']:.1f} "
                             f"| {r['allocs_per_request']:.3f} | {_md_cell(_stack_text(r['stack']))} |")
            else:
                lines.append(f"  {i}. {_b(r['live_growth_bytes']):>10} live  {r['bytes_per_request']:>11.1f} B/req  "
                             f"{r['allocs_per_request']:>8.3f} allocs/req  {_short_func(r['site'], 110)}")
        if not profile["top"][name]:
            lines.append("| - | (nothing) | | | | |" if md else "  (nothing)")
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
            lines += ["", "| # | site | bytes/req (base -> cand) | allocs/req (base -> cand) | live growth (base -> cand) | stack |",
                      "|---|---|---:|---:|---:|---|"]
        for i, r in enumerate(d[key][:n], 1):
            new = " (new)" if r["new_site"] else ""
            if md:
                lines.append(
                    f"| {i} | `{_md_cell(_short_func(r['site']))}`{new} | {r['bytes_per_request_base']:.1f} -> {r['bytes_per_request']:.1f} "
                    f"(+{r['d_bytes_per_request']:.1f}) | {r['allocs_per_request_base']:.3f} -> {r['allocs_per_request']:.3f} "
                    f"| {_b(r['live_growth_bytes_base'])} -> {_b(r['live_growth_bytes'])} | {_md_cell(_stack_text(r['stack']))} |")
            else:
                lines.append(f"  {i}. +{r['d_bytes_per_request']:>11.1f} B/req  +{r['d_allocs_per_request']:.3f} allocs/req  "
                             f"+{_b(r['d_live_growth_bytes'])} live  {_short_func(r['site'], 100)}{new}")
        if not d[key]:
            lines.append("| - | (nothing grew) | | | | |" if md else "  (nothing grew)")
        lines.append("")
    return "\n".join(lines)


def render_markdown(profile: dict[str, Any], against: dict[str, Any] | None = None) -> str:
    p = profile["profiler"]
    lines = [f"# memgate profile: {profile.get('label') or profile['scenario']}", "",
             f"- scenario: `{profile['scenario']}` ({profile.get('config_text', '')})",
             f"- profiler: **{p['name']}** ({p.get('version') or '?'}), sampling: {p['sampling']}",
             f"- measured requests: {profile['requests']}; window: the measured run "
             f"({profile.get('window', {}).get('how', '')})",
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
    lines += ["Stacks are trimmed: allocator, memgate's counting hooks, std::, boost:: (asio/beast) frames are dropped; "
              "memgate:: and nghttp2 frames are kept, innermost first. Full stacks (up to "
              f"{KEEP_FRAMES} kept frames) are in profile.json.", ""]
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
