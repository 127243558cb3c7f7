"""Plain text: analysis.compare.get_comparison() data, the gate's checks, what `memgate report` prints, and
any (key, header, kind) rows as a table."""

from __future__ import annotations

from typing import Any

from analysis.diff import sources_line
from analysis.report import UNDECIDED_DECIDE, UNDECIDED_WHY
from analysis.units import format_cell


def render_rows(columns: list[tuple[str, str, str]], rows: list[dict[str, Any]]) -> str:
    """An aligned table: columns are (key, header, kind); text left-aligned, figures right-aligned.
    A row whose label is "change" shows signed figures."""
    table: list[list[str]] = [[header for _, header, _ in columns]]
    for row in rows:
        signed = row.get("label") == "change"
        table.append([format_cell(row.get(key), kind, signed) for key, _, kind in columns])
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    lines = []
    for n, r in enumerate(table):
        cells = [r[i].ljust(widths[i]) if columns[i][2] == "text" else r[i].rjust(widths[i]) for i in range(len(columns))]
        lines.append(" | ".join(cells).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def render_comparison(data: dict[str, Any]) -> str:
    out = render_rows(data["columns"], data["rows"])
    if data.get("sources"):
        out += f"\n\nsources: {sources_line(data['sources'])}"
    if data.get("notes"):
        out += "\n\nnotes:\n" + "\n".join(f"  - {n}" for n in data["notes"])
    if data.get("reasons"):
        out += f"\n\nverdict {data['verdict']}:\n" + "\n".join(f"  - {r}" for r in data["reasons"])
    else:
        out += f"\n\nverdict {data['verdict']}"
    return out


def render_gate(report) -> str:
    lines = [f"gate {report.verdict}"]
    for problem in report.invalid:
        lines.append(f"  INVALID: {problem}")
    for check in report.checks:
        lines.append(f"  {check.long_repr()}")
    for note in report.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def render_report_summary(data: dict[str, Any]) -> str:
    """What `memgate report` prints (the files have the rest): its verdict and counts, then each undecided
    check with the command that decides its scenario."""
    s = data["summary"]
    lines = [f"report {s['verdict']}: {s['line']}"]
    undecided = [sc for sc in data["scenarios"] if sc["verdict"] == "undecided"]
    for sc in undecided:
        lines += [f"  {sc['name']}: {r}" for r in sc["reasons"]]  # each reason opens with UNDECIDED
        lines.append(f"    decide it: {sc['decide']}")
    if undecided:
        lines += [f"  {UNDECIDED_WHY};", "  " + UNDECIDED_DECIDE.replace("`", "")]
    return "\n".join(lines)
