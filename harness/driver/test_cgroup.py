"""A real memory cgroup on this machine: a child that allocates 64 MiB shows in usage, peak and anon."""

import os
import subprocess
import sys
import uuid

import pytest

from harness.driver.cgroup import FIGURES, CgroupUnavailable, MemoryCgroup, find_memory_hierarchy

MIB = 1 << 20
ALLOCATE_64_MIB = ("import sys\nblock = bytearray(64 << 20)\nfor i in range(0, len(block), 4096):\n    block[i] = 1\n"
                   "print('allocated', flush=True)\nsys.stdin.read()\n")


@pytest.fixture
def group():
    try:
        g = MemoryCgroup.create(f"test-{uuid.uuid4().hex[:8]}")
    except CgroupUnavailable as e:
        pytest.skip(f"no memory cgroup can be made here: {e}")
    yield g
    g.remove()


def test_a_child_started_inside_is_charged_its_64_mib(group):
    before = group.sample()
    assert set(before) == set(FIGURES)
    child = subprocess.Popen([sys.executable, "-c", ALLOCATE_64_MIB], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             preexec_fn=group.preexec())
    try:
        assert child.stdout.readline() == b"allocated\n"
        assert group.pids() == [child.pid]
        during = group.sample()
        assert during["cgroup_usage_bytes"] - before["cgroup_usage_bytes"] >= 64 * MIB
        assert during["cgroup_anon_bytes"] - before["cgroup_anon_bytes"] >= 64 * MIB
        assert during["cgroup_anon_bytes"] < (64 + 48) * MIB  # the block plus an interpreter
        assert during["cgroup_peak_bytes"] >= during["cgroup_usage_bytes"]
    finally:
        child.stdin.close()
        child.wait()
    after = group.sample()
    assert after["cgroup_anon_bytes"] < 16 * MIB
    assert after["cgroup_peak_bytes"] >= 64 * MIB  # the peak stays


def test_removed_on_an_exception_with_its_stray_killed():
    try:
        version, _, _ = find_memory_hierarchy()
    except CgroupUnavailable as e:
        pytest.skip(f"no memory cgroup can be made here: {e}")
    stray = None
    with pytest.raises(RuntimeError, match="phase failed"):
        with MemoryCgroup.create(f"test-{uuid.uuid4().hex[:8]}") as g:
            stray = subprocess.Popen(["sleep", "60"], preexec_fn=g.preexec())
            path = g.path
            assert g.version == version
            raise RuntimeError("phase failed")
    assert not os.path.exists(path)
    assert stray.wait(timeout=5) == -9


def test_a_machine_without_the_controller_says_why(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0\n")
    own = tmp_path / "cgroup"
    own.write_text("1:cpu:/\n")
    with pytest.raises(CgroupUnavailable, match="no v1 memory controller"):
        MemoryCgroup.create("x", mounts_path=str(mounts), cgroup_path=str(own))
