"""`memgate abuse` stopped by each signal while its second case runs: SIGINT, SIGTERM and SIGHUP
print and write (--json) the case finished so far with the interrupted one named, and exit
128 + the signal; with SIGKILL included, no server or control client outlives the driver."""

import json
import signal
import time
import uuid

import pytest

from harness.driver.test_interrupt import MEMGATE, assert_nothing_left, interrupt, marked, start  # noqa: F401

pytestmark = pytest.mark.e2e

CASES = ("smuggling", "ping_flood")


def wait_for_case(proc, marker: str, n: int, timeout_s: float = 60) -> None:
    """Until the n-th case's refserver runs (each case starts its own)."""
    servers: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        servers |= {pid for pid, line in marked(marker) if "refserver-" in line.split(" ", 1)[0]}
        if len(servers) >= n:
            return
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"memgate abuse never started case {n}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_a_signal_keeps_the_finished_cases_and_leaves_nothing(built, start, tmp_path, sig):
    marker = uuid.uuid4().hex
    out = tmp_path / "abuse.json"
    args = [MEMGATE, "abuse", "--quick", *(a for c in CASES for a in ("--case", c)), "--json", str(out)]
    proc, _ = start(marker, argv=args)
    wait_for_case(proc, marker, 2)
    tree, err = interrupt(proc, sig, running="refserver-")
    assert_nothing_left(proc, marker, tree)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL and not out.exists()
        return
    name = signal.Signals(sig).name
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {name}" in err
    data = json.loads(out.read_text())
    assert [c["case"] for c in data["cases"]] == [CASES[0]] and data["cases"][0]["rss_before_bytes"] > 0
    assert data["interrupted"] == {"kind": "interrupted", "signal": name, "case": CASES[1], "cases_completed": 1,
                                   "cases": 2, "message": f"stopped by {name} before the run finished"}
    assert data["passed"] is False
    assert proc.stdout_text.rstrip().endswith(f"interrupted: stopped by {name} before the run finished, during case "
                                              f"{CASES[1]} (1 of 2 cases finished)")
    assert f"{CASES[0]} " in proc.stdout_text and "0/1 cases pass" not in proc.stdout_text
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".tmp-")]
