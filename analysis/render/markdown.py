"""report.md: a PR comment rendered from analysis.report.build_report() data."""

from __future__ import annotations

from typing import Any

from analysis.diff import sources_line
from analysis.metrics import BY_NAME
from analysis.report import UNDECIDED_DECIDE, UNDECIDED_WHY
from analysis.units import format_cell as cell

BADGE = {"regression": "\u274c REGRESSION", "invalid": "\u26a0\ufe0f INVALID", "undecided": "\u2754 UNDECIDED",
         "improvement": "\u2705 improvement", "unchanged": "unchanged", "new": "new", "removed": "removed"}
ACT_ON = ("regression", "undecided")  # verdicts shown in bold: what a reviewer must act on


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


# The RSS explained: the end sample's resident memory by kind (metrics' rss_explained), one row each.
RSS_EXPLAINED_ROWS = (
    ("rss_bytes", "resident, whole tree (/proc)"),
    ("anon_bytes", "anonymous (cgroup)"),
    ("live_heap_bytes", "\u2003of it, heap the program holds (/mem)"),
    ("allocator_kept_bytes", "\u2003of it, kept by the allocator and other anonymous maps"),
    ("file_bytes", "file pages charged to the target (cgroup)"),
    ("kernel_bytes", "kernel: slab, stacks, page tables (cgroup)"),
    ("sock_bytes", "socket buffers (cgroup)"),
    ("sock_peak_bytes", "socket buffers, highest under load (cgroup)"),
)
RSS_EXPLAINED_NOTE = ("End sample, after a forced trim. File pages another cgroup touched first (shared libraries) "
                      "count in RSS but are charged there, not here.")


def rss_explained_rows(explained: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, baseline, candidate) cells of the RSS explained table."""
    sides = [explained.get("baseline") or {}, explained.get("candidate") or {}]
    return [(label, *(cell(side.get(key), "bytes") for side in sides)) for key, label in RSS_EXPLAINED_ROWS]


def _table(header_cells: list[str], kinds: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header_cells) + " |",
           "|" + "|".join("---" if kind == "text" else "---:" for kind in kinds) + "|"]
    return out + ["| " + " | ".join(_escape(x) for x in row) + " |" for row in rows]


def _outside_section(outside: dict[str, Any] | None, columns: list[dict[str, Any]]) -> list[str]:
    if not outside:
        return []
    out = ["From outside the process (its tree in /proc, its cgroup):", ""]
    out += _table(["", *[c["header"] for c in columns]], ["text", *[c["kind"] for c in columns]],
                  [[f"*{label}*", *cells] for label, cells in table_rows(outside, columns)])
    out.append("")
    if outside["rss_explained"]:
        out += ["RSS explained:", ""]
        out += _table(["", "baseline", "candidate"], ["text", "bytes", "bytes"],
                      [list(row) for row in rss_explained_rows(outside["rss_explained"])])
        out += ["", RSS_EXPLAINED_NOTE, ""]
    return out


def moved_section(scenarios: list[dict[str, Any]]) -> list[str]:
    """The narrow table a PR comment leads with: one row per metric behind a verdict (and one per scenario
    invalid, new or removed), so it stays readable where the full table needs scrolling."""
    rows, unchanged = [], 0
    for sc in scenarios:
        if sc["verdict"] == "unchanged":
            unchanged += 1
        for m in sc["moved"]:
            kind = BY_NAME[m["metric"]].kind
            verdict = f"**{m['verdict']}**" if m["verdict"] in ACT_ON else m["verdict"]
            rows.append([sc["name"], verdict, m["metric"], cell(m["baseline"], kind), cell(m["candidate"], kind),
                         "" if m["limit"] is None else cell(m["limit"], kind)])
        if not sc["moved"] and sc["verdict"] != "unchanged":
            rows.append([sc["name"], sc["verdict"], "", "", "", ""])
    out = _table(["Scenario", "Verdict", "Metric", "Baseline", "Candidate", "Limit"],
                 ["text", "text", "text", "float", "float", "float"], rows) + [""] if rows else []
    if unchanged:
        out += [f"{unchanged} unchanged scenario(s): in the full table below.", ""]
    return out


def undecided_section(scenarios: list[dict[str, Any]]) -> list[str]:
    """Each undecided check, the command that decides its scenario, and why it is undecided."""
    undecided = [sc for sc in scenarios if sc["verdict"] == "undecided"]
    if not undecided:
        return []
    out = [f"**Undecided** in {len(undecided)} scenario(s): {UNDECIDED_WHY}.", ""]
    for sc in undecided:
        out += [f"- {sc['name']}: {r}" for r in sc["reasons"]]
        out.append(f"  - decide it: `{sc['decide']}`")
    return out + ["", UNDECIDED_DECIDE[0].upper() + UNDECIDED_DECIDE[1:] + ".", ""]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render(data: dict[str, Any]) -> str:
    s = data["summary"]
    out = [f"## memgate: {s['verdict']}: {s['line']}", ""]
    b, c = data["baseline"], data["candidate"]
    out.append(f"Baseline `{b['path']}` ({_commit(b)}) vs candidate `{c['path']}` ({_commit(c)}).")
    out.append("")
    undecided = undecided_section(data["scenarios"])
    leads = s["verdict"] == "UNDECIDED"  # otherwise what failed leads, and the undecided follow the moved table
    out += undecided if leads else []
    for note in data["notes"]:
        out += [f"> {note}", ""]
    out += _calibration(data)
    out += moved_section(data["scenarios"])
    out += [] if leads else undecided
    columns = data["columns"]
    for sc in data["scenarios"]:
        out.append(f"### {BADGE[sc['verdict']]}: {sc['name']}")
        out.append("")
        reps = sc["replicates"]
        out.append(f"{sc.get('protocol') or '?'}, {sc.get('allocator') or '?'}, {sc.get('strategy') or '?'}; "
                   f"replicates: {reps['baseline']} baseline, {reps['candidate']} candidate.")
        out.append("")
        for r in sc["reasons"]:
            out.append(f"- {'**' + r + '**' if sc['verdict'] in ACT_ON else r}")
        if sc.get("decide"):
            out.append(f"- decide it: `{sc['decide']}`")
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
        out += _outside_section(sc.get("outside"), data["outside_columns"])
    out.append("<sub>Figures: medians over replicates. \u0394 = end minus start sample, both after a forced trim "
               "(\u201cbefore trim\u201d: end sample before it); peak RSS \u0394 = highest sampled RSS minus start; "
               "bytes/request = live heap \u0394 per request. Verdicts: docs/RESULTS.md. "
               f"Sources: {sources_line(data['sources'])}.</sub>")
    return "\n".join(out) + "\n"


def _calibration(data: dict[str, Any]) -> list[str]:
    """The gate's measured false-alarm rate and power, per scenario with a calibration beside its baseline."""
    lines = [f"Calibration of {name}: {line}." for name, line in (data.get("calibration") or {}).items()]
    return lines + [""] if lines else []


def _commit(side: dict[str, Any]) -> str:
    ci = side.get("commit") or {}
    cid = ci.get("id")
    if not cid:
        return "no commit"
    return f"{cid[:10]}{' dirty' if ci.get('dirty') else ''}"
