"""memgate twin without running servers: rendering and the command's input errors."""

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
