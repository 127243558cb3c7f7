"""report.html: self-contained (inline CSS and SVG, no script, no network) from
analysis.report.build_report() data: the report.md tables plus charts."""

from __future__ import annotations

import html
import math
import re
from typing import Any

from analysis.diff import sources_line
from analysis.render.markdown import RSS_EXPLAINED_NOTE, rss_explained_rows, table_rows
from analysis.report import UNDECIDED_DECIDE, UNDECIDED_WHY
from analysis.units import format_cell, format_number

BASE_COLOR = "#4a78b5"
CAND_COLOR = "#e07b22"
VERDICT_COLOR = {"regression": "#c62828", "invalid": "#8e5c00", "undecided": "#b25f00", "improvement": "#2e7d32",
                 "unchanged": "#555", "new": "#555", "removed": "#555"}
SUMMARY_COLOR = {"PASS": VERDICT_COLOR["improvement"], "FAIL": VERDICT_COLOR["regression"],
                 "INVALID": VERDICT_COLOR["invalid"], "UNDECIDED": VERDICT_COLOR["undecided"]}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;max-width:1500px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 6px;padding-top:10px;border-top:1px solid #ddd}
.sub{color:#555} .note{background:#fff8e1;border-left:4px solid #f0b400;padding:6px 10px;margin:8px 0}
.counts span{display:inline-block;padding:3px 10px;margin:6px 6px 0 0;border-radius:12px;color:#fff;font-weight:600}
.wrap{overflow-x:auto} table{border-collapse:collapse;margin:8px 0;font-size:11.5px} th,td{border:1px solid #ccc;padding:2px 4px}
td.num{white-space:nowrap} th{font-size:11px}
th{background:#f2f2f2} td.num{text-align:right;font-variant-numeric:tabular-nums} tr.change td{background:#fafafa;font-weight:600}
.verdict{font-weight:700} ul{margin:4px 0 8px 18px;padding:0} li.reason{color:#b71c1c} li.good{color:#1b5e20}
li.undecided{color:#8a4b00} .undecided{background:#fff3e0;border-left:4px solid #b25f00;padding:6px 10px;margin:8px 0}
.charts{display:flex;flex-wrap:wrap;gap:14px} svg{background:#fff;border:1px solid #e3e3e3}
.legend span{display:inline-block;margin-right:14px} .sw{display:inline-block;width:18px;height:4px;vertical-align:middle;margin-right:4px}
"""


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not math.isfinite(hi - lo):  # a NaN or infinite figure, or a span past float: no axis to mark
        return []
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    if raw <= 0:  # a span too small for a float step, or lo too large for lo + 1 to differ
        return [lo]
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(v)
        v += step
    return ticks


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def _byte_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """(value, label) ticks on round numbers of one binary unit: +0.5 MiB, +1 MiB, +1.5 MiB."""
    span = max(hi - lo, 1.0)
    unit = 0
    while span / 1024 ** unit >= 1024 and unit < len(_UNITS) - 1:
        unit += 1
    scale = 1024 ** unit
    out = []
    for t in _nice_ticks(lo / scale, hi / scale):
        t = round(t, 6)
        sign = "+" if t > 0 else ("\u2212" if t < 0 else "")
        out.append((t * scale, f"{sign}{abs(t):g} {_UNITS[unit]}" if t else "0"))
    return out


def line_chart(title: str, series: list[dict[str, Any]], *, width: int = 520, height: int = 250) -> str:
    """series: [{label, color, dash, xs, ys}] -> an SVG; x = requests completed, y = bytes."""
    pts = [(x, y) for s in series for x, y in zip(s["xs"], s["ys"]) if y is not None and x is not None]
    left, right, top, bottom = 78, 30, 28, 40
    w, h = width - left - right, height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
           f'<text x="{left}" y="18" font-size="13" font-weight="600">{_e(title)}</text>']
    if not pts:
        out.append(f'<text x="{left + 10}" y="{top + h / 2}" fill="#888">no timeline in the result files</text></svg>')
        return "".join(out)
    x0, x1 = 0.0, max(max(p[0] for p in pts), 1)
    y0, y1 = min(0.0, min(p[1] for p in pts)), max(max(p[1] for p in pts), 1.0)
    y1 += (y1 - y0) * 0.05
    sx = lambda x: left + (x - x0) / (x1 - x0) * w
    sy = lambda y: top + h - (y - y0) / (y1 - y0) * h
    for t, label in _byte_ticks(y0, y1):
        if y0 <= t <= y1:
            out.append(f'<line x1="{left}" x2="{left + w}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#eee"/>'
                       f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" font-size="11" text-anchor="end">{_e(label)}</text>')
    for t in _nice_ticks(x0, x1):
        if x0 <= t <= x1:
            out.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{top + h}" y2="{top + h + 4}" stroke="#666"/>'
                       f'<text x="{sx(t):.1f}" y="{top + h + 16}" font-size="11" text-anchor="middle">{_e(format_number(t))}</text>')
    out.append(f'<line x1="{left}" x2="{left + w}" y1="{sy(0):.1f}" y2="{sy(0):.1f}" stroke="#999"/>')
    out.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#bbb"/>')
    out.append(f'<text x="{left + w / 2}" y="{height - 6}" font-size="11" text-anchor="middle" fill="#444">requests completed</text>')
    for s in series:
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(s["xs"], s["ys"]) if y is not None)
        dash = ' stroke-dasharray="5,3"' if s.get("dash") else ""
        out.append(f'<polyline fill="none" stroke="{s["color"]}" stroke-width="1.8" stroke-opacity="0.85"{dash} points="{coords}">'
                   f'<title>{_e(s["label"])}</title></polyline>')
    out.append("</svg>")
    return "".join(out)


def _ticks(lo: float, hi: float, kind: str) -> list[tuple[float, str]]:
    if kind == "bytes":
        return _byte_ticks(lo, hi)
    return [(t, format_cell(t, kind, signed=True) if t else "0") for t in _nice_ticks(lo, hi)]


def bar_chart(title: str, rows: list[tuple[str, dict | None, dict | None, float | None]], *, kind: str = "bytes",
              width: int = 700) -> str:
    """Per scenario: baseline and candidate median bars with a min-max whisker over replicates, and the
    gate's limit as a red mark where the row has one. kind: how figures render (analysis.units.format_cell)."""
    label_w, right, top, bar_h, gap = 250, 90, 30, 11, 12
    plot_w = width - label_w - right
    height = top + len(rows) * (2 * bar_h + gap) + 30
    fmt = lambda v: format_cell(v, kind, signed=True)
    vals = [v for _, b, c, _ in rows for side in (b, c) if side for v in (side["min"], side["max"], side["median"])]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
           f'<text x="8" y="18" font-size="13" font-weight="600">{_e(title)}</text>']
    if not vals:
        out.append('<text x="8" y="44" fill="#888">no values</text></svg>')
        return "".join(out)
    vals += [limit for *_, limit in rows if limit is not None]
    lo, hi = min(0.0, min(vals)), max(0.0, max(vals))
    if hi == lo:
        hi = lo + 1
    sx = lambda v: label_w + (v - lo) / (hi - lo) * plot_w
    for t, label in _ticks(lo, hi, kind):
        if lo <= t <= hi:
            out.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{top - 4}" y2="{height - 24}" stroke="#eee"/>'
                       f'<text x="{sx(t):.1f}" y="{height - 10}" font-size="10.5" text-anchor="middle">{_e(label)}</text>')
    y = top
    for name, b, c, limit in rows:
        short = name if len(name) <= 38 else name[:36] + "\u2026"
        out.append(f'<text x="{label_w - 8}" y="{y + bar_h + 4}" font-size="11.5" text-anchor="end"><title>{_e(name)}</title>{_e(short)}</text>')
        for k, (side, color) in enumerate(((b, BASE_COLOR), (c, CAND_COLOR))):
            yy = y + k * bar_h
            if not side:
                continue
            x_a, x_b = sorted((sx(0), sx(side["median"])))
            out.append(f'<rect x="{x_a:.1f}" y="{yy + 1}" width="{max(x_b - x_a, 1):.1f}" height="{bar_h - 2}" fill="{color}">'
                       f'<title>{"baseline" if k == 0 else "candidate"} median {_e(fmt(side["median"]))} '
                       f'(min {_e(fmt(side["min"]))}, max {_e(fmt(side["max"]))}, '
                       f'{side["n"]} replicate(s))</title></rect>')
            if side["n"] > 1:
                mid = yy + bar_h / 2
                out.append(f'<line x1="{sx(side["min"]):.1f}" x2="{sx(side["max"]):.1f}" y1="{mid}" y2="{mid}" stroke="#222" stroke-width="1.2"/>'
                           f'<line x1="{sx(side["min"]):.1f}" x2="{sx(side["min"]):.1f}" y1="{mid - 4}" y2="{mid + 4}" stroke="#222"/>'
                           f'<line x1="{sx(side["max"]):.1f}" x2="{sx(side["max"]):.1f}" y1="{mid - 4}" y2="{mid + 4}" stroke="#222"/>')
            out.append(f'<text x="{width - right + 6}" y="{yy + bar_h - 1}" font-size="10.5" fill="{color}">'
                       f'{_e(fmt(side["median"]))}</text>')
        if limit is not None:
            out.append(f'<line class="limit" x1="{sx(limit):.1f}" x2="{sx(limit):.1f}" y1="{y - 2}" y2="{y + 2 * bar_h + 2}" '
                       f'stroke="{VERDICT_COLOR["regression"]}" stroke-width="2.5"><title>limit {_e(fmt(limit))}</title></line>')
        y += 2 * bar_h + gap
    out.append(f'<line x1="{sx(0):.1f}" x2="{sx(0):.1f}" y1="{top - 4}" y2="{height - 24}" stroke="#666"/>')
    out.append("</svg>")
    return "".join(out)


def _overview_chart(bm: dict[str, Any], compared: list[dict[str, Any]]) -> str:
    """One metric across scenarios; for a metric a regression failed on (or the gate left undecided),
    those scenarios come first, each with its limit, and the title says so."""
    metric = bm["metric"]
    marked = bm["failed_in"] + bm.get("undecided_in", [])
    order = sorted(compared, key=lambda sc: sc["name"] not in marked)
    limits = {sc["name"]: next((c["limit"] for c in sc["checks"] if c["metric"] == metric), None) for sc in compared}
    rows = [(sc["name"], sc["bars"][metric]["baseline"], sc["bars"][metric]["candidate"],
             limits[sc["name"]] if sc["name"] in marked else None) for sc in order]
    title = bm["title"] + " (median, min\u2013max)"
    said = [f"{word} in {len(names)} scenario(s)" for word, names in (("FAILED", bm["failed_in"]),
                                                                      ("UNDECIDED", bm.get("undecided_in", []))) if names]
    if said:
        title = f"{', '.join(said)}: {title}, red mark: the limit"
    return bar_chart(title, rows, kind=bm["kind"])


def _legend() -> str:
    return (f'<div class="legend"><span><i class="sw" style="background:{BASE_COLOR}"></i>baseline</span>'
            f'<span><i class="sw" style="background:{CAND_COLOR}"></i>candidate</span>'
            f'<span>whiskers: min\u2013max over replicates; one line per replicate in timelines</span></div>')


def _timeline_series(sc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    series = []
    for side, color in (("baseline", BASE_COLOR), ("candidate", CAND_COLOR)):
        for tl in sc["timelines"][side]:
            series.append({"label": f"{side} replicate {tl.get('replicate')}", "color": color, "dash": side == "baseline",
                           "xs": tl["requests"], "ys": tl[key]})
    return series


def _table(sc: dict[str, Any], columns: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{_e(c['header'])}</th>" for c in columns)
    out = [f'<div class="wrap"><table><tr><th></th>{head}<th>Verdict</th></tr>']
    for label, cells in table_rows(sc, columns):
        tds = "".join(f'<td class="{"" if col["kind"] == "text" else "num"}">{_e(v)}</td>' for col, v in zip(columns, cells))
        verdict = ""
        if label == "change":
            verdict = f'<span class="verdict" style="color:{VERDICT_COLOR[sc["verdict"]]}">{_e(sc["verdict"])}</span>'
        out.append(f'<tr class="{label}"><th>{label}</th>{tds}<td>{verdict}</td></tr>')
    out.append("</table></div>")
    return "".join(out)


def _outside(outside: dict[str, Any] | None, columns: list[dict[str, Any]]) -> str:
    """The figures from outside the process and, with cgroup data, the RSS explained (tables of class "outside")."""
    if not outside:
        return ""
    head = "".join(f"<th>{_e(c['header'])}</th>" for c in columns)
    out = ['<div class="sub">From outside the process (its tree in /proc, its cgroup):</div>',
           f'<div class="wrap"><table class="outside"><tr><th></th>{head}</tr>']
    for label, cells in table_rows(outside, columns):
        out.append(f'<tr class="{label}"><th>{label}</th>' + "".join(f'<td class="num">{_e(v)}</td>' for v in cells) + "</tr>")
    out.append("</table></div>")
    if outside["rss_explained"]:
        out.append('<div class="sub">RSS explained:</div><table class="outside"><tr><th></th><th>baseline</th><th>candidate</th></tr>')
        for label, base, cand in rss_explained_rows(outside["rss_explained"]):
            out.append(f'<tr><th>{_e(label)}</th><td class="num">{_e(base)}</td><td class="num">{_e(cand)}</td></tr>')
        out.append(f'</table><div class="sub">{_e(RSS_EXPLAINED_NOTE)}</div>')
    return "".join(out)


def _calibration(data: dict[str, Any]) -> list[str]:
    """The gate's measured false-alarm rate and power, per scenario with a calibration beside its baseline."""
    return [f'<div class="sub">Calibration of {_e(name)}: {_e(line)}.</div>'
            for name, line in (data.get("calibration") or {}).items()]


def _undecided(scenarios: list[dict[str, Any]]) -> str:
    """Each undecided check and the command that decides its scenario (a box of class "undecided")."""
    undecided = [sc for sc in scenarios if sc["verdict"] == "undecided"]
    if not undecided:
        return ""
    items = "".join(f'<li class="undecided">{_e(sc["name"])}: {_e(r)}</li>' for sc in undecided for r in sc["reasons"])
    commands = "".join(f"<li>decide {_e(sc['name'])}: <code>{_e(sc['decide'])}</code></li>" for sc in undecided)
    return (f'<div class="undecided"><b>Undecided in {len(undecided)} scenario(s)</b>: {_e(UNDECIDED_WHY)}.'
            f'<ul>{items}{commands}</ul>{_code(UNDECIDED_DECIDE[0].upper() + UNDECIDED_DECIDE[1:])}.</div>')


def _code(text: str) -> str:
    """Escaped text whose `backticked` spans (Markdown's code) become <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(text))


def render(data: dict[str, Any]) -> str:
    s = data["summary"]
    counts = s["counts"]
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>memgate report: {_e(s['line'])}</title><style>{CSS}</style></head><body>"]
    out.append(f'<h1>memgate report: <span style="color:{SUMMARY_COLOR[s["verdict"]]}">{_e(s["verdict"])}</span></h1>')
    out.append(f'<div class="sub">baseline <code>{_e(data["baseline"]["path"])}</code> vs candidate '
               f'<code>{_e(data["candidate"]["path"])}</code></div>')
    out.append('<div class="counts">' + "".join(
        f'<span style="background:{VERDICT_COLOR[v]}">{counts[v]} {_e(v)}{"s" if counts[v] != 1 and v in ("regression", "improvement") else ""}</span>'
        for v in ("regression", "undecided", "improvement", "unchanged", "invalid", "new", "removed")
        if counts[v] or v in ("regression", "improvement", "unchanged")) + "</div>")
    out.append(f'<p><b>{_e(s["line"])}</b></p>')
    undecided = _undecided(data["scenarios"])
    leads = s["verdict"] == "UNDECIDED"  # otherwise what failed leads, and the undecided follow the charts
    out.append(undecided if leads else "")
    for note in data["notes"]:
        out.append(f'<div class="note">{_e(note)}</div>')
    out += _calibration(data)

    # overview: bars across scenarios, what failed first (analysis.report.chart_metrics)
    compared = [sc for sc in data["scenarios"] if sc["verdict"] != "invalid"]
    if compared:
        out.append("<h2>Memory growth per scenario</h2>" + _legend() + '<div class="charts">')
        for bm in data["bar_metrics"]:
            out.append(_overview_chart(bm, compared))
        out.append("</div>")
    out.append("" if leads else undecided)

    columns = data["columns"]
    for sc in data["scenarios"]:
        color = VERDICT_COLOR[sc["verdict"]]
        out.append(f'<h2 id="{_e(sc["name"])}"><span style="color:{color}">{_e(sc["verdict"].upper())}</span>: {_e(sc["name"])}</h2>')
        reps = sc["replicates"]
        out.append(f'<div class="sub">{_e(sc.get("protocol"))}, {_e(sc.get("allocator"))}, {_e(sc.get("strategy"))}; '
                   f'replicates: {reps["baseline"]} baseline, {reps["candidate"]} candidate</div>')
        if sc.get("description"):
            out.append(f'<div class="sub">{_e(sc["description"])}</div>')
        kind = {"regression": "reason", "invalid": "reason", "undecided": "undecided"}.get(sc["verdict"], "good")
        items = [f'<li class="{kind}">{_e(r)}</li>' for r in sc["reasons"]]
        items += [f"<li>decide it: <code>{_e(sc['decide'])}</code></li>"] if sc.get("decide") else []
        items += [f"<li>note: {_e(n)}</li>" for n in sc["notes"]]
        if items:
            out.append("<ul>" + "".join(items) + "</ul>")
        if sc["baseline"] and sc["candidate"] or sc["verdict"] in ("new", "removed"):
            out.append(_table(sc, columns))
        out.append(_outside(sc.get("outside"), data["outside_columns"]))
        if sc["timelines"]["baseline"] or sc["timelines"]["candidate"]:
            out.append(_legend() + '<div class="charts">')
            out.append(line_chart("RSS growth since the start sample", _timeline_series(sc, "rss_growth_bytes")))
            out.append(line_chart("Live heap growth since the start sample", _timeline_series(sc, "live_heap_growth_bytes")))
            out.append("</div>")
    out.append('<p class="sub">Figures: medians over replicates. \u0394 = end minus start sample, both after a forced trim; '
               'before trim: the end sample before it; peak RSS \u0394 = highest sampled RSS minus start; bytes/request = '
               'live heap \u0394 per request. Verdict rules: docs/RESULTS.md. '
               f'Sources: {_e(sources_line(data["sources"]))}.</p>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
