"""Memory and activity of a target's whole process tree, read from /proc (any target, no cooperation).

A ProcessTree re-scans the descendants of its root pid(s) at every sample (a forking server's
master and workers come and go), reads each process's smaps_rollup (Rss, Anonymous, Pss), io
(syscr, syscw), per-thread context switches and CPU time, and sums them.

Counters are cumulative, and a process that exits between samples must not make them go back:
* CPU time (utime + stime of the process, its exited threads included) and context switches
  (per thread: /proc/<pid>/status shows only the thread it is read for) count a process's own
  work only, so an exited process or thread keeps its last seen value in the sum;
* syscr/syscw include the children a process has reaped (the kernel adds them to the reaper),
  so an exited process's last value is kept only when its parent is not in the tree.
Every total is also held at its highest value: a child reaped between reading it and reading
its parent is counted twice for one sample, never less than before.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

PROC = "/proc"
COUNTERS = ("syscalls_read", "syscalls_write", "context_switches", "cpu_s")
_REAPER_INHERITS = ("syscalls_read", "syscalls_write")
_SMAPS_FIELDS = {"Rss": "rss_bytes", "Anonymous": "rss_anon_bytes", "Pss": "pss_bytes"}
_IO_FIELDS = {"syscr": "syscalls_read", "syscw": "syscalls_write"}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class _Vanished(FileNotFoundError):
    """The process exited while it was being read."""


def _read(path: str) -> str:
    # os.open/os.read: a tenth of open()'s cost, and a scan reads every /proc/<pid>/stat each sample.
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, ProcessLookupError):
        raise _Vanished(path) from None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except ProcessLookupError:
        raise _Vanished(path) from None
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def _stat_fields(text: str) -> tuple[str, list[str]]:
    """(comm, the fields after it) of a stat line; comm may hold spaces and parentheses."""
    comm = text[text.index("(") + 1:text.rindex(")")]
    return comm, text[text.rindex(")") + 2:].split()


def parent_pids(proc_root: str = PROC) -> dict[int, int]:
    """pid -> parent pid for every process in proc_root."""
    parents = {}
    for entry in os.listdir(proc_root):
        if not entry.isdigit():
            continue
        try:
            _, rest = _stat_fields(_read(f"{proc_root}/{entry}/stat"))
        except (_Vanished, ValueError):
            continue
        parents[int(entry)] = int(rest[1])
    return parents


def descendants(roots: list[int], proc_root: str = PROC) -> list[int]:
    """The live roots and all their descendants, roots first, then breadth first."""
    parents = parent_pids(proc_root)
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    order = [r for r in roots if r in parents]
    seen = set(order)
    i = 0
    while i < len(order):
        for child in sorted(children.get(order[i], ())):
            if child not in seen:
                seen.add(child)
                order.append(child)
        i += 1
    return order


@dataclasses.dataclass(frozen=True)
class ProcessFigures:
    pid: int
    ppid: int
    comm: str
    start_ticks: int  # with the pid, names one process even if the pid is reused
    rss_bytes: int
    rss_anon_bytes: int
    pss_bytes: int
    syscalls_read: int
    syscalls_write: int
    cpu_s: float
    thread_switches: dict[int, int]  # tid -> voluntary + involuntary context switches

    @property
    def context_switches(self) -> int:
        return sum(self.thread_switches.values())

    def as_dict(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in ("pid", "ppid", "comm", "rss_bytes", "rss_anon_bytes", "pss_bytes")}
        out.update({c: getattr(self, c) for c in COUNTERS})
        return out


def _kib_fields(text: str, names: dict[str, str]) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in names:
            out[names[key]] = int(rest.split()[0]) * 1024
    return out


def _thread_switches(proc_root: str, pid: int) -> dict[int, int]:
    switches = {}
    try:
        tids = os.listdir(f"{proc_root}/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        raise _Vanished(pid) from None
    for tid in tids:
        try:
            status = _read(f"{proc_root}/{pid}/task/{tid}/status")
        except _Vanished:
            continue
        fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in status.splitlines())}
        switches[int(tid)] = int(fields.get("voluntary_ctxt_switches", 0)) + int(fields.get("nonvoluntary_ctxt_switches", 0))
    return switches


def read_smaps_rollup(pid: int, proc_root: str = PROC) -> dict[str, int]:
    """rss_bytes, rss_anon_bytes, pss_bytes (Rss, Anonymous, Pss) in bytes; 0 for a zombie;
    FileNotFoundError once the process is gone."""
    return {**dict.fromkeys(_SMAPS_FIELDS.values(), 0), **_kib_fields(_read(f"{proc_root}/{pid}/smaps_rollup"), _SMAPS_FIELDS)}


def read_process(pid: int, proc_root: str = PROC) -> ProcessFigures | None:
    """One process's figures, or None when it exited before they were all read."""
    try:
        comm, rest = _stat_fields(_read(f"{proc_root}/{pid}/stat"))
        memory = read_smaps_rollup(pid, proc_root)
        io = {_IO_FIELDS[k]: int(v) for k, _, v in (line.partition(": ") for line in _read(f"{proc_root}/{pid}/io").splitlines())
              if k in _IO_FIELDS}
        switches = _thread_switches(proc_root, pid)
    except _Vanished:
        return None
    # stat fields after comm: state(0) ppid(1) ... utime(11) stime(12) ... starttime(19)
    return ProcessFigures(pid=pid, ppid=int(rest[1]), comm=comm, start_ticks=int(rest[19]), **memory,
                          syscalls_read=io.get("syscalls_read", 0), syscalls_write=io.get("syscalls_write", 0),
                          cpu_s=(int(rest[11]) + int(rest[12])) / _CLOCK_TICKS, thread_switches=switches)


class ProcessTree:
    """The tree under roots, sampled on demand; sample() is the summed figures, processes() the last scan's."""

    def __init__(self, roots: list[int], proc_root: str = PROC):
        self.roots = list(roots)
        self.proc_root = proc_root
        self._last: dict[tuple[int, int], ProcessFigures] = {}
        self._exited = dict.fromkeys(COUNTERS, 0.0)
        self._highest = dict.fromkeys(COUNTERS, 0.0)

    def _scan(self) -> list[ProcessFigures]:
        found = (read_process(pid, self.proc_root) for pid in descendants(self.roots, self.proc_root))
        return [p for p in found if p is not None]

    def _account_exits(self, now: dict[tuple[int, int], ProcessFigures]) -> None:
        live_pids = {key[0] for key in now}
        for key, last in self._last.items():
            current = now.get(key)
            if current is None:
                self._exited["cpu_s"] += last.cpu_s
                self._exited["context_switches"] += last.context_switches
                if last.ppid not in live_pids:  # nobody in the tree inherited its syscalls
                    for c in _REAPER_INHERITS:
                        self._exited[c] += getattr(last, c)
            else:  # threads that ended since the last scan
                self._exited["context_switches"] += sum(n for tid, n in last.thread_switches.items()
                                                        if tid not in current.thread_switches)

    def sample(self) -> dict[str, Any]:
        """tree_* figures: memory summed over the live tree, counters summed over everything it ran."""
        scan = self._scan()
        now = {(p.pid, p.start_ticks): p for p in scan}
        self._account_exits(now)
        self._last = now
        out: dict[str, Any] = {"tree_processes": len(scan)}
        for field in _SMAPS_FIELDS.values():
            out[f"tree_{field}"] = sum(getattr(p, field) for p in scan)
        for c in COUNTERS:
            self._highest[c] = max(self._highest[c], self._exited[c] + sum(getattr(p, c) for p in scan))
            out[f"tree_{c}"] = round(self._highest[c], 3) if c == "cpu_s" else int(self._highest[c])
        return out

    def processes(self) -> list[dict[str, Any]]:
        """Per-process figures of the last sample, roots first."""
        return [p.as_dict() for p in self._last.values()]
