"""`memgate profile` stopped by each signal: during the profiled run SIGINT, SIGTERM and SIGHUP write
profile.json as an interrupted record naming the phase, with the driver's interrupted result of the
run; during the overhead runs the whole profile is written, its overhead marked interrupted. Either
way it exits 128 + the signal, and (SIGKILL included) neither the profiled server nor loadgen
outlives it; a signal while `--against REF` builds takes the build's processes along."""

import json
import signal
import time
import uuid

import pytest

from harness.driver.test_interrupt import (LONG, MEMGATE, WARMUP, assert_nothing_left, interrupt, marked,  # noqa: F401
                                           start, wait_measuring)
from harness.profile.against import load_against
from harness.profile.run import INTERRUPTED_KIND, ProfileError
from harness.profile.test_cli_profile import ref_worktrees

pytestmark = pytest.mark.e2e

SMALL = ["--set", "endpoint=/bytes/4096", "--set", f"warmup_requests={WARMUP}", "--set", "time_limit_s=100",
         "--set", "sample_interval_ms=100"]


def profile(start, marker: str, outdir, *args: str):
    return start(marker, argv=[MEMGATE, "profile", *SMALL, *args, "-o", str(outdir)])[0]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_a_signal_during_the_profiled_run_writes_an_interrupted_profile(built, start, tmp_path, sig):
    marker, outdir = uuid.uuid4().hex, tmp_path / "prof"
    proc = profile(start, marker, outdir, "--set", f"requests={LONG}", "--no-overhead")
    wait_measuring(proc, marker)
    tree, err = interrupt(proc, sig)
    assert_nothing_left(proc, marker, tree)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL and not (outdir / "profile.json").exists()
        return
    name = signal.Signals(sig).name
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {name}" in err and "profile stopped during the profiled run" in err
    data = json.loads((outdir / "profile.json").read_text())
    assert data["kind"] == INTERRUPTED_KIND and data["profiler"] == "heaptrack"
    assert data["interrupted"]["phase"] == "profiled run" and data["interrupted"]["signal"] == name
    run = data["run"]  # what the driver measured before the signal
    assert run["failure"]["kind"] == "interrupted" and len(run["replicates"][0]["timeline"]) >= 2
    assert not [f for f in outdir.iterdir() if f.name.startswith(".tmp-")]
    with pytest.raises(ProfileError, match=f"stopped by {name} during its profiled run"):
        load_against(str(outdir))  # nothing to compare against


def test_a_signal_during_the_overhead_runs_keeps_the_whole_profile(built, start, tmp_path):
    marker, outdir = uuid.uuid4().hex, tmp_path / "prof"
    proc = profile(start, marker, outdir, "--set", "requests=20000", "--overhead-runs", "3")
    wait_measuring(proc, marker, replicates=2, settle_s=0.0)  # the second measured loadgen: an overhead run
    tree, err = interrupt(proc, signal.SIGTERM)
    assert_nothing_left(proc, marker, tree)
    assert proc.returncode == 143, err
    data = json.loads((outdir / "profile.json").read_text())
    assert data["kind"] == "memgate-profile" and data["sites"] and data["requests"] == 20000
    assert data["interrupted"]["phase"] == "overhead runs"
    assert data["overhead"]["note"].startswith("not measured: stopped by SIGTERM")
    assert "**interrupted** by SIGTERM during the overhead runs" in (outdir / "profile.md").read_text()
    assert load_against(str(outdir))[0] == "profile"  # its sites are whole: a baseline for --against


def test_a_signal_while_the_against_ref_builds_takes_the_build_along(built, start, tmp_path):
    before = ref_worktrees()
    marker, outdir = uuid.uuid4().hex, tmp_path / "prof"
    proc = profile(start, marker, outdir, "--set", "requests=2000", "--against", "HEAD", "--no-overhead")
    deadline = time.monotonic() + 120
    while not any("ci/build.sh" in line for _, line in marked(marker)):  # the ref's build has begun
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    tree, err = interrupt(proc, signal.SIGTERM, running="build")
    assert_nothing_left(proc, marker, tree)  # bash, cmake, ninja, the compilers
    assert proc.returncode == 143, err
    assert "leftover" not in err  # killed with the build's group, not found later by the driver's last sweep
    data = json.loads((outdir / "profile.json").read_text())
    assert data["kind"] == INTERRUPTED_KIND and data["interrupted"]["phase"] == "baseline" and data["run"] is None
    assert ref_worktrees() == before  # its worktree is removed as after a build
