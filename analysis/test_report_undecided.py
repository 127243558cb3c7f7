"""An UNDECIDED gate in `memgate report`: each renderer (report.md, report.html, the terminal lines,
report.json) shows it as undecided, never as a pass or a failure, leads with the undecided checks
and names the command that decides them; the command exits 3."""

import html
import json
import os
import re
import subprocess

import pytest

from analysis import gate, report
from analysis.render import html as html_render, markdown as md_render
from analysis.render.table import render_report_summary
from analysis.testdata.undecided import METRIC, regression_pair, undecided_pair
from harness.driver.binaries import REPO_ROOT

MEMGATE = os.path.join(REPO_ROOT, "memgate")


def write(path, result):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return str(path)


@pytest.fixture
def undecided_files(tmp_path):
    baseline, candidate = undecided_pair()
    return write(tmp_path / "base" / "r-steady.json", baseline), write(tmp_path / "cand" / "r-steady.json", candidate)


@pytest.fixture
def undecided(undecided_files):
    return report.build_report(*(report.load_side(f) for f in undecided_files))


@pytest.fixture
def mixed(tmp_path):
    """Two directories: r-leak regresses, r-steady is undecided."""
    (base_steady, cand_steady), (base_leak, cand_leak) = undecided_pair(), regression_pair()
    for side, steady, leak in (("base", base_steady, base_leak), ("cand", cand_steady, cand_leak)):
        write(tmp_path / side / "r-steady.json", steady)
        write(tmp_path / side / "r-leak.json", leak)
    return report.build_report(report.load_side(str(tmp_path / "base")), report.load_side(str(tmp_path / "cand")))


def test_the_data_calls_it_undecided_with_exit_3_and_the_command_that_decides_it(undecided, undecided_files):
    (sc,) = undecided["scenarios"]
    assert sc["verdict"] == "undecided" and sc["reasons"] and all(r.startswith("UNDECIDED: ") for r in sc["reasons"])
    assert sc["decide"] == f"memgate gate --rerun {undecided_files[0]} {undecided_files[1]}"
    assert [m["metric"] for m in sc["moved"]] == [METRIC] and sc["moved"][0]["verdict"] == "undecided"
    outcomes = {c["metric"]: c["outcome"] for c in sc["checks"]}
    assert outcomes[METRIC] == gate.UNDECIDED and "passed" not in sc["checks"][0]
    assert not any(n.startswith("undecided: ") for n in sc["notes"])  # said once, in the verdict
    s = undecided["summary"]
    assert (s["verdict"], s["exit_code"]) == ("UNDECIDED", 3) and gate.EXIT_UNDECIDED == 3
    assert s["line"] == "0 regressions, 1 undecided, 0 improvements, 0 unchanged"
    assert json.loads(report.to_json(undecided))["scenarios"][0]["decide"] == sc["decide"]


def test_a_regression_outranks_undecided_and_invalid_outranks_both(mixed):
    assert [sc["verdict"] for sc in mixed["scenarios"]] == ["regression", "undecided"]
    assert (mixed["summary"]["verdict"], mixed["summary"]["exit_code"]) == ("FAIL", 1)
    assert mixed["summary"]["line"] == "1 regression, 1 undecided, 0 improvements, 0 unchanged"


def test_markdown_leads_with_the_undecided_checks(undecided, undecided_files):
    md = md_render.render(undecided)
    lines = md.splitlines()
    assert lines[0] == "## memgate: UNDECIDED: 0 regressions, 1 undecided, 0 improvements, 0 unchanged"
    block = lines.index(next(l for l in lines if l.startswith("**Undecided** in 1 scenario(s): the evidence is too noisy")))
    assert lines[block - 2].startswith("Baseline `")  # right under the heading, before the table of what moved
    assert block < lines.index("| Scenario | Verdict | Metric | Baseline | Candidate | Limit |")
    assert lines[block + 2].startswith(f"- r-steady: UNDECIDED: {METRIC} candidate")
    assert lines[block + 3] == f"  - decide it: `memgate gate --rerun {undecided_files[0]} {undecided_files[1]}`"
    assert "`memgate report` exits 3 while a scenario is undecided" in md
    assert any(l.startswith(f"| r-steady | **undecided** | {METRIC} |") for l in lines)
    assert "### \u2754 UNDECIDED: r-steady" in lines and "REGRESSION" not in md and "regression |" not in md
    assert lines[-3].startswith("| **change** |") and lines[-3].rstrip().endswith("| undecided |")


def test_markdown_of_a_failed_report_puts_the_undecided_after_what_failed(mixed):
    lines = md_render.render(mixed).splitlines()
    assert lines[0].startswith("## memgate: FAIL: ")
    moved = lines.index("| Scenario | Verdict | Metric | Baseline | Candidate | Limit |")
    block = next(i for i, l in enumerate(lines) if l.startswith("**Undecided** in 1 scenario(s)"))
    assert lines[moved + 2].startswith("| r-leak | **regression** |") and moved < block
    assert block < next(i for i, l in enumerate(lines) if l.startswith("### "))


def test_html_shows_undecided_in_its_own_colour_first(undecided, undecided_files):
    page = html_render.render(undecided)
    colour = html_render.VERDICT_COLOR["undecided"]
    assert f'<h1>memgate report: <span style="color:{colour}">UNDECIDED</span></h1>' in page
    assert colour not in (html_render.VERDICT_COLOR["regression"], html_render.VERDICT_COLOR["improvement"])
    box = page.index('<div class="undecided">')
    assert page.index("</b></p>") < box < page.index("<h2")  # under the summary line, before the charts
    assert html.escape(f"memgate gate --rerun {undecided_files[0]} {undecided_files[1]}") in page
    assert "<code>memgate report</code> exits 3" in page and "`" not in page
    assert f'<span style="color:{colour}">UNDECIDED</span>: r-steady</h2>' in page
    assert f'<li class="undecided">r-steady: UNDECIDED: {METRIC}' in page
    titles = re.findall(r'<svg [^>]*aria-label="([^"]+)"', page)
    assert titles[0].startswith(f"UNDECIDED in 1 scenario(s): Peak RSS") and "FAILED" not in page
    assert page.split("<svg ")[1].count('class="limit"') == 1  # the undecided scenario's limit is marked


def test_html_of_a_failed_report_charts_what_failed_then_what_is_undecided(mixed):
    page = html_render.render(mixed)
    titles = re.findall(r'<svg [^>]*aria-label="([^"]+)"', page)
    assert titles[0].startswith("FAILED in 1 scenario(s): ")
    # peak RSS failed in r-leak and is undecided in r-steady: both on top, each with its limit
    peak = next(t for t in titles if "Peak RSS" in t)
    assert peak.startswith("FAILED in 1 scenario(s), UNDECIDED in 1 scenario(s): Peak RSS")
    chart = next(c for c in page.split("<svg ") if c.startswith(f'xmlns="http://www.w3.org/2000/svg" width="700"') and
                 "Peak RSS" in c.split(">")[0])
    assert chart.count('class="limit"') == 2
    assert page.index("FAILED in 1 scenario(s)") < page.index('<div class="undecided">') < page.index('id="r-leak"')


def test_the_terminal_lines_name_each_undecided_check_and_how_to_decide(undecided, undecided_files):
    lines = render_report_summary(undecided).splitlines()
    assert lines[0] == "report UNDECIDED: 0 regressions, 1 undecided, 0 improvements, 0 unchanged"
    assert lines[1].startswith(f"  r-steady: UNDECIDED: {METRIC} candidate ")
    assert lines[2] == f"    decide it: memgate gate --rerun {undecided_files[0]} {undecided_files[1]}"
    assert "memgate report exits 3" in lines[-1] and "`" not in "".join(lines)


def test_the_command_exits_3_like_the_gate_and_prints_the_rerun(undecided_files, tmp_path):
    p = subprocess.run([MEMGATE, "report", *undecided_files, "-o", str(tmp_path / "out")], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 3, p.stderr
    assert p.stdout.startswith("report UNDECIDED: ") and f"decide it: memgate gate --rerun {undecided_files[0]}" in p.stdout
    assert json.load(open(tmp_path / "out" / "report.json"))["summary"]["verdict"] == "UNDECIDED"
    g = subprocess.run([MEMGATE, "gate", *undecided_files], capture_output=True, text=True, timeout=60)
    assert g.returncode == 3 and g.stdout.startswith("gate UNDECIDED"), g.stdout
