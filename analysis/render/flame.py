"""An icicle view (a flame graph drawn top-down) as inline SVG: no script, no external assets.

Input is a call tree whose nodes are {name, where, value, self, site, new_site, children}, the
root first; analysis/profile.py growth_tree() builds one from a profile diff. The root is
the top row; each row below splits its parent's width among the callees, in proportion to their
value, widest first. Every frame carries a <title> (function, file:line, value, share), so a
browser shows it on hover; labels are cut to the frame's width.
"""

from __future__ import annotations

import hashlib
import html
from typing import Any, Callable

from analysis.cxx_names import HTML, bare_name, brief_name

ROW_H = 18
FONT_PX = 11
CHAR_W = 6.3          # average advance of an 11 px sans-serif glyph, for cutting labels
MIN_W = 0.6           # narrower frames are not drawn (counted in the footer)
MIN_LABEL_W = 28      # no label in a narrower frame

# (predicate on the bare function name, hue range, saturation, lightness): one family per code base.
_FAMILIES = (
    ("memgate", lambda n: n.startswith("memgate::"), (18, 46), 78, 58),
    ("nghttp2", lambda n: n.startswith("nghttp2_"), (195, 220), 60, 62),
    ("Beast", lambda n: n.startswith("boost::beast::"), (95, 130), 45, 55),
)
OTHER = ("other", (0, 0), 0, 72)
NEW_SITE_STROKE = "#b71c1c"


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def frame_label(func: str) -> str:
    """The caller's name without memgate:: (the colour says memgate)."""
    return brief_name(func, style=HTML).removeprefix("memgate::")


def family(func: str) -> str:
    name = bare_name(func)
    return next((f[0] for f in _FAMILIES if f[1](name)), OTHER[0])


def color(func: str) -> str:
    """A stable colour: the family's hue range, the position in it from a hash of the name."""
    name = bare_name(func)
    fam = next((f for f in _FAMILIES if f[1](name)), None)
    if fam is None:
        return f"hsl(0,0%,{OTHER[3]}%)"
    (lo, hi), sat, light = fam[2], fam[3], fam[4]
    h = int(hashlib.blake2s(name.encode(), digest_size=2).hexdigest(), 16) / 0xFFFF
    return f"hsl({lo + (hi - lo) * h:.0f},{sat}%,{light}%)"


def _fit(label: str, width: float) -> str | None:
    if width < MIN_LABEL_W:
        return None
    room = int((width - 6) / CHAR_W)
    if room >= len(label):
        return label
    return label[:max(room - 1, 1)] + "…" if room >= 3 else None


def depth_of(tree: dict[str, Any]) -> int:
    return 1 + max((depth_of(c) for c in tree["children"]), default=0)


def layout(tree: dict[str, Any], width: float) -> tuple[list[dict[str, Any]], int]:
    """Frames to draw [{node, x, y (row), w}] and how many were too narrow to draw."""
    out: list[dict[str, Any]] = []
    hidden = 0
    total = tree["value"] or 1.0

    def walk(nd: dict[str, Any], x: float, row: int) -> None:
        nonlocal hidden
        w = nd["value"] / total * width
        if w < MIN_W:
            hidden += 1
            return
        out.append({"node": nd, "x": x, "row": row, "w": w})
        cx = x
        for c in nd["children"]:
            walk(c, cx, row + 1)
            cx += c["value"] / total * width

    walk(tree, 0.0, 0)
    return out, hidden


def icicle_svg(tree: dict[str, Any], fmt: Callable[[float], str], *, width: int = 1160, title: str | None = None) -> str:
    """The tree as an icicle SVG; `fmt` formats a node's value (e.g. bytes per request)."""
    pad, head = 4, 22
    frames, hidden = layout(tree, width - 2 * pad)
    rows = max((f["row"] for f in frames), default=0) + 1
    height = head + rows * ROW_H + 22
    total = tree["value"] or 1.0
    label = title or tree["name"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="icicle" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}" font-family="system-ui,sans-serif">',
           f'<text x="{pad}" y="15" font-size="13" font-weight="600">{_e(label)}</text>']
    for f in frames:
        nd, x, y, w = f["node"], pad + f["x"], head + f["row"] * ROW_H, f["w"]
        root = f["row"] == 0
        fill = "#d9d9d9" if root else color(nd["name"])
        stroke = ' stroke="{}" stroke-width="1.6"'.format(NEW_SITE_STROKE) if nd.get("new_site") else ' stroke="#fff" stroke-width="0.5"'
        tip = [nd["name"]]
        if nd.get("where"):
            tip.append(f"at {nd['where']}")
        tip.append(f"{fmt(nd['value'])} ({nd['value'] / total:.1%} of the growth)")
        if nd.get("site"):
            tip.append("the allocation site" + (" (new in the candidate)" if nd.get("new_site") else ""))
        if nd["children"] and nd.get("self", 0) > 0:
            tip.append(f"{fmt(nd['self'])} in this frame itself")
        cls = "site" if nd.get("site") else ("root" if root else "frame")
        out.append(f'<g class="{cls}" data-family="{"root" if root else family(nd["name"])}">'
                   f'<title>{_e(chr(10).join(tip))}</title>'
                   f'<rect x="{x:.2f}" y="{y}" width="{max(w - 0.5, 0.3):.2f}" height="{ROW_H - 1}" rx="2" fill="{fill}"{stroke}/>')
        text = _fit(f"{nd['name']} ({fmt(nd['value'])})" if root else frame_label(nd["name"]), w)
        if text:
            out.append(f'<text x="{x + 3:.2f}" y="{y + ROW_H - 5}" font-size="{FONT_PX}" fill="#111">{_e(text)}</text>')
        out.append("</g>")
    foot = head + rows * ROW_H + 15
    note = "width = share of the growth; top row = all of it, each row below = the callees of the frame above"
    if hidden:
        note += f"; {hidden} frame(s) narrower than {MIN_W} px not drawn"
    out.append(f'<text x="{pad}" y="{foot}" font-size="10.5" fill="#555">{_e(note)}</text>')
    out.append("</svg>")
    return "".join(out)


def legend() -> str:
    items = [(f[0], color({"memgate": "memgate::x", "nghttp2": "nghttp2_x", "Beast": "boost::beast::x"}[f[0]]))
             for f in _FAMILIES] + [("other", f"hsl(0,0%,{OTHER[3]}%)")]
    spans = "".join(f'<span><i class="sw-box" style="background:{c}"></i>{_e(n)}</span>' for n, c in items)
    spans += f'<span><i class="sw-box" style="background:#fff;border:2px solid {NEW_SITE_STROKE}"></i>site new in the candidate</span>'
    return f'<div class="legend">{spans}</div>'
