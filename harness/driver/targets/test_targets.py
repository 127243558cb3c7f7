"""End to end: a command target through the shim, an attached server, and every way a target can fail to start."""

import socket
import subprocess
import uuid

import pytest

from analysis import gate
from harness.driver import binaries
from harness.driver.conftest import assert_no_strays
from harness.driver.runner import RUN_ID_ENV, run_scenario
from harness.driver.scenario import from_dict
from harness.driver.processes import process_state
from harness.test_cli import memgate, read

SMALL = {"protocol": "h1", "endpoint": "/", "connections": 1, "warmup_requests": 200, "requests": 4000,
         "sample_interval_ms": 50}


@pytest.fixture(scope="module")
def leaky_server(verifying_loadgen):
    try:
        binaries.binary("libmemgate_heapshim.so")
        return binaries.binary("leaky_server")
    except binaries.MissingBinary as e:
        pytest.fail(str(e), pytrace=False)


def command(server, leak_bytes=0, **target):
    argv = [server, "--port", "{port}"] + (["--leak-bytes", str(leak_bytes)] if leak_bytes else [])
    return from_dict({**SMALL, "target": {"kind": "command", "argv": argv, "heap": "shim", **target}})


def test_shim_live_heap_fails_a_16_byte_per_request_leak_and_passes_the_clean_build(leaky_server):
    clean = run_scenario(command(leaky_server))
    rerun = run_scenario(command(leaky_server))
    leaky = run_scenario(command(leaky_server, leak_bytes=16))
    for result in (clean, rerun, leaky):
        assert result["status"] == "ok", result["failure"]
        assert result["replicates"][0]["server"]["heap"] == "shim"
        assert_no_strays(result)
    assert gate.evaluate(clean, rerun).verdict == "PASS"
    verdict = gate.evaluate(clean, leaky)
    assert [c.metric for c in verdict.failures] == ["live_heap_bytes_per_request"]
    assert leaky["metrics"]["live_heap_bytes_per_request"] >= 16
    assert leaky["metrics"]["allocations_per_request"] == pytest.approx(1.0, abs=0.05)


def test_rss_alone_fails_a_kilobyte_per_request_malloc_leak_and_passes_the_clean_build_three_times(leaky_server):
    """heap = "none": no live heap to judge, so the gate judges RSS; 1 KiB per request over 20k
    requests is 20 MiB the allocator cannot give back."""
    def rss_only(leak_bytes=0):
        argv = [leaky_server, "--port", "{port}"] + (["--leak-bytes", str(leak_bytes)] if leak_bytes else [])
        return run_scenario(from_dict({**SMALL, "requests": 20000, "target": {"kind": "command", "argv": argv, "heap": "none"}}))

    baseline, *cleans = [rss_only() for _ in range(4)]
    leaky = rss_only(leak_bytes=1024)
    for result in (baseline, *cleans, leaky):
        assert result["status"] == "ok", result["failure"]
        assert result["metrics"]["live_heap_bytes_per_request"] is None
        assert_no_strays(result)
    for clean in cleans:
        verdict = gate.evaluate(baseline, clean)
        assert verdict.verdict == "PASS", [c.metric for c in verdict.failures]
        assert any(n.startswith("live_heap_bytes_per_request") for n in verdict.not_judged), verdict.not_judged
    verdict = gate.evaluate(baseline, leaky)
    assert verdict.verdict == "FAIL"
    assert "rss_delta_bytes" in [c.metric for c in verdict.failures]
    assert leaky["metrics"]["rss_delta_bytes"] >= 16 << 20


@pytest.fixture
def started_server(leaky_server):
    proc = subprocess.Popen([leaky_server, "--port", "0"], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().strip().rsplit(":", 1)[1])
    yield proc, port
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("by", ["pid", "pidfile"])
def test_attach_samples_a_server_it_never_signals(started_server, by, tmp_path):
    proc, port = started_server
    where = {"pid": proc.pid}
    if by == "pidfile":
        (tmp_path / "server.pid").write_text(f"{proc.pid}\n")
        where = {"pidfile": str(tmp_path / "server.pid")}
    result = run_scenario(from_dict({**SMALL, "target": {"kind": "attach", "port": port, **where}}))
    assert result["status"] == "ok", result["failure"]
    server = result["replicates"][0]["server"]
    assert server["pid"] == proc.pid and server["stopped_by_driver"] is False and server["exit_code"] is None
    assert proc.poll() is None and process_state(proc.pid) in ("S", "R")
    with open(f"/proc/{proc.pid}/status") as f:  # nothing pending either
        assert "SigPnd:\t0000000000000000" in f.read()
    assert result["metrics"]["rss_delta_bytes"] is not None and result["metrics"]["live_heap_bytes_per_request"] is None
    # RSS only: judged on RSS, and the verdict says why live heap was not.
    verdict = gate.evaluate(result, result)
    assert verdict.verdict == "PASS" and "rss_delta_bytes" in [c.metric for c in verdict.checks]
    assert 'heap = "none": the target is measured by RSS only' in verdict.not_judged[0]


def test_refserver_target_is_the_default_and_loadgen_keeps_its_pattern_check():
    config = from_dict({}).config
    assert config["target"] == {"kind": "refserver"} and config["verify"] == "pattern"
    assert from_dict({"target": {"kind": "command", "argv": ["x"]}, "protocol": "h1"}).config["verify"] == "status"


def _taken_port():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


BAD_TARGETS = {
    "missing_argv": ({"kind": "command", "argv": ["/nonexistent/memgate-server", "{port}"]},
                     "argv", "'/nonexistent/memgate-server' is not an executable file or a program on PATH"),
    "exits_before_ready": ({"kind": "command", "argv": ["sh", "-c", "echo no config >&2; exit 3"]},
                           "exited_before_ready", "exited with exit code 3 (stderr: no config)"),
    "never_ready": ({"kind": "command", "argv": ["sleep", "60"], "ready_timeout_s": 0.5},
                    "never_ready", "did not answer GET / on port"),
    "double_fork_never_ready": ({"kind": "command", "argv": ["sh", "-c", "setsid sleep 60 & exec sleep 60"],
                                 "ready_timeout_s": 0.5}, "never_ready", "within ready_timeout_s=0.5"),
    "port_taken": ({"kind": "command", "argv": ["sleep", "60"], "port": "TAKEN"}, "port_in_use", "is already taken on 127.0.0.1"),
    "attach_dead_pid": ({"kind": "attach", "port": 1, "pid": "DEAD"}, "attach", "is not a live process"),
}


@pytest.mark.parametrize("case", sorted(BAD_TARGETS))
def test_a_target_that_cannot_start_exits_2_with_a_failed_result_and_no_process_left(case, tmp_path):
    target, kind, message = BAD_TARGETS[case]
    holder = _taken_port() if target.get("port") == "TAKEN" else None
    target = {**target, **({"port": holder.getsockname()[1]} if holder else {})}
    if target.get("pid") == "DEAD":
        target["pid"] = _dead_pid()
    scenario = tmp_path / "bad.toml"
    lines = ['protocol = "h1"', 'endpoint = "/"', "requests = 100", "[target]"]
    lines += [f"{k} = {_toml(v)}" for k, v in target.items()]
    scenario.write_text("\n".join(lines) + "\n")
    run_id, out = uuid.uuid4().hex, tmp_path / "r.json"
    try:
        p = memgate("run", str(scenario), "-o", str(out), env={RUN_ID_ENV: run_id})
    finally:
        if holder:
            holder.close()
    assert p.returncode == 2, p.stderr
    assert message in p.stderr
    result = read(out)
    assert result["status"] == "failed" and result["failure"]["kind"] == kind and message in result["failure"]["message"]
    assert_no_strays(run_id)


def _toml(value):
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else str(value)


@pytest.mark.parametrize("target, key, reason", [
    ({"kind": "binary"}, "target.kind", "'binary' is not one of refserver, command, attach"),
    ({"kind": "command"}, "target.argv", "missing or empty"),
    ({"kind": "command", "argv": ["x", "{prot}"]}, "target.argv", "unknown placeholder {prot}"),
    ({"kind": "command", "argv": ["x"], "pid": 3}, "target.pid", "not a key of kind 'command'"),
    ({"kind": "command", "argv": ["x"], "stop_signal": "SIGNOPE"}, "target.stop_signal", "not a signal name"),
    ({"kind": "command", "argv": ["x"], "ready": "GET healthz"}, "target.ready", "is not 'METHOD /path'"),
    ({"kind": "command", "argv": ["x"], "heap": "gc"}, "target.heap", "'gc' is not one of shim, mem_endpoint, none"),
    ({"kind": "command", "argv": ["x"], "templates": ["missing.conf"]}, "target.templates", "no such file beside the scenario"),
    ({"kind": "command", "argv": ["x"], "ready_timeout_s": 0}, "target.ready_timeout_s", "must be above 0"),
    ({"kind": "attach", "port": 8080}, "target.pid", "exactly one of pid or pidfile"),
    ({"kind": "attach", "pid": 1}, "target.port", "needs the port"),
    ({"kind": "attach", "port": 80, "pid": 1, "host": "10.0.0.1"}, "target.host", "not a loopback address"),
    ({"kind": "attach", "port": 80, "pid": 1, "heap": "shim"}, "target.heap", "cannot preload the shim"),
    ({"kind": "refserver", "argv": ["x"]}, "target.argv", "not a key of kind 'refserver'"),
])
def test_bad_target_keys_are_refused_naming_file_key_and_reason(tmp_path, target, key, reason):
    scenario = tmp_path / "bad.toml"
    scenario.write_text('protocol = "h1"\n[target]\n' + "".join(f"{k} = {_toml(v)}\n" for k, v in target.items()))
    p = memgate("scenarios", "check", str(scenario))
    assert p.returncode == 2
    assert f"{scenario}: key '{key}': " in p.stderr + p.stdout and reason in p.stderr + p.stdout


def test_refserver_keys_are_refused_for_another_target():
    with pytest.raises(ValueError, match="key 'copy': configures refserver; the target is kind 'command'"):
        from_dict({"protocol": "h1", "copy": "buffered", "target": {"kind": "command", "argv": ["x"]}})
