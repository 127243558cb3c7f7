"""ProcessTree on a synthetic /proc (exits, reaping, threads) and on a real forking Python tree."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

from harness.driver import proctree
from harness.driver.proctree import ProcessTree, descendants, read_process, read_smaps_rollup

TICKS = os.sysconf("SC_CLK_TCK")


def write_process(root, pid, ppid, *, rss_kib=100, anon_kib=60, pss_kib=80, syscr=10, syscw=5, utime=0, stime=0,
                  threads=None, start=1000, comm="srv (worker)"):
    d = root / str(pid)
    (d / "task").mkdir(parents=True, exist_ok=True)
    rest = ["S", str(ppid)] + ["0"] * 9 + [str(utime), str(stime)] + ["0"] * 6 + [str(start)]
    (d / "stat").write_text(f"{pid} ({comm}) {' '.join(rest)} 0 0\n")
    (d / "smaps_rollup").write_text(f"00-ff ---p [rollup]\nRss: {rss_kib} kB\nPss: {pss_kib} kB\nAnonymous: {anon_kib} kB\n")
    (d / "io").write_text(f"rchar: 1\nwchar: 2\nsyscr: {syscr}\nsyscw: {syscw}\n")
    for tid, (vol, invol) in (threads or {pid: (3, 1)}).items():
        (d / "task" / str(tid)).mkdir(exist_ok=True)
        (d / "task" / str(tid) / "status").write_text(
            f"Name:\tsrv\nvoluntary_ctxt_switches:\t{vol}\nnonvoluntary_ctxt_switches:\t{invol}\n")


def remove_process(root, pid):
    for path in sorted((root / str(pid)).rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (root / str(pid)).rmdir()


@pytest.fixture
def fake_proc(tmp_path):
    write_process(tmp_path, 1, 0, comm="init")
    write_process(tmp_path, 10, 1)                 # the target
    write_process(tmp_path, 11, 10)                # a worker
    write_process(tmp_path, 12, 11)                # the worker's child
    write_process(tmp_path, 20, 1, comm="other")   # not in the tree
    return tmp_path


def test_descendants_follow_ppid_breadth_first(fake_proc):
    assert descendants([10], str(fake_proc)) == [10, 11, 12]
    assert descendants([11, 99], str(fake_proc)) == [11, 12]


def test_memory_is_summed_over_the_tree_and_kept_per_process(fake_proc):
    tree = ProcessTree([10], str(fake_proc))
    s = tree.sample()
    assert s["tree_processes"] == 3
    assert (s["tree_rss_bytes"], s["tree_rss_anon_bytes"], s["tree_pss_bytes"]) == (300 * 1024, 180 * 1024, 240 * 1024)
    assert s["tree_syscalls_read"] == 30 and s["tree_syscalls_write"] == 15 and s["tree_context_switches"] == 12
    assert [p["pid"] for p in tree.processes()] == [10, 11, 12]
    assert tree.processes()[0]["comm"] == "srv (worker)" and tree.processes()[0]["rss_bytes"] == 100 * 1024


def test_exited_processes_keep_counters_from_going_back(fake_proc):
    tree = ProcessTree([10], str(fake_proc))
    write_process(fake_proc, 12, 11, syscr=50, utime=2 * TICKS, threads={12: (40, 0), 13: (7, 0)})
    first = tree.sample()
    assert first["tree_cpu_s"] == 2.0 and first["tree_context_switches"] == 8 + 47
    # 12 exits; its parent 11 reaped it, so 11's io now holds 12's syscalls, CPU and switches are 12's own.
    remove_process(fake_proc, 12)
    write_process(fake_proc, 11, 10, syscr=10 + 50)
    second = tree.sample()
    assert second["tree_processes"] == 2
    assert second["tree_rss_bytes"] == 200 * 1024  # memory: only what is alive now
    assert second["tree_syscalls_read"] == 10 + 60  # 12's syscalls counted once, through its reaper
    assert second["tree_cpu_s"] == 2.0
    assert second["tree_context_switches"] == 8 + 47


def test_a_thread_that_ended_keeps_its_switches(fake_proc):
    write_process(fake_proc, 10, 1, threads={10: (5, 0), 15: (20, 0)})
    tree = ProcessTree([10], str(fake_proc))
    assert tree.sample()["tree_context_switches"] == 25 + 8
    remove_process(fake_proc, 10)
    write_process(fake_proc, 10, 1, threads={10: (6, 0)})
    write_process(fake_proc, 11, 10)
    write_process(fake_proc, 12, 11)
    assert tree.sample()["tree_context_switches"] == 6 + 20 + 8


def test_a_reused_pid_is_a_new_process(fake_proc):
    tree = ProcessTree([10], str(fake_proc))
    write_process(fake_proc, 12, 11, utime=TICKS)
    assert tree.sample()["tree_cpu_s"] == 1.0
    write_process(fake_proc, 12, 11, utime=0, start=5000)  # the old 12 exited, a new one got its pid
    assert tree.sample()["tree_cpu_s"] == 1.0


def test_smaps_rollup_in_bytes_and_gone_is_file_not_found(fake_proc):
    assert read_smaps_rollup(10, str(fake_proc)) == {"rss_bytes": 100 * 1024, "rss_anon_bytes": 60 * 1024,
                                                      "pss_bytes": 80 * 1024}
    with pytest.raises(FileNotFoundError):
        read_smaps_rollup(99, str(fake_proc))


def test_a_process_that_vanishes_mid_read_is_skipped(fake_proc):
    (fake_proc / "12" / "io").unlink()
    assert read_process(12, str(fake_proc)) is None
    assert ProcessTree([10], str(fake_proc)).sample()["tree_processes"] == 2


def test_the_root_gone_is_an_empty_tree(fake_proc):
    assert ProcessTree([77], str(fake_proc)).sample() == {
        "tree_processes": 0, "tree_rss_bytes": 0, "tree_rss_anon_bytes": 0, "tree_pss_bytes": 0,
        "tree_syscalls_read": 0, "tree_syscalls_write": 0, "tree_context_switches": 0, "tree_cpu_s": 0.0}


FORKING_TREE = textwrap.dedent("""
    import os, sys, time
    def work(mib):
        block = bytearray(mib << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        deadline = time.monotonic() + 30
        with open("/dev/zero", "rb", buffering=0) as zero, open("/dev/null", "wb", buffering=0) as null:
            while time.monotonic() < deadline:  # bursts of syscalls: CPU time moves in 10 ms ticks
                for _ in range(500):
                    null.write(zero.read(1))
                time.sleep(0.005)
    for mib in (8, 16):
        if os.fork() == 0:
            if mib == 16 and os.fork() == 0:
                work(4)
            work(mib)
    print("ready", flush=True)
    work(2)
""")


def test_real_forking_tree_sums_what_each_process_reports():
    proc = subprocess.Popen([sys.executable, "-c", FORKING_TREE], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout.readline() == b"ready\n"
        tree = ProcessTree([proc.pid])
        deadline = time.monotonic() + 10
        while len(descendants([proc.pid])) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        first = tree.sample()
        members = descendants([proc.pid])
        assert first["tree_processes"] == len(members) == 4
        single = [read_process(pid) for pid in members]
        for field, summed in (("rss_bytes", "tree_rss_bytes"), ("pss_bytes", "tree_pss_bytes"),
                              ("rss_anon_bytes", "tree_rss_anon_bytes")):
            total = sum(getattr(p, field) for p in single)
            assert abs(first[summed] - total) <= 0.05 * total, (field, first[summed], total)
        assert first["tree_rss_anon_bytes"] >= (8 + 16 + 4 + 2) << 20
        assert first["tree_pss_bytes"] < first["tree_rss_bytes"]  # forked children share the interpreter's pages
        time.sleep(0.5)
        second = tree.sample()
        for c in proctree.COUNTERS:
            assert second[f"tree_{c}"] > first[f"tree_{c}"] > 0, c
        assert sorted(p["pid"] for p in tree.processes()) == sorted(members)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
