"""./memgate as a user runs it: exit codes, messages, result files, no stray processes."""

import json
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from harness.driver.binaries import REPO_ROOT
from harness.driver.conftest import assert_no_strays, processes_with_run_id
from harness.driver.runner import RUN_ID_ENV

MEMGATE = os.path.join(REPO_ROOT, "memgate")
TESTDATA = os.path.join(REPO_ROOT, "analysis", "testdata")


def memgate(*args, env=None, timeout=120):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([MEMGATE, *args], capture_output=True, text=True, env=full_env, timeout=timeout)


def spawn(*args, env):
    full_env = dict(os.environ)
    full_env.update(env)
    return subprocess.Popen([MEMGATE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)


def read(path):
    with open(path) as f:
        return json.load(f)


def test_bad_scenario_exits_2_naming_file_key_and_reason(tmp_path):
    scen = tmp_path / "bad.toml"
    scen.write_text('protocol = "h2c"\npipeline = 4\n')
    out = tmp_path / "r.json"
    p = memgate("run", str(scen), "-o", str(out))
    assert p.returncode == 2
    assert str(scen) in p.stderr and "'pipeline'" in p.stderr and "needs protocol h1" in p.stderr
    r = read(out)
    assert r["status"] == "failed" and r["failure"]["kind"] == "bad_scenario" and r["failure"]["key"] == "pipeline"


def test_unknown_set_key_and_unparsable_value(tmp_path):
    p = memgate("run", "--set", "colour=blue", "-o", str(tmp_path / "r.json"))
    assert p.returncode == 2 and "'colour'" in p.stderr and "unknown key" in p.stderr
    p = memgate("run", "--set", "requests=[1,", "-o", str(tmp_path / "r2.json"))
    assert p.returncode == 2 and "'[1,'" in p.stderr
    p = memgate("run", "--repeat", "0")
    assert p.returncode == 2 and "'0' must be at least 1" in p.stderr


def test_missing_binary_exits_2_with_path_and_build_command(tmp_path):
    out = tmp_path / "r.json"
    p = memgate("run", "--set", "requests=100", "-o", str(out), env={"MEMGATE_BUILD_DIR": str(tmp_path / "nobuild")})
    assert p.returncode == 2
    expected = os.path.join(str(tmp_path / "nobuild"), "bin", "refserver-glibc")
    assert expected in p.stderr and "bash ci/build.sh" in p.stderr
    r = read(out)
    assert r["failure"]["kind"] == "missing_binary" and expected in r["failure"]["message"]


def _wait_for_server(run_id, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for pid, cmd in processes_with_run_id(run_id):
            if "refserver-" in cmd:
                return pid
        time.sleep(0.02)
    raise AssertionError("the server never appeared")


@pytest.mark.e2e
def test_cli_run_writes_result_and_prints_summary(built, tmp_path):
    out = tmp_path / "r.json"
    p = memgate("run", os.path.join(REPO_ROOT, "scenarios", "default.toml"), "--set", "requests=5000",
                "--set", "warmup_requests=500", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert f"result: {out}" in p.stdout and "5,000 requests" in p.stdout and "live heap" in p.stdout
    r = read(out)
    assert r["status"] == "ok" and r["scenario"]["name"] == "default" and r["metrics"]["requests_completed"] == 5000
    assert_no_strays(r)


@pytest.mark.e2e
def test_cli_server_killed_mid_run_exits_2(built, tmp_path):
    run_id = uuid.uuid4().hex
    out = tmp_path / "r.json"
    proc = spawn("run", "--set", "requests=400000", "--set", "warmup_requests=100", "-o", str(out), env={RUN_ID_ENV: run_id})
    pid = _wait_for_server(run_id)
    time.sleep(0.8)
    os.kill(pid, signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, stderr
    assert "FAILED (server_died)" in stderr and f"result: {out}" in stdout
    r = read(out)
    assert r["status"] == "failed" and r["failure"]["kind"] == "server_died" and "SIGKILL" in r["failure"]["message"]
    assert_no_strays(r)


@pytest.mark.e2e
def test_cli_hung_server_exits_2_within_time_limit(built, tmp_path):
    run_id = uuid.uuid4().hex
    out = tmp_path / "r.json"
    t0 = time.monotonic()
    proc = spawn("run", "--set", "requests=400000", "--set", "warmup_requests=100", "--set", "time_limit_s=2",
                 "-o", str(out), env={RUN_ID_ENV: run_id})
    pid = _wait_for_server(run_id)
    time.sleep(0.5)
    os.kill(pid, signal.SIGSTOP)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, stderr
    assert time.monotonic() - t0 < 40
    r = read(out)
    assert r["failure"]["kind"] in ("time_limit", "unresponsive"), r["failure"]
    assert "SIGSTOP" in r["failure"]["message"] or "failed" in r["failure"]["message"]
    assert_no_strays(r)


def test_gate_exit_codes_and_reasons():
    base = os.path.join(TESTDATA, "baseline_writev.json")
    p = memgate("gate", base, os.path.join(TESTDATA, "candidate_writev.json"))
    assert p.returncode == 0 and "gate PASS" in p.stdout
    p = memgate("gate", base, os.path.join(TESTDATA, "candidate_leak.json"))
    assert p.returncode == 1 and "REGRESSION: live_heap_bytes_per_request candidate 72.02" in p.stdout
    p = memgate("gate", base, os.path.join(TESTDATA, "failed.json"))
    assert p.returncode == 2 and "candidate is a failed measurement (server_died)" in p.stdout
    p = memgate("gate", base, "/nonexistent.json")
    assert p.returncode == 2 and "no such result file" in p.stderr


def test_compare_prints_table():
    p = memgate("compare", os.path.join(TESTDATA, "baseline_writev.json"), os.path.join(TESTDATA, "candidate_buffered.json"))
    assert p.returncode == 0
    assert "Live heap" in p.stdout and "FAIL" in p.stdout and "+1.0 MiB" in p.stdout


@pytest.mark.e2e
def test_baseline_update_stores_and_keeps_old_on_failure(built, tmp_path):
    scen = tmp_path / "tiny.toml"
    scen.write_text("requests = 2000\nwarmup_requests = 200\n")
    target = tmp_path / "baselines" / "tiny.json"
    p = memgate("baseline", "update", str(scen), "-o", str(target))
    assert p.returncode == 0, p.stderr
    assert read(target)["status"] == "ok" and "baseline updated" in p.stdout
    before = target.read_text()
    p = memgate("baseline", "update", str(scen), "-o", str(target), env={"MEMGATE_BUILD_DIR": str(tmp_path / "none")})
    assert p.returncode == 2 and "NOT updated" in p.stderr
    assert target.read_text() == before


def test_gate_exit_3_when_undecided_and_a_damaged_calibration_is_refused(tmp_path):
    with open(os.path.join(TESTDATA, "candidate_writev.json")) as f:
        cand = json.load(f)
    cand["metrics"]["rss_delta_bytes"] = 14 << 20  # over 3 x the noisy baseline, within it only with its noise
    path = tmp_path / "candidate.json"
    path.write_text(json.dumps(cand))
    base = os.path.join(TESTDATA, "baseline_noisy.json")
    p = memgate("gate", base, str(path))
    assert p.returncode == 3 and "gate UNDECIDED" in p.stdout and "UNDECIDED: rss_delta_bytes" in p.stdout
    damaged = tmp_path / "damaged.calibration.json"
    damaged.write_text('{"schema": "memgate.calibration/0"}')
    p = memgate("gate", base, str(path), "--calibration", str(damaged))
    assert p.returncode == 2 and f"{damaged}: field 'schema'" in p.stderr


def test_compare_judges_with_the_calibration_beside_the_baseline_as_gate_does(tmp_path):
    base = tmp_path / "base.json"
    shutil.copyfile(os.path.join(TESTDATA, "baseline_writev.json"), base)
    cand = os.path.join(TESTDATA, "candidate_writev.json")
    p = memgate("compare", str(base), cand)
    assert p.returncode == 0 and "no calibration" in p.stdout
    beside = tmp_path / "base.calibration.json"
    shutil.copyfile(os.path.join(REPO_ROOT, "ci", "baselines", "default.calibration.json"), beside)
    for command in ("compare", "gate"):
        p = memgate(command, str(base), cand)
        assert p.returncode == 0, p.stdout + p.stderr
        assert f"noise: the calibration's A/A spread ({beside}, 40 clean pairs" in p.stdout, p.stdout
        assert "this gate's measured false-alarm rate: 0/40; smallest leak caught: " in p.stdout
    beside.write_text('{"schema": "memgate.calibration/0"}')
    p = memgate("compare", str(base), cand)
    assert p.returncode == 2 and f"{beside}: field 'schema'" in p.stderr
