"""ci/gate.sh's UNDECIDED verdict in the reports, when the harness's `memgate report` exits 0 for
a case `memgate gate` calls UNDECIDED (a report with no undecided verdict of its own counts a check
within its limit only thanks to the noise allowance as unchanged). After the gate's extra
replicates ran out without a decision, this puts UNDECIDED at the top of report.md (what the job
summary and the PR comment show) and in report.json's summary.

    /usr/bin/python3 ci/gate_undecided.py OUTDIR REPLICATES < "case: UNDECIDED: ..." lines
"""

from __future__ import annotations

import json
import os
import sys


def mark_undecided(outdir: str, replicates: int, lines: list[str]) -> None:
    md = os.path.join(outdir, "report.md")
    with open(md, encoding="utf-8") as f:
        report = f.read()
    head = [f"**memgate gate: UNDECIDED.** Too noisy to tell after {replicates} replicates per side, the most "
            "the gate runs: no regression was found, but these checks are within their limits only thanks to "
            "the noise allowance. Rerun on a quieter runner, or with more replicates.", ""]
    head += [f"- {line}" for line in lines]
    with open(md, "w", encoding="utf-8") as f:
        f.write("\n".join(head) + "\n\n" + report)
    path = os.path.join(outdir, "report.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    data["summary"].update(verdict="UNDECIDED", exit_code=3, undecided=lines)
    with open(path + ".new", "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(path + ".new", path)


if __name__ == "__main__":
    mark_undecided(sys.argv[1], int(sys.argv[2]), [line for line in sys.stdin.read().splitlines() if line.strip()])
