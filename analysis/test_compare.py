import json
import os

from analysis.compare import COLUMNS, get_comparison
from analysis.render.table import render_comparison
from analysis.testdata.undecided import METRIC, undecided_pair
from analysis.units import MINUS, format_bytes, format_ratio

DATA = os.path.join(os.path.dirname(__file__), "testdata")


def load(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)


def test_comparison_rows_and_changes():
    data = get_comparison(load("baseline_writev.json"), load("candidate_buffered.json"))
    base, cand, change = data["rows"]
    assert [r["label"] for r in data["rows"]] == ["baseline", "candidate", "change"]
    assert change["peak_rss_growth"] == cand["peak_rss_growth"] - base["peak_rss_growth"]
    assert change["bytes_copied_per_response"] == 1048576.0
    assert cand["verdict"] == "FAIL" and data["exit_code"] == 1
    assert any("peak_rss_growth_bytes" in r for r in data["reasons"])


def test_table_is_aligned_with_signed_binary_units():
    text = render_comparison(get_comparison(load("baseline_writev.json"), load("candidate_buffered.json")))
    lines = text.splitlines()
    header, rule, *rows = lines[:5]
    for col in ("Scenario", "Protocol", "Requests", "Live heap", "RSS", "h1/h2", "Client failures", "req/s", "p99",
                "writes/resp", "copied/resp", "Verdict"):
        assert col in header
    bars = [i for i, ch in enumerate(header) if ch == "|"]
    for row in rows[:3]:
        assert [i for i, ch in enumerate(row) if ch == "|"] == bars
    assert "+1.0 MiB" in rows[2]  # bytes copied change
    assert "+4.0 MiB" in rows[2]  # peak growth change (4.2 MiB - 230 KiB)
    assert "FAIL" in rows[1]
    assert "verdict FAIL" in text


def test_units():
    assert format_bytes(20 * 1024 * 1024, signed=True) == "+20.0 MiB"
    assert format_bytes(-2.9 * 1024 * 1024, signed=True) == f"{MINUS}2.9 MiB"
    assert format_bytes(512) == "512 B"
    assert format_bytes(0, signed=True) == "0 B"
    assert format_bytes(None) == "n/a"
    assert format_bytes(3 * 1024 ** 3) == "3.0 GiB"
    assert format_ratio(100, 150) == "+50.0%"
    assert format_ratio(0, 5) == "new"


def test_columns_cover_what_a_comparison_shows():
    keys = [k for k, _, _ in COLUMNS]
    for k in ("scenario", "protocol", "requests", "live_heap_delta", "rss_delta", "per_protocol", "client_failures",
              "requests_per_s", "latency_p99_us", "writes_per_response", "bytes_copied_per_response", "verdict"):
        assert k in keys


def test_an_undecided_pair_says_so_and_names_the_undecided_check():
    data = get_comparison(*undecided_pair())
    assert data["verdict"] == "UNDECIDED" and data["rows"][1]["verdict"] == "UNDECIDED" and data["exit_code"] == 3
    text = render_comparison(data)
    assert f"verdict UNDECIDED:\n  - UNDECIDED: {METRIC} candidate" in text and "FAIL" not in text.split("verdict")[-1]
