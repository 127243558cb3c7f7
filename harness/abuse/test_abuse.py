"""The abuse suite in quick mode against refserver-glibc, one test per case, and the CLI entry.

A case that the current server fails is xfail(strict=True) with the finding, so the
lead's fix turns it into an XPASS (a failure) and the marker must go.
"""
import json
import os
import subprocess

import pytest

from harness.abuse import attacks, runner
from harness.driver.binaries import REPO_ROOT

# Cases the current server fails, each with its finding (none at present).
KNOWN_FAILURES: dict[str, str] = {}


def _case_params():
    for name in attacks.CASES:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[name])] if name in KNOWN_FAILURES else []
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", list(_case_params()))
def test_case_quick(name):
    result = runner.run_case(name, "glibc", quick=True)
    summary = json.dumps(result.as_dict(), indent=1)
    assert result.error is None, summary
    assert result.alive and result.healthz, summary
    assert result.rss_before > 0 and result.rss_peak >= result.rss_before, summary
    cut = result.cutoff
    assert cut["accepted"] > 0, summary
    if name == "smuggling":
        assert set(cut["statuses"]) == {"400"} and cut["closed"], summary
    if name == "oversized_h1_headers":
        assert set(cut["statuses"]) == {"431"} and cut["closed"], summary
    if name == "slowloris":
        assert cut["closed"] and cut["summary"].count("100/100 closed"), summary
    if name in ("rapid_reset", "settings_flood", "ping_flood", "useless_frames", "hpack_bomb"):
        # GOAWAY ENHANCE_YOUR_CALM, or a close whose reset discarded the GOAWAY in our receive buffer
        assert cut["goaway"] in ("ENHANCE_YOUR_CALM", None) and (cut["goaway"] or cut["closed"]), summary
    if name in ("settings_flood", "ping_flood"):
        # cut off while flooding (a close the attacker's send runs into), before the 1M frames ran out; not a
        # server that just stops reading and leaves the connection to its 30 s send timeout
        assert cut["closed"] and "stopped reading" not in cut["summary"], summary
        assert cut["accepted"] < 1_000_000 and cut["seconds"] < 5, summary
    assert result.passed, "\n".join(result.failures) + "\n" + summary


def _memgate(*args, timeout=60):
    return subprocess.run([os.path.join(REPO_ROOT, "memgate"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)


def test_cli_runs_a_case_writes_json_and_exits_0(tmp_path):
    out = tmp_path / "abuse.json"
    proc = _memgate("abuse", "--quick", "--case", "smuggling", "--json", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "smuggling" in proc.stdout and "1/1 cases pass" in proc.stdout
    data = json.loads(out.read_text())
    assert data["passed"] is True and data["cases"][0]["case"] == "smuggling"
    assert data["cases"][0]["rss_before_bytes"] > 0


def test_suite_exits_1_when_a_case_fails(monkeypatch, capsys):
    def fake(name, allocator, quick):
        r = runner.CaseResult(name, rss_before=1, rss_peak=1, rss_after=1, alive=True, healthz=True)
        r.failures.append("RSS grew 40.0 MiB during the attack (limit 32)")
        return r
    monkeypatch.setattr(runner, "run_case", fake)
    assert runner.run_suite(True, "glibc", ["smuggling"]) == 1
    assert "FAIL smuggling: RSS grew" in capsys.readouterr().out


def test_cli_exits_2_for_an_unknown_case_or_missing_binary():
    assert _memgate("abuse", "--case", "nope").returncode == 2
    env_run = subprocess.run([os.path.join(REPO_ROOT, "memgate"), "abuse", "--quick", "--case", "smuggling"],
                             capture_output=True, text=True, timeout=30, cwd=REPO_ROOT,
                             env=dict(os.environ, MEMGATE_BUILD_DIR="/nonexistent"))
    assert env_run.returncode == 2 and "missing binary" in env_run.stderr


def test_judge_applies_the_pass_thresholds():
    mib = runner.MiB
    ok = runner.CaseResult("x", rss_before=10 * mib, rss_peak=41 * mib, rss_after=14 * mib,
                           control_base_p99=0.001, control_attack_p99=0.009, alive=True, healthz=True)
    ok.judge()
    assert ok.passed, ok.failures  # 31 MiB growth, +4 MiB after, 9 ms vs the 5 ms floor
    bad = runner.CaseResult("y", rss_before=10 * mib, rss_peak=42 * mib, rss_after=14 * mib + 1,
                            control_base_p99=0.001, control_attack_p99=0.010, alive=True, healthz=True)
    bad.judge()
    assert len(bad.failures) == 3, bad.failures


def test_cutoff_failures_say_what_the_server_did_not_do():
    def cut(**fields):
        return {"goaway": None, "rst_stream": {}, "closed": False, "accepted": 100, "unit": "frames",
                "summary": "not cut off", **fields}
    assert runner.cutoff_failures("rapid_reset", cut(goaway="ENHANCE_YOUR_CALM")) == []
    assert runner.cutoff_failures("rapid_reset", cut(closed=True)) == []
    assert runner.cutoff_failures("rapid_reset", cut()) == ["the attacker was never cut off (not cut off, 100 frames)"]
    assert runner.cutoff_failures("useless_frames", cut(goaway="PROTOCOL_ERROR")) == [
        "cut off with GOAWAY PROTOCOL_ERROR, not ENHANCE_YOUR_CALM"]
    assert runner.cutoff_failures("continuation_flood", cut(goaway="PROTOCOL_ERROR")) == []
    assert runner.cutoff_failures("stream_flood", cut(rst_stream={"REFUSED_STREAM": 100})) == []
    assert runner.cutoff_failures("ping_flood", cut(closed=True, accepted=1_000_000)) == [
        "the flood was not cut off while it flooded (not cut off, 1000000 frames)"]
    assert runner.cutoff_failures("slowloris", cut(summary="100/100 closed by server, first after 10.0 s")) == []
    assert runner.cutoff_failures("slowloris", cut(summary="0/100 closed in 11.5 s")) == [
        "slow header sections were left open (0/100 closed in 11.5 s)"]
