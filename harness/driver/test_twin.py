"""memgate twin without running servers: rendering and the command's input errors."""

from analysis import gate
from harness.driver import twin
from harness.test_cli import memgate


def _summary(bad_verdict: str) -> dict:
    rows = [{"case": "up", "run": "clean", "expected": "baseline", "verdict": "ok", "outcome": "ok",
             "peak_rss_growth": 2 << 20},
            {"case": "", "run": "clean-rerun", "expected": "PASS", "verdict": "PASS", "outcome": "as expected"},
            {"case": "", "run": "bad-twin", "expected": "FAIL", "verdict": bad_verdict,
             "outcome": "as expected" if bad_verdict == "FAIL" else "UNEXPECTED", "reasons": []}]
    code = twin.EXIT_AS_EXPECTED if bad_verdict == "FAIL" else twin.EXIT_UNEXPECTED
    return {"cases": [{"case": "up", "rows": rows}], "exit_code": code}


def test_render_marks_a_twin_the_gate_let_through():
    text = twin.render(_summary("PASS"))
    assert "UNEXPECTED" in text
    assert "bad-twin of the case above: the gate passed it" in text
    assert text.rstrip().endswith("see the rows marked UNEXPECTED")
    ok = twin.render(_summary("FAIL"))
    assert "every clean rerun passed and every bad twin failed the gate" in ok
    assert "2.0 MiB" in ok.splitlines()[2]  # figures are aligned cells, not raw numbers


def test_twin_refuses_scenarios_without_a_twin_and_unknown_cases(tmp_path):
    path = tmp_path / "plain.toml"
    path.write_text('requests = 10\n')
    r = memgate("twin", str(path), "-o", str(tmp_path / "out"))
    assert r.returncode == twin.EXIT_FAILED and "plain: no bad_twin table, nothing to prove" in r.stderr
    path.write_text('requests = 10\n[bad_twin]\nserver_args = ["--inject-leak=8"]\n')
    r = memgate("twin", str(path), "--case", "nope", "-o", str(tmp_path / "out"))
    assert r.returncode == twin.EXIT_FAILED and "no case named nope; cases: plain" in r.stderr
    assert not (tmp_path / "out").exists()  # nothing ran


def _report(*failed: str) -> gate.GateReport:
    checks = [gate.Check(name, "bytes", 0.0, 1.0, 0.5, "test limit", gate.FAIL if name in failed else gate.PASS)
              for name in ("live_heap_bytes_per_request", "rss_delta_bytes", "peak_rss_growth_bytes")]
    return gate.GateReport(checks, [], {}, [])


def test_a_twin_counts_only_when_the_familys_own_metric_fails():
    family = "live_heap_bytes_per_request"
    assert twin.as_expected(_report(family), "FAIL", family)
    assert twin.as_expected(_report(family, "rss_delta_bytes"), "FAIL", family)
    assert not twin.as_expected(_report("rss_delta_bytes"), "FAIL", family)  # a FAIL, but on another metric
    assert not twin.as_expected(_report(), "FAIL", family)
    assert twin.as_expected(_report(), "PASS", family) and not twin.as_expected(_report(family), "PASS", family)
    assert twin._reasons(_report("rss_delta_bytes"), False, family)[0] == (
        "failed on rss_delta_bytes, not on the family's metric live_heap_bytes_per_request")


def test_a_run_stopped_at_its_memory_ceiling_is_a_peak_growth_failure():
    stopped = gate.GateReport([gate.Check("peak_rss_bytes", "bytes", 1.0, 9.0, 4.0, "memory_ceiling_mib", gate.FAIL)], [], {}, [])
    assert twin.as_expected(stopped, "FAIL", "peak_rss_growth_bytes")
    assert not twin.as_expected(stopped, "FAIL", "live_heap_bytes_per_request")


def test_twin_refuses_a_scenario_that_names_no_twin_metric(tmp_path):
    path = tmp_path / "unnamed.toml"
    path.write_text('requests = 10\n[bad_twin]\nserver_args = ["--inject-leak=8"]\n')
    r = memgate("twin", str(path), "-o", str(tmp_path / "out"))
    assert r.returncode == twin.EXIT_FAILED
    assert "unnamed: no twin_metric, the metric its twins must fail on" in r.stderr
    assert not (tmp_path / "out").exists()
