"""Profile rendering as text: the console summary, profile.md and report.md of `memgate profile`
(the numbers: analysis/profile.py; report.html: analysis/render/profile_html.py)."""

from __future__ import annotations

from typing import Any

from analysis.cxx_names import brief_name, short_name
from analysis.profile import KEEP_FRAMES, RANKINGS, frame_where

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
    return (frame_where(f) if f else None) or "-"


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
        t = brief_name(f["function"], 100)
        if frame_where(f):
            t += f" ({frame_where(f)})"
        parts.append(t)
    return " <- ".join(parts) or "-"


def _site_cell(r: dict[str, Any], limit: int = 160) -> str:
    via, _ = split_stack(r)
    text = f"`{_md_cell(short_name(r['site'], limit))}`" + (" (new)" if r.get("new_site") else "")
    if via:
        text += f" via `{_md_cell(brief_name(via[-1]['function'], 100))}` ({frame_where(via[-1]) or '-'})"
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
                             f"{r['allocs_per_request']:>8.3f} allocs/req  {short_name(r['site'], 100)} ({site_where(r)})")
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
                             f"+{_b(r['d_live_growth_bytes'])} live  {short_name(r['site'], 90)} ({site_where(r)}){new}")
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
    stopped = profile.get("interrupted")
    if stopped:
        lines.append(f"- **interrupted** by {stopped['signal']} during the {stopped['phase']}: the sites, measured "
                     "before it, are whole")
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


def render_console(profile: dict[str, Any], against: dict[str, Any] | None) -> str:
    """What `memgate profile` prints: the profiler, its overhead, the diff when there is one, the tables."""
    p = profile["profiler"]
    lines = [f"profile {profile['scenario']} ({profile['config_text']}) under {p['name']}, sampling: {p['sampling']}"]
    ov = profile.get("overhead") or {}
    if ov.get("ratio"):
        lines.append(f"overhead: {ov['profiled_rps']:.0f} req/s profiled vs {ov['plain_rps']:.0f} req/s plain "
                     f"(ratio {ov['ratio']:.3f}; medians of {len(ov['profiled_rps_runs'])} and "
                     f"{len(ov['plain_rps_runs'])} runs)")
    if against is not None:
        lines.append(render_diff(against, md=False))
    lines.append(render_tables(profile, md=False))
    return "\n".join(lines)
