"""End to end: `memgate run` killed by each signal while it measures. SIGINT, SIGTERM and SIGHUP
leave an interrupted result and exit 128 + the signal; SIGKILL included, no process it started
(refserver, loadgen, a forking nginx and its workers) outlives it, and an attached server is
never signalled. The other long commands (twin, matrix, gate --rerun) stop the same way; profile
and abuse have their own tests beside them."""

import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from analysis.testdata.undecided import undecided_pair
from harness.driver import binaries, reaper, scenario as scenario_mod
from harness.driver.binaries import REPO_ROOT
from harness.driver.processes import descendants, pids_with_environ
from harness.testservers.launch import launcher

pytestmark = pytest.mark.e2e

MEMGATE = os.path.join(REPO_ROOT, "memgate")
MARKER_ENV = "MEMGATE_TEST_MARKER"
LONG = 50_000_000  # requests no run finishes before the signal
WARMUP = 200
NGINX = os.path.join(REPO_ROOT, "scenarios", "targets", "nginx-static.toml")


def marked(marker: str) -> list[tuple[int, str]]:
    """(pid, cmdline) of live processes whose environment or cmdline carries the marker."""
    needle = marker.encode()
    found = set(pids_with_environ(MARKER_ENV, marker))
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle in f.read():
                    found.add(int(entry))
        except OSError:
            continue
    return [(pid, cmdline(pid)) for pid in sorted(found) if pid != os.getpid() and alive(pid)]


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def alive(pid: int) -> bool:
    return start_time(pid) is not None


def wait_measuring(proc: subprocess.Popen, marker: str, replicates: int = 1, timeout_s: float = 60,
                   settle_s: float = 0.5) -> None:
    """Until the measured loadgen of the given replicate runs (any loadgen but a warm-up), then
    settle_s more for a few timeline samples."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for pid, line in marked(marker):
            if "loadgen" in line and f"--requests {WARMUP} " not in line:
                seen.add(pid)
        if len(seen) >= replicates:
            time.sleep(settle_s)
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"memgate never reached the measured run of replicate {replicates}")


@pytest.fixture
def start(tmp_path):
    """start(marker, *args) -> (memgate run in a subprocess, its result path); whatever a failed test
    leaves (the driver, its children) is killed at teardown."""
    started: list[tuple[subprocess.Popen, str]] = []

    def launch(marker: str, *args: str, argv: list[str] | None = None) -> tuple[subprocess.Popen, str]:
        """memgate run with args, or another driver's argv."""
        out = str(tmp_path / "result.json")
        argv = argv or [MEMGATE, "run", *args, "--set", f"warmup_requests={WARMUP}", "--set", "time_limit_s=100",
                        "-o", out]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                                env={**os.environ, MARKER_ENV: marker, "PYTHONPATH": REPO_ROOT})
        started.append((proc, marker))
        return proc, out

    yield launch
    for proc, marker in started:
        left = ([*descendants(proc.pid), proc.pid] if proc.poll() is None else []) + [p for p, _ in marked(marker)]
        left += [pid for pid, t in getattr(proc, "tree", {}).items() if start_time(pid) == t]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.communicate()


def assert_nothing_left(proc: subprocess.Popen, marker: str, tree: dict[int, str], grace_s: float = 5.0) -> None:
    """No process with the marker, and none of the driver's descendants seen before the signal (same
    pid and start time: nginx rewrites its workers' environment and cmdline), within grace_s."""
    deadline = time.monotonic() + grace_s
    while True:
        strays = marked(marker) + [(pid, cmdline(pid)) for pid, t in tree.items() if start_time(pid) == t]
        if not strays or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for pid, _ in strays:  # leave the machine clean for the next test whatever happened
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not strays, f"left running after the driver ({proc.pid}) died: {strays}"


def interrupt(proc: subprocess.Popen, sig: int, running: str = "loadgen") -> tuple[dict[int, str], str]:
    """Sends sig while a child whose cmdline names `running` is among the driver's descendants; (the tree
    seen before the signal, the driver's stderr). Its stdout is kept as proc.stdout_text."""
    tree = proc.tree = {pid: start_time(pid) for pid in descendants(proc.pid)}  # for the teardown too
    assert any(running in cmdline(p) for p in tree) and len(tree) >= 2, {p: cmdline(p) for p in tree}
    proc.send_signal(sig)
    try:
        proc.stdout_text, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"memgate did not exit within 60 s of {signal.Signals(sig).name}")
    return tree, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_writes_an_interrupted_result_and_leaves_nothing(built, start, tmp_path, sig):
    marker = uuid.uuid4().hex
    proc, out = start(marker, "--set", f"requests={LONG}")
    wait_measuring(proc, marker)
    tree, err = interrupt(proc, sig)
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {signal.Signals(sig).name}" in err
    assert_nothing_left(proc, marker, tree)
    result = json.load(open(out))
    assert result["status"] == "failed" and result["metrics"] is None
    assert result["failure"]["kind"] == "interrupted" and result["failure"]["signal"] == signal.Signals(sig).name
    (rep,) = result["replicates"]
    assert rep["failure"]["kind"] == "interrupted" and rep["start_sample"]["live_heap_bytes"] > 0
    assert len(rep["timeline"]) >= 2  # the samples taken before the signal
    assert rep["server"]["stopped_by_driver"] and rep["server"]["exit_code"] is not None
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]


def test_an_interrupt_keeps_the_replicates_already_done(built, start, tmp_path):
    marker = uuid.uuid4().hex
    proc, out = start(marker, "--set", "requests=50000", "--set", "repeat=50")
    # No settling: on a quiet machine a short replicate's loadgen can be gone within half a second,
    # and the signal must land while one runs.
    wait_measuring(proc, marker, replicates=2, settle_s=0.0)
    tree, err = interrupt(proc, signal.SIGTERM)
    assert proc.returncode == 143, err
    assert_nothing_left(proc, marker, tree)
    result = json.load(open(out))
    done = result["failure"]["replicates_completed"]
    assert result["failure"]["kind"] == "interrupted" and done >= 1
    assert [r["status"] for r in result["replicates"]][:done] == ["ok"] * done
    assert result["metrics"]["requests_completed"] == 50000  # the median of the finished replicates


def test_sigkill_of_the_driver_leaves_nothing(built, start, tmp_path):
    marker = uuid.uuid4().hex
    proc, out = start(marker, "--set", f"requests={LONG}")
    wait_measuring(proc, marker)
    tree, _ = interrupt(proc, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert_nothing_left(proc, marker, tree)
    assert not os.path.exists(out)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_forking_command_target_and_its_workers_die_with_the_driver(built, start, tmp_path, sig):
    marker = uuid.uuid4().hex
    proc, out = start(marker, NGINX, "--set", f"requests={LONG}")
    wait_measuring(proc, marker)
    workers = [p for p in descendants(proc.pid) if "worker process" in cmdline(p)]
    assert len(workers) == 2, {p: cmdline(p) for p in descendants(proc.pid)}
    tree, err = interrupt(proc, sig)
    assert proc.returncode == (143 if sig == signal.SIGTERM else -signal.SIGKILL), err
    assert_nothing_left(proc, marker, tree)
    if sig == signal.SIGTERM:
        assert json.load(open(out))["failure"]["kind"] == "interrupted"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_an_attached_server_is_never_signalled(built, start, tmp_path, sig):
    env = {k: v for k, v in os.environ.items() if k != reaper.MARK_ENV}  # a server this driver did not start
    with launcher() as launch:
        server = launch([binaries.binary("leaky_server"), "--port", "0"], env=env).wait_listening()
        scenario = tmp_path / "attach.toml"
        scenario.write_text(f'protocol = "h1"\nendpoint = "/"\nconnections = 1\nverify = "status"\n'
                            f'[target]\nkind = "attach"\nport = {server.port}\npid = {server.pid}\n')
        marker = uuid.uuid4().hex
        proc, out = start(marker, str(scenario), "--set", f"requests={LONG}")
        wait_measuring(proc, marker)
        tree, err = interrupt(proc, sig)
        assert proc.returncode == (143 if sig == signal.SIGTERM else -signal.SIGKILL), err
        assert_nothing_left(proc, marker, tree)
        time.sleep(0.5)
        assert server.process.poll() is None
        with open(f"/proc/{server.pid}/status") as f:
            assert "SigPnd:\t0000000000000000" in f.read()


def test_the_pytest_plugins_children_die_with_a_killed_pytest(built, start, tmp_path):
    (tmp_path / "test_long.py").write_text(
        "def test_long(memgate_run):\n"
        f"    memgate_run(None, requests={LONG}, warmup_requests={WARMUP}, time_limit_s=100)\n")
    marker = uuid.uuid4().hex
    proc, _ = start(marker, argv=["/usr/bin/python3", "-m", "pytest", "-q", "-p", "harness.driver.pytest_plugin",
                                  "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path / "test_long.py")])
    wait_measuring(proc, marker)
    tree, _ = interrupt(proc, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert_nothing_left(proc, marker, tree)


@pytest.mark.parametrize("command, sig", [("twin", signal.SIGHUP), ("matrix", signal.SIGINT)])
def test_the_other_long_commands_stop_the_same_way(built, start, tmp_path, command, sig):
    marker = uuid.uuid4().hex
    out = tmp_path / "out"
    proc, _ = start(marker, argv=[MEMGATE, command, os.path.join(REPO_ROOT, "scenarios", "failure-modes", "pipelining.toml"),
                                  "--set", f"requests={LONG}", "--set", f"warmup_requests={WARMUP}",
                                  "--set", "time_limit_s=100", "-o", str(out)])
    wait_measuring(proc, marker)
    tree, err = interrupt(proc, sig)
    assert proc.returncode == 128 + sig, err
    assert_nothing_left(proc, marker, tree)
    assert f"kept in {out}" in err  # where what was measured is
    written = json.load(open(out / ("pipelining.clean.json" if command == "twin" else "pipelining.json")))
    assert written["failure"]["kind"] == "interrupted" and written["failure"]["signal"] == signal.Signals(sig).name


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_gate_rerun_stopped_prints_the_verdict_so_far_and_leaves_nothing(built, start, tmp_path, sig):
    baseline, candidate = undecided_pair()
    candidate["config"] = scenario_mod.load(None, [("requests", LONG), ("warmup_requests", WARMUP),
                                                   ("time_limit_s", 100)]).config  # a rerun that never ends
    files = []
    for name, result in (("base", baseline), ("cand", candidate)):
        (tmp_path / f"{name}.json").write_text(json.dumps(result))
        files.append(str(tmp_path / f"{name}.json"))
    marker = uuid.uuid4().hex
    proc, _ = start(marker, argv=[MEMGATE, "gate", "--rerun", *files])
    wait_measuring(proc, marker)
    tree, err = interrupt(proc, sig)
    assert proc.returncode == 128 + sig, err
    assert_nothing_left(proc, marker, tree)
    out = proc.stdout_text
    assert out.startswith("gate UNDECIDED"), out
    assert f"stopped by {signal.Signals(sig).name} after 0 more replicate(s)" in out
