"""report.html of `memgate profile --against`: the growth table and one icicle view per figure;
self-contained like the result report (analysis/render/html.py, whose stylesheet it shares)."""

from __future__ import annotations

import html
from typing import Any

from analysis.cxx_names import HTML, brief_name, short_name
from analysis.profile import frame_where
from analysis.render import flame
from analysis.render.html import CSS
from analysis.render.profile import site_where, split_stack
from analysis.units import format_bytes


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


PROFILE_CSS = """
.icicles svg{border:1px solid #e3e3e3;margin:6px 0 14px;max-width:100%;height:auto}
.icicle g.site rect{stroke-opacity:.9} .legend .sw-box{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:4px;border-radius:2px}
td.fn{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px;max-width:520px;word-break:break-all}
td.up{color:#b71c1c;font-weight:600} .via{color:#555;font-size:10.5px} .new{color:#b71c1c;font-size:10.5px;font-weight:700;margin-left:4px}
"""


def _short(func: str) -> str:
    return short_name(func, 110, HTML)


def _brief(func: str) -> str:
    return brief_name(func, 90, HTML)


def _profile_side(label: str, side: dict[str, Any]) -> str:
    p = side.get("profiler") or {}
    return (f'<div class="sub"><b>{_e(label)}</b>: <code>{_e(side.get("label") or side.get("scenario"))}</code> '
            f'({_e(side.get("config_text") or "?")}; {_e(side.get("requests"))} measured requests; '
            f'{_e(p.get("name", "?"))}, sampling: {_e(p.get("sampling", "?"))})</div>')


def _growth_table(rows: list[dict[str, Any]]) -> str:
    head = ("<tr><th>#</th><th>site</th><th>at</th><th>called from (innermost first)</th><th>bytes/req</th><th>\u0394 bytes/req</th>"
            "<th>allocs/req</th><th>\u0394 allocs/req</th><th>live growth</th><th>\u0394 live</th></tr>")
    out = ['<div class="wrap"><table class="growth">', head]
    for i, r in enumerate(rows, 1):
        via, callers = split_stack(r)
        called = " \u2190 ".join(_brief(f["function"]) + (f" ({frame_where(f)})" if frame_where(f) else "")
                                 for f in callers[:3])
        new = '<span class="new">new</span>' if r.get("new_site") else ""
        if via:
            new += f'<div class="via">via {_e(_brief(via[-1]["function"]))} ({_e(frame_where(via[-1]) or "-")})</div>'
        up = lambda v: ' up' if v > 0 else ''  # noqa: E731
        out.append(
            f'<tr><td class="num">{i}</td><td class="fn" title="{_e(r["site"])}">{_e(_short(r["site"]))}{new}</td>'
            f'<td>{_e(site_where(r))}</td><td class="fn">{_e(called or "-")}</td>'
            f'<td class="num">{_e(format_bytes(r["bytes_per_request_base"]))} \u2192 {_e(format_bytes(r["bytes_per_request"]))}</td>'
            f'<td class="num{up(r["d_bytes_per_request"])}">{_e(format_bytes(r["d_bytes_per_request"], signed=True))}</td>'
            f'<td class="num">{r["allocs_per_request_base"]:.3f} \u2192 {r["allocs_per_request"]:.3f}</td>'
            f'<td class="num{up(r["d_allocs_per_request"])}">{r["d_allocs_per_request"]:+.3f}</td>'
            f'<td class="num">{_e(format_bytes(r["live_growth_bytes_base"], signed=True))} \u2192 '
            f'{_e(format_bytes(r["live_growth_bytes"], signed=True))}</td>'
            f'<td class="num{up(r["d_live_growth_bytes"])}">{_e(format_bytes(r["d_live_growth_bytes"], signed=True))}</td></tr>')
    if not rows:
        out.append('<tr><td></td><td colspan="9">nothing grew</td></tr>')
    out.append("</table></div>")
    return "".join(out)


_VIEW_FORMAT = {
    "bytes_per_request": lambda v: format_bytes(v) + "/request",
    "allocs_per_request": lambda v: f"{v:.3f} allocations/request",
    "live": lambda v: format_bytes(v),
}


def render_profile_diff(data: dict[str, Any], n: int = 10) -> str:
    """report.html for `memgate profile --against`: data = analysis.profile.diff_views()."""
    d = data["diff"]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>memgate profile diff: {_e(d['candidate'].get('label'))} vs {_e(d['baseline'].get('label'))}</title>"
           f"<style>{CSS}{PROFILE_CSS}</style></head><body>",
           "<h1>memgate profile diff: sites that grew</h1>",
           _profile_side("baseline", d["baseline"]), _profile_side("candidate", d["candidate"])]
    rows = d["rows"][:n]
    out.append(f'<h2>Top {len(rows)} of {len(d["rows"])} growing site(s)</h2>')
    out.append('<div class="sub">Ranked by growth in bytes per measured request: the larger of the allocated-bytes growth '
               'and the live-bytes growth / requests. Sites are the innermost memgate or nghttp2 frame; <i>at</i> is its '
               "file:line. The driver's /mem probe sites are left out.</div>")
    out.append(_growth_table(rows))
    trees = [t for t in data["trees"] if t["value"] > 0]
    out.append("<h2>Where the candidate's growth comes from</h2>")
    if trees:
        out.append('<div class="sub">Icicle views: the top row is all of the growth in one figure; each row below splits '
                   'its frame among the callees it reaches, outermost caller first, down to the site. Hover a frame for its '
                   'full name, file:line and value.</div>' + flame.legend())
        out.append('<div class="icicles">')
        for t in trees:
            fmt = _VIEW_FORMAT[t["view"]]
            out.append(flame.icicle_svg(t, fmt, title=f"Growth in {t['title']}: {fmt(t['value'])} in all"))
        out.append("</div>")
    else:
        out.append('<p class="sub">Nothing grew.</p>')
    out.append('<p class="sub">A site reached by several call paths has its growth split among them in proportion to the '
               "candidate's figure per path. Figures: profile.json (<code>against</code>).</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
