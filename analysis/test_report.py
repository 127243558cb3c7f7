"""memgate report: verdicts on a constructed baseline/candidate pair, statistics, markdown/html/json."""

import html
import json
import os
import re
import subprocess

import pytest

from analysis import calibration, report, stats
from analysis.render import html as html_render, markdown as md_render
from analysis.testdata.make_report_fixtures import EXPECTED
from harness.driver.binaries import REPO_ROOT

TESTDATA = os.path.join(REPO_ROOT, "analysis", "testdata")
BASE = os.path.join(TESTDATA, "report", "baseline")
CAND = os.path.join(TESTDATA, "report", "candidate")
MEMGATE = os.path.join(REPO_ROOT, "memgate")


@pytest.fixture(scope="module")
def data():
    return report.build_report(report.load_side(BASE), report.load_side(CAND))


def test_verdicts_match_the_constructed_pair(data):
    assert {s["name"]: s["verdict"] for s in data["scenarios"]} == EXPECTED
    assert data["summary"]["counts"]["regression"] == 2 and data["summary"]["counts"]["improvement"] == 1
    assert data["summary"]["line"] == "2 regressions, 1 improvement, 2 unchanged, 1 invalid, 1 new"
    assert data["summary"]["exit_code"] == 2  # an invalid measurement outranks a regression


def test_regressions_come_first_then_invalid(data):
    order = [s["verdict"] for s in data["scenarios"]]
    assert order[:3] == ["regression", "regression", "invalid"]
    assert order == sorted(order, key=report.VERDICT_ORDER.index)


def test_regression_reasons_use_the_spread(data):
    by = {s["name"]: s for s in data["scenarios"]}
    leak = by["r-leak"]
    assert any("live_heap_bytes_per_request" in r and "95% interval" in r for r in leak["reasons"])
    st = leak["stats"]["live_heap_bytes_per_request"]
    assert len(st["baseline"]) == 3 and st["ci95"][0] > 60 and st["p_value"] is not None
    copy = by["r-copy"]
    assert {r.split(":")[1].split()[0] for r in copy["reasons"]} == {"peak_rss_growth_bytes", "bytes_copied_per_response",
                                                                     "rss_delta_bytes"}
    # over the limit on both sides alike: a note, not a regression
    standing = by["r-standing"]
    assert standing["reasons"] == [] and any("not separated from the baseline" in n for n in standing["notes"])
    assert by["r-fixed"]["reasons"] and all("fell from" in r for r in by["r-fixed"]["reasons"])


def test_a_single_difference_decides_without_replicates_and_says_so():
    b = report.load_side(os.path.join(TESTDATA, "baseline_writev.json"))
    c = report.load_side(os.path.join(TESTDATA, "candidate_buffered.json"))
    d = report.build_report(b, c)
    (sc,) = d["scenarios"]
    assert sc["verdict"] == "regression" and sc["replicates"] == {"baseline": 1, "candidate": 1}
    assert any("no replicates" in n for n in sc["notes"]) and any("No replicates" in n for n in d["notes"])
    same = report.build_report(b, report.load_side(os.path.join(TESTDATA, "candidate_writev.json")))
    assert same["scenarios"][0]["verdict"] == "unchanged" and same["summary"]["exit_code"] == 0


def test_mann_whitney_matches_known_values():
    assert stats.mann_whitney_u([1, 2, 3], [4, 5, 6]) == (0.0, pytest.approx(0.1))
    assert stats.mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])[1] == pytest.approx(0.0079365, rel=1e-4)  # scipy exact
    assert stats.mann_whitney_u([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])[0] == 25.0
    assert stats.mann_whitney_u([1, 3, 5, 7], [2, 4, 6, 8])[1] == pytest.approx(0.6857, rel=1e-3)
    assert stats.mann_whitney_u([1], [2, 3]) is None
    u, p = stats.mann_whitney_u([1, 1, 2, 2], [1, 1, 2, 2])
    assert u == 8 and p == pytest.approx(1.0)


def test_bootstrap_interval_brackets_the_shift_and_is_reproducible():
    b, c = [10.0, 11.0, 12.0, 13.0, 14.0], [20.0, 21.0, 22.0, 23.0, 24.0]
    lo, hi = stats.bootstrap_median_difference(b, c)
    assert 0 < lo <= 10 <= hi < 20
    assert stats.bootstrap_median_difference(b, c) == (lo, hi)
    lo, hi = stats.bootstrap_median_difference([70, 72, 74], [71, 73, 75])
    assert lo < 0 < hi
    assert stats.bootstrap_median_difference([1.0], c) is None


def test_markdown_has_summary_columns_signs_and_order(data):
    md = md_render.render(data)
    assert md.splitlines()[0] == "## memgate: INVALID: 2 regressions, 1 improvement, 2 unchanged, 1 invalid, 1 new"
    for header in ("Scenario", "Protocol", "Allocator", "Strategy", "Requests", "Live heap \u0394", "RSS \u0394",
                   "RSS \u0394 before trim", "bytes/request", "req/s", "p99", "writes/response",
                   "bytes copied/response", "Client failures", "Verdict"):
        assert f"| {header} |" in md
    headings = re.findall(r"^### (.+)$", md, flags=re.M)
    assert headings[0].endswith("r-leak") and "REGRESSION" in headings[0] and "REGRESSION" in headings[1]
    assert headings[-1].endswith(("r-steady", "r-standing"))
    leak = md[md.index("### \u274c REGRESSION: r-leak"):md.index("### \u274c REGRESSION: r-copy")]
    rows = [l for l in leak.splitlines() if l.startswith("| **")]
    assert [r.split("|")[1].strip() for r in rows] == ["**baseline**", "**candidate**", "**change**"]
    assert "+1.4 MiB" in rows[1] and "+1.4 MiB" in rows[2] and rows[2].rstrip().endswith("| regression |")
    assert "\u2212" in md  # negative changes carry a real minus sign
    copy = md[md.index("### \u274c REGRESSION: r-copy"):]
    crows = [l for l in copy.splitlines() if l.startswith("| **")][:2]
    assert "copy=writev" in crows[0] and "copy=buffered" in crows[1]  # each side's own strategy
    assert "replicates: 3 baseline, 3 candidate" in leak


def test_html_is_self_contained_with_tables_and_charts(data):
    page = html_render.render(data)
    assert page.startswith("<!DOCTYPE html>")
    for forbidden in ("<script", "<link", "src=", "@import", "url("):
        assert forbidden not in page
    assert set(re.findall(r"https?://[^\"' ]+", page)) <= {"http://www.w3.org/2000/svg"}  # a namespace, never fetched
    assert page.count("<table>") == len([s for s in data["scenarios"] if s["baseline"] and s["candidate"] or s["verdict"] == "new"])
    # a chart for each metric a regression failed on (live heap per request, peak RSS, bytes copied), then the
    # two of the three standing ones (live heap, RSS after trim, peak RSS) not charted yet
    assert "Memory growth per scenario" in page and len(re.findall(r'aria-label="[^"]*\(median, min\u2013max\)', page)) == len(data["bar_metrics"]) == 5
    assert page.count("RSS growth since the start sample") == page.count("Live heap growth since the start sample") >= 5
    assert page.count("<polyline") >= 5 * 2 * 6  # 2 charts x 6 replicate lines per compared scenario
    assert "2 regressions, 1 improvement" in page and "r-leak" in page
    assert page.index('id="r-leak"') < page.index('id="r-steady"')
    assert "bytes copied/response" in page and "+1.4 MiB" in page


def test_what_failed_is_charted_first_with_its_limit():
    b = report.load_side(os.path.join(TESTDATA, "baseline_writev.json"))
    c = report.load_side(os.path.join(TESTDATA, "candidate_buffered.json"))
    data = report.build_report(b, c)
    assert [m["metric"] for m in data["bar_metrics"]] == [
        "peak_rss_growth_bytes", "bytes_copied_per_response", "live_heap_delta_bytes", "rss_delta_bytes"]
    page = html_render.render(data)
    titles = re.findall(r'<svg [^>]*aria-label="([^"]+)"', page)
    assert titles[0].startswith("FAILED in 1 scenario(s): Peak RSS")
    assert titles[1].startswith("FAILED in 1 scenario(s): bytes_copied_per_response")
    assert titles[2].startswith("Live heap") and titles[3].startswith("RSS \u0394 (after trim)")
    copied = page.split("<svg ")[2]
    assert copied.count('class="limit"') == 1 and "<title>limit +16 B</title>" in copied
    assert "+1.0 MiB</text>" in copied  # 1,048,576 bytes copied per response, in binary units


def test_markdown_leads_with_a_narrow_table_of_what_moved(data):
    md = md_render.render(data)
    lines = md.splitlines()
    start = lines.index("| Scenario | Verdict | Metric | Baseline | Candidate | Limit |")
    moved = lines[start + 2:lines.index("", start)]
    assert start < next(i for i, l in enumerate(lines) if l.startswith("### "))
    assert [r.split(" | ")[0].lstrip("| ") for r in moved[:6]] == ["r-leak"] * 3 + ["r-copy"] * 3
    assert "live_heap_bytes_per_request" in moved[0] and "**regression**" in moved[0]
    assert {r.split(" | ")[2] for r in moved[3:6]} == {"peak_rss_growth_bytes", "bytes_copied_per_response",
                                                       "rss_delta_bytes"}
    assert any(r.startswith("| r-fixed | improvement |") for r in moved)
    assert any(r.startswith("| r-failed | invalid |") for r in moved)
    assert all(len(r.split(" | ")) == 6 for r in moved)
    assert "2 unchanged scenario(s): in the full table below." in md


def test_json_has_the_same_content(data):
    back = json.loads(report.to_json(data))
    assert back["summary"] == data["summary"]
    assert [s["name"] for s in back["scenarios"]] == [s["name"] for s in data["scenarios"]]
    assert back["scenarios"][0]["timelines"]["candidate"][0]["requests"][-1] == 20000


def test_cli_writes_three_reports_and_exits_by_verdict(tmp_path):
    p = subprocess.run([MEMGATE, "report", BASE, CAND, "-o", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    assert sorted(os.listdir(tmp_path)) == ["report.html", "report.json", "report.md"]
    assert "2 regressions, 1 improvement" in p.stdout
    p = subprocess.run([MEMGATE, "report", os.path.join(BASE, "r-leak.json"), os.path.join(CAND, "r-leak.json"), "-o",
                        str(tmp_path / "one")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "1 regression," in p.stdout
    p = subprocess.run([MEMGATE, "report", os.path.join(BASE, "r-steady.json"), os.path.join(CAND, "r-steady.json"), "-o",
                        str(tmp_path / "two")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "0 regressions, 0 improvements, 1 unchanged" in p.stdout
    p = subprocess.run([MEMGATE, "report", str(tmp_path / "nothing"), CAND], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "no such result file or directory" in p.stderr


def with_outside(result, tree_rss_delta, explained):
    out = json.loads(json.dumps(result))
    for rep in [out] + [r for r in out["replicates"] if r.get("metrics")]:
        rep["metrics"].update({"tree_rss_delta_bytes": tree_rss_delta, "syscalls_read_per_request": 1.5,
                               "cpu_us_per_request": 30.0, "rss_explained": explained})
    return out


def test_outside_figures_get_their_table_and_the_rss_explained():
    base = report.load_side(os.path.join(BASE, "r-steady.json"))
    cand = report.load_side(os.path.join(CAND, "r-steady.json"))
    name = next(iter(cand["results"]))
    plain = report.build_report(base, cand)
    assert plain["scenarios"][0]["outside"] is None and "From outside" not in md_render.render(plain)
    explained = {"rss_bytes": 9 << 20, "anon_bytes": 2 << 20, "file_bytes": 1 << 19, "kernel_bytes": 1 << 17,
                 "sock_bytes": 4096, "live_heap_bytes": 1 << 19, "allocator_kept_bytes": 3 << 19}
    cand["results"][name] = with_outside(cand["results"][name], 1 << 20, explained)
    data = report.build_report(base, cand)  # the baseline has no outside figures: not comparable, no error
    outside = data["scenarios"][0]["outside"]
    assert outside["baseline"]["tree_rss_delta"] is None and outside["candidate"]["tree_rss_delta"] == 1 << 20
    assert outside["change"]["tree_rss_delta"] is None and outside["rss_explained"]["baseline"] is None
    md = md_render.render(data)
    assert "| *candidate* |" in md and "+1.0 MiB" in md and "| Tree RSS \u0394 |" in md
    assert "| \u2003of it, kept by the allocator and other anonymous maps | n/a | 1.5 MiB |" in md
    assert "Sources: " in md and "/proc: Tree RSS \u0394" in md and "/mem: Live heap \u0394" in md
    page = html_render.render(data)
    assert page.count('<table class="outside">') == 2 and "socket buffers (cgroup)" in page
    assert "/proc, loadgen: read syscalls/req" in page


def _calibration(**metrics):
    for m in metrics.values():
        m["aa_differences"], m["aa_spread"] = [0.0] * 40, 0.0
    return {"schema": "memgate.calibration/1", "scenario": "default", "case": None, "created": "2026-12-01T12:00:00Z",
            "machine": {}, "commit": None, "target": {"kind": "refserver"}, "pairs": 40, "metrics": metrics}


def test_the_calibration_line_names_the_false_alarms_and_the_smallest_leak_and_copy_caught():
    heap = {"unit": "bytes/request", "false_alarms": 0, "minimum_detectable": 0.0,
            "ladder": [{"injection": "malloc_per_request", "multiple": 2.0, "size": 16, "unit": "bytes/request",
                        "runs": 10, "caught": 10}],
            "smallest_caught": {"injection": "malloc_per_request", "size": 16, "unit": "bytes/request", "catch_rate": 1.0}}
    copied = {"unit": "bytes/response", "false_alarms": 0, "minimum_detectable": 0.0,
              "ladder": [{"injection": "copy", "multiple": 2.0, "size": 2048, "unit": "bytes/response", "runs": 10,
                          "caught": 10}],
              "smallest_caught": {"injection": "copy", "size": 2048, "unit": "bytes/response", "catch_rate": 1.0}}
    rss = {"unit": "bytes", "false_alarms": 1, "minimum_detectable": 3e6, "ladder": [], "smallest_caught": None}
    line = calibration.summary(calibration.parse(
        _calibration(live_heap_bytes_per_request=heap, bytes_copied_per_response=copied), "test"))
    assert line == ("this gate's measured false-alarm rate: 0/40; smallest leak caught: 16 B/request (malloc); "
                    "smallest copy caught: 2048 B/response (copy)")
    assert calibration.summary(calibration.parse(_calibration(rss_delta_bytes=rss), "test")) == (
        "this gate's measured false-alarm rate: 1/40 (rss_delta_bytes); minimum detectable rss_delta_bytes: 3e+06 bytes")


def test_a_calibration_beside_the_baseline_shows_in_both_reports(tmp_path):
    baseline = tmp_path / "default.json"
    with open(os.path.join(TESTDATA, "baseline_writev.json")) as f:
        baseline.write_text(f.read())
    heap = {"unit": "bytes/request", "false_alarms": 0, "minimum_detectable": 0.0,
            "ladder": [{"injection": "new_per_request", "multiple": 2.0, "size": 16, "unit": "bytes/request",
                        "runs": 10, "caught": 10}],
            "smallest_caught": {"injection": "new_per_request", "size": 16, "unit": "bytes/request", "catch_rate": 1.0}}
    (tmp_path / "default.calibration.json").write_text(json.dumps(_calibration(live_heap_bytes_per_request=heap)))
    data = report.build_report(report.load_side(str(baseline)), report.load_side(os.path.join(TESTDATA, "candidate_leak.json")))
    line = "this gate's measured false-alarm rate: 0/40; smallest leak caught: 16 B/request (operator new)"
    assert list(data["calibration"].values()) == [line]
    assert line in md_render.render(data) and html.escape(line) in html_render.render(data)
    without = report.build_report(report.load_side(os.path.join(TESTDATA, "baseline_writev.json")),
                                  report.load_side(os.path.join(TESTDATA, "candidate_leak.json")))
    assert without["calibration"] == {} and "false-alarm rate" not in md_render.render(without)
    (tmp_path / "default.calibration.json").write_text("{}")
    damaged = report.build_report(report.load_side(str(baseline)), report.load_side(os.path.join(TESTDATA, "candidate_leak.json")))
    assert damaged["calibration"] == {}
    assert any(n.startswith("calibration not used: ") and "default.calibration.json" in n for n in damaged["notes"])


def test_the_report_judges_with_the_calibration_beside_the_baseline_as_gate_does(tmp_path):
    from analysis.test_gate_statistics import replicate, result, write_calibration
    rss_only = dict(heap=False, peak=4 * 1024 * 1024, rss_wobble_pages=1)
    base_path, cand_path = tmp_path / "synthetic.json", tmp_path / "leaky.json"
    base_path.write_text(json.dumps(result([replicate(1, **rss_only)])))
    cand_path.write_text(json.dumps(result([replicate(4, rss_leak=32.0, **rss_only)])))
    without = report.build_report(report.load_side(str(base_path)), report.load_side(str(cand_path)))
    assert without["summary"]["verdict"] == "PASS"  # one replicate and no calibration: the fixed 8 MiB floor
    write_calibration(tmp_path, {"rss_delta_bytes": 8 * 1024, "peak_rss_growth_bytes": 8 * 1024,
                                 "rss_slope_bytes_per_request": 0.5})
    data = report.build_report(report.load_side(str(base_path)), report.load_side(str(cand_path)))
    assert data["summary"]["verdict"] == "FAIL", data["summary"]
    assert "rss_delta_bytes" in [m["metric"] for m in data["scenarios"][0]["moved"]]


def test_a_command_target_is_named_by_its_program_not_by_refserver_labels(tmp_path):
    paths = []
    for name in ("baseline_writev.json", "candidate_leak.json"):
        with open(os.path.join(TESTDATA, name)) as f:
            r = json.load(f)
        r["config"]["target"] = {"kind": "command", "argv": ["/opt/shop/bin/shopd", "--port", "{port}"]}
        r.pop("allocator", None)
        for rep in r.get("replicates") or []:
            rep.pop("allocator", None)
        (tmp_path / name).write_text(json.dumps(r))
        paths.append(str(tmp_path / name))
    data = report.build_report(report.load_side(paths[0]), report.load_side(paths[1]))
    sc = data["scenarios"][0]
    assert sc["strategy"] == "command shopd" and sc["allocator"] is None, (sc["strategy"], sc["allocator"])
    text = md_render.render(data)
    assert "command shopd" in text and "copy=" not in text and "glibc" not in text
