"""report.md: a PR comment rendered from analysis.report.build_report() data."""

from __future__ import annotations

from typing import Any

from analysis.units import format_cell as cell

BADGE = {"regression": "\u274c REGRESSION", "invalid": "\u26a0\ufe0f INVALID", "improvement": "\u2705 improvement",
         "unchanged": "unchanged", "new": "new", "removed": "removed"}


def table_rows(scenario: dict[str, Any], columns: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """(label, cells) for baseline, candidate and change; the verdict goes on the change row."""
    rows = []
    for label in ("baseline", "candidate", "change"):
        values = scenario[label]
        signed = label == "change"
        cells = []
        for col in columns:
            key, kind = col["key"], col["kind"]
            if kind == "text":
                v = scenario["name"] if key == "scenario" else (values.get(key) or scenario.get(key))
                cells.append(cell(v, "text") if label != "change" else "")  # each side's own protocol/strategy
            elif kind in ("bytes",) and key != "bytes_copied_per_response":
                cells.append(cell(values.get(key), kind, signed=True))  # growth figures always carry a sign
            else:
                cells.append(cell(values.get(key), kind, signed=signed))
        rows.append((label, cells))
    return rows


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render(data: dict[str, Any]) -> str:
    s = data["summary"]
    out = [f"## memgate: {s['verdict']}: {s['line']}", ""]
    b, c = data["baseline"], data["candidate"]
    out.append(f"Baseline `{b['path']}` ({_commit(b)}) vs candidate `{c['path']}` ({_commit(c)}).")
    out.append("")
    for note in data["notes"]:
        out += [f"> {note}", ""]
    columns = data["columns"]
    for sc in data["scenarios"]:
        out.append(f"### {BADGE[sc['verdict']]}: {sc['name']}")
        out.append("")
        reps = sc["replicates"]
        out.append(f"{sc.get('protocol') or '?'}, {sc.get('allocator') or '?'}, {sc.get('strategy') or '?'}; "
                   f"replicates: {reps['baseline']} baseline, {reps['candidate']} candidate.")
        out.append("")
        for r in sc["reasons"]:
            out.append(f"- {'**' + r + '**' if sc['verdict'] == 'regression' else r}")
        for n in sc["notes"]:
            out.append(f"- note: {n}")
        if sc["reasons"] or sc["notes"]:
            out.append("")
        if sc["verdict"] in ("new", "removed") or (sc["baseline"] and sc["candidate"]):
            header = ["", *[col["header"] for col in columns], "Verdict"]
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "|".join(["---"] + ["---" if col["kind"] == "text" else "---:" for col in columns] + ["---"]) + "|")
            for label, cells in table_rows(sc, columns):
                verdict = sc["verdict"] if label == "change" else ""
                out.append("| " + " | ".join(_escape(x) for x in [f"**{label}**", *cells, verdict]) + " |")
            out.append("")
    out.append("<sub>Figures: medians over replicates. \u0394 = end minus start sample, both after a forced trim "
               "(\u201cbefore trim\u201d: end sample before it); peak RSS \u0394 = highest sampled RSS minus start; "
               "bytes/request = live heap \u0394 per request. Verdicts: docs/RESULTS.md.</sub>")
    return "\n".join(out) + "\n"


def _commit(side: dict[str, Any]) -> str:
    ci = side.get("commit") or {}
    cid = ci.get("id")
    if not cid:
        return "no commit"
    return f"{cid[:10]}{' dirty' if ci.get('dirty') else ''}"
