"""The memory ceiling watches the target's whole process tree: a forked child that grows is caught."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from harness.driver.ceiling import MIB, MemoryCeiling
from harness.driver.conftest import assert_no_strays
from harness.driver.proctree import read_smaps_rollup
from harness.driver.runner import run_scenario
from harness.driver.scenario import from_dict

LIMIT_MIB = 96
# A parent that stays small and a child it forks that grows past the limit in touched 4 MiB steps.
GROWING_CHILD = textwrap.dedent("""
    import os, sys, time
    if os.fork() == 0:
        time.sleep(float(sys.argv[1]))
        hoard = []
        for _ in range(64):
            hoard.append(b"x" * (4 << 20))
            time.sleep(0.01)
        time.sleep(60)
        os._exit(0)
""")
# The same child under a parent that serves HTTP/1.1 keep-alive, so it can be a command target.
SERVING_PARENT = GROWING_CHILD + textwrap.dedent("""
    import http.server
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        def log_message(self, *args):
            pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
""")


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_a_growing_child_trips_the_ceiling_its_parent_alone_never_would():
    proc = subprocess.Popen([sys.executable, "-c", GROWING_CHILD + "time.sleep(60)", "0.2"], start_new_session=True)
    watch = MemoryCeiling(proc.pid, LIMIT_MIB * MIB)
    try:
        watch.start()
        watch.join(timeout=30)
        assert watch.exceeded, "the child's growth went unseen"
        assert watch.exceeded["processes"] == 2 and watch.exceeded["rss_bytes"] > LIMIT_MIB * MIB
        assert "(2 process(es))" in watch.message()
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
    finally:
        watch.stop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_peak_is_the_trees_sum():
    proc = subprocess.Popen([sys.executable, "-c", GROWING_CHILD + "time.sleep(60)", "0"], start_new_session=True)
    watch = MemoryCeiling(proc.pid, 1 << 40, rescan_every=1)
    try:
        watch.start()
        deadline = time.monotonic() + 30
        while watch.peak_rss_bytes < 250 * MIB and time.monotonic() < deadline:  # the child's 256 MiB
            time.sleep(0.05)
        root_alone = read_smaps_rollup(proc.pid)["rss_bytes"]
        assert root_alone < 64 * MIB
        assert watch.peak_rss_bytes > root_alone + 200 * MIB
        assert watch.exceeded is None
    finally:
        watch.stop()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.e2e
def test_a_forking_command_target_is_stopped_at_the_ceiling(verifying_loadgen, tmp_path):
    script = tmp_path / "serve_and_grow.py"
    script.write_text(SERVING_PARENT)
    result = run_scenario(from_dict({
        "protocol": "h1", "endpoint": "/", "connections": 1, "warmup_requests": 0, "requests": 10_000_000,
        "time_limit_s": 60, "memory_ceiling_mib": LIMIT_MIB,
        "target": {"kind": "command", "argv": [sys.executable, str(script), "0.5", "{port}"]}}))
    assert result["status"] == "failed"
    failure = result["failure"]
    assert failure["kind"] == "memory_ceiling", failure
    assert failure["processes"] == 2 and failure["rss_bytes"] > LIMIT_MIB * MIB
    assert_no_strays(result)
    assert _gone(result["replicates"][0]["pids"]["server"])
