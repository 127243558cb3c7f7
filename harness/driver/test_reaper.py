"""The reaper on its own: a driver SIGKILLed with a child, a grandchild in the child's group and a
daemon that left it (setsid); all three die, by group and by the driver's mark."""

import os
import signal
import subprocess
import sys
import time
import uuid

from harness.driver.binaries import REPO_ROOT
from harness.driver.processes import pids_with_environ

DRIVER = """
import sys, time
from harness.driver import reaper
reaper.spawn(["sh", "-c", "sleep 300 & setsid sleep 301 & exec sleep 302"])
time.sleep(0.5)
print("started", flush=True)
time.sleep(300)
"""


def test_a_sigkilled_driver_takes_its_children_grandchildren_and_daemons_along():
    marker = uuid.uuid4().hex
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                              env={**os.environ, "PYTHONPATH": REPO_ROOT, "MEMGATE_TEST_MARKER": marker})
    try:
        assert driver.stdout.readline().strip() == "started"
        started = pids_with_environ("MEMGATE_TEST_MARKER", marker)
        assert len(started) == 5, started  # the driver, its reaper and three sleeps
        driver.kill()
        driver.wait()
        deadline = time.monotonic() + 5
        while (left := pids_with_environ("MEMGATE_TEST_MARKER", marker)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, f"still running after the driver was SIGKILLed: {left}"
    finally:
        driver.kill()
        for pid in pids_with_environ("MEMGATE_TEST_MARKER", marker):
            os.kill(pid, signal.SIGKILL)
