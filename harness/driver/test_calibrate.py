"""memgate calibrate: ladder sizes from the gate's thresholds, and tiny end-to-end calibrations of
refserver (pairs and a 4x ladder) and of a command target (pairs only)."""

import os
import signal
import uuid

import pytest

from analysis import calibration, gate
from harness.driver import calibrate
from harness.driver.conftest import assert_no_strays
from harness.driver.runner import RUN_ID_ENV
from harness.driver.scenario import from_dict
from harness.test_cli import memgate, read, spawn

TINY = ["--set", "requests=2000", "--set", "warmup_requests=500", "--set", "sample_interval_ms=50",
        "--pairs", "2", "--ladder-runs", "1", "--multiples", "4"]


def _plan(**keys):
    sc = from_dict(keys)
    return {(inj.name, mult): size
            for inj, mult, size in calibrate.ladder_plan(sc.config, gate.thresholds_for({"config": sc.config}), (0.25, 4.0))}


def test_ladder_sizes_come_from_the_thresholds_at_the_scenarios_request_count():
    plan = _plan(requests=100000, connections=4)
    # 8 B/request is the bound; the 64 KiB floor spread over 100k requests is below it.
    assert plan[("malloc_per_request", 0.25)] == 2 and plan[("new_per_request", 4.0)] == 32
    assert plan[("new_per_connection", 4.0)] == 32 * 100000 // 4  # the same bytes, held by 4 connections
    assert plan[("copy", 0.25)] == 4 and plan[("copy", 4.0)] == 64  # 16 B/response of slack
    # 500 requests: the floor (at least 4 KiB, spread over 500 = 8.2 B/request) is the threshold, not the 8 B bound.
    short = _plan(requests=500, connections=4, requests_per_connection=25)
    assert short[("malloc_per_request", 4.0)] == round(4 * 4096 / 500)
    assert short[("malloc_per_connection", 4.0)] == round(4 * 4096 / 20)  # 20 connections opened


def test_the_ladder_uses_the_injection_names_the_calibration_file_allows():
    assert tuple(inj.name for inj in calibrate.INJECTIONS) == calibration.INJECTIONS


def test_nothing_is_injected_into_a_target_memgate_did_not_build():
    assert _plan(protocol="h1", target={"kind": "command", "argv": ["srv", "{port}"]}) == {}


def test_calibrate_refuses_bad_settings(tmp_path):
    for args, message in ((["--pairs", "0"], "must be at least 1"), (["--multiples", "1,x"], "separated by commas"),
                          (["--multiples", "0"], "above 0"), (["--pairs", "501"], "more than 500")):
        r = memgate("calibrate", "scenarios/default.toml", *args, "-o", str(tmp_path / "c.json"))
        assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not (tmp_path / "c.json").exists()


def _check_schema(path, pairs):
    calibration.load(path)  # the gate's own validation
    data = read(path)
    assert data["schema"] == "memgate.calibration/1" and data["pairs"] == pairs and data["case"] is None
    assert data["created"].endswith("Z") and data["machine"]["cores"] >= 1
    for name, m in data["metrics"].items():
        assert set(m) == {"unit", "aa_differences", "aa_spread", "false_alarms", "minimum_detectable", "ladder",
                          "smallest_caught"}, name
        assert len(m["aa_differences"]) == pairs
        assert m["aa_spread"] == calibration.aa_spread(m["aa_differences"])
        assert m["minimum_detectable"] == pytest.approx(3.0 * m["aa_spread"])
        assert 0 <= m["false_alarms"] <= pairs
    return data


@pytest.mark.e2e
def test_a_tiny_calibration_of_refserver_catches_a_4x_leak_and_a_4x_copy(built, tmp_path):
    out = tmp_path / "default.calibration.json"
    r = memgate("calibrate", "scenarios/default.toml", *TINY, "-o", str(out), timeout=600)
    assert r.returncode == 0, r.stderr
    data = _check_schema(out, pairs=2)
    assert data["target"]["kind"] == "refserver"
    heap = data["metrics"]["live_heap_bytes_per_request"]
    steps = {s["injection"]: s for s in heap["ladder"]}
    assert set(steps) == {"malloc_per_request", "new_per_request", "malloc_per_connection", "new_per_connection"}
    assert steps["new_per_request"] == {"injection": "new_per_request", "multiple": 4.0, "size": 32,
                                        "unit": "bytes/request", "runs": 1, "caught": 1}
    assert steps["new_per_connection"]["caught"] == 1
    assert heap["smallest_caught"]["catch_rate"] == 1.0 and heap["smallest_caught"]["size"] == 32  # per request first: 4 x the 8 B/request bound
    copied = data["metrics"]["bytes_copied_per_response"]
    assert [(s["injection"], s["size"], s["caught"]) for s in copied["ladder"]] == [("copy", 64, 1)]
    assert copied["smallest_caught"] == {"injection": "copy", "size": 64, "unit": "bytes/response", "catch_rate": 1.0}
    assert "live_heap_bytes_per_request" in r.stdout and "False alarms" in r.stdout
    assert f"calibration: {out}" in r.stdout
    assert calibration.summary(calibration.load(out)).startswith("this gate's measured false-alarm rate: ")


@pytest.mark.e2e
def test_a_command_target_gets_pairs_and_the_minimum_detectable_effect_only(built, tmp_path):
    scenario = tmp_path / "outside.toml"
    scenario.write_text(f'protocol = "h1"\nendpoint = "/bytes/1024"\nconnections = 2\n'
                        f'[target]\nkind = "command"\nheap = "none"\n'
                        f'argv = ["{built["server"]}", "--port", "{{port}}", "--threads", "1"]\n')
    out = tmp_path / "outside.calibration.json"
    r = memgate("calibrate", str(scenario), *TINY, "-o", str(out), timeout=600)
    assert r.returncode == 0, r.stderr
    data = _check_schema(out, pairs=2)
    assert data["target"]["kind"] == "command"
    assert "live_heap_bytes_per_request" not in data["metrics"]  # RSS only: the gate does not judge it
    assert all(m["ladder"] == [] and m["smallest_caught"] is None for m in data["metrics"].values())
    assert "rss_delta_bytes" in data["metrics"]
    assert "minimum detectable" in calibration.summary(calibration.load(out))
    assert not os.path.exists(str(out) + ".tmp")


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_calibration_writes_the_pairs_it_finished(built, tmp_path, sig):
    out = tmp_path / "default.calibration.json"
    run_id = uuid.uuid4().hex
    proc = spawn("calibrate", "scenarios/default.toml", *TINY[:6], "--pairs", "50", "-o", str(out), env={RUN_ID_ENV: run_id})
    seen = []
    for line in proc.stderr:  # progress: "clean pair 2/50: A" starts once the first pair is in
        seen.append(line)
        if line.startswith("clean pair 2/50: A"):
            break
    else:
        proc.kill()
        pytest.fail(f"no second pair started: {seen}")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert "stopped early: interrupted" in err
    assert_no_strays(run_id)
    data = _check_schema(out, pairs=read(out)["pairs"])
    assert 1 <= data["pairs"] <= 2
    assert all(m["ladder"] == [] for m in data["metrics"].values())
