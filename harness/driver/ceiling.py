"""The memory ceiling: a runaway server ends the run, not the machine.

A thread reads the RSS of the target's whole process tree (the root and every descendant, as
harness/driver/proctree.py finds them: nginx's workers, a forked child that grows) from each
process's /proc/<pid>/smaps_rollup every few tens of milliseconds from start to stop (warm-up
included), keeps the peak of the sum, and past the ceiling SIGKILLs the tree (the root's process
group and any member that left it) so the load generator fails fast and the runner reports a
memory_ceiling verdict instead of waiting on swap or the OOM killer. The tree is re-scanned
every few readings: a scan reads every process's stat file, a reading only the members'.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from harness.driver.proctree import descendants, read_smaps_rollup

MIB = 1024 * 1024


def default_ceiling_bytes() -> int:
    """Half of MemTotal: room for the load generator and the rest of the machine."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024 // 2
    raise OSError("/proc/meminfo has no MemTotal line")


def ceiling_bytes(config: dict[str, Any]) -> int:
    mib = config.get("memory_ceiling_mib")
    return mib * MIB if mib else default_ceiling_bytes()


class MemoryCeiling(threading.Thread):
    def __init__(self, pid: int, limit_bytes: int, interval_s: float = 0.02, rescan_every: int = 10):
        super().__init__(name="memgate-ceiling", daemon=True)
        self.pid = pid
        self.limit_bytes = limit_bytes
        self.interval_s = interval_s
        self.rescan_every = rescan_every
        self.peak_rss_bytes = 0
        self.exceeded: dict[str, Any] | None = None
        self._stop_event = threading.Event()
        self._t0 = time.monotonic()

    def reset_peak(self) -> None:
        """The measured window starts: warm-up's peak is not the run's."""
        self.peak_rss_bytes = 0

    def stop(self) -> None:
        self._stop_event.set()
        if self.ident is not None:  # an interrupt may land between construction and start()
            self.join(timeout=5.0)

    def _tree_rss(self, members: list[int]) -> int | None:
        """The RSS summed over members; None once the root is gone. A member gone since the scan adds nothing."""
        total = 0
        for pid in members:
            try:
                total += read_smaps_rollup(pid)["rss_bytes"]
            except (OSError, ValueError, KeyError):
                if pid == self.pid:
                    return None
        return total

    def _kill(self, members: list[int]) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)  # the root leads its own group (start_new_session)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in members:  # and any member that left the group (setsid)
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def run(self) -> None:
        members = [self.pid]
        readings = 0
        while not self._stop_event.is_set():
            if readings % self.rescan_every == 0:
                members = descendants([self.pid]) or [self.pid]
            readings += 1
            rss = self._tree_rss(members)
            if rss is None:
                return  # the server is gone: the runner reports how
            self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
            if rss > self.limit_bytes:
                self.exceeded = {"rss_bytes": rss, "limit_bytes": self.limit_bytes, "processes": len(members),
                                 "t_s": round(time.monotonic() - self._t0, 3)}
                self._kill(descendants([self.pid]) or members)
                return
            self._stop_event.wait(self.interval_s)

    def message(self) -> str:
        e = self.exceeded or {}
        return (f"server RSS reached {e.get('rss_bytes', 0) / MIB:.0f} MiB ({e.get('processes', 1)} process(es)), "
                f"over the memory ceiling of "
                f"{self.limit_bytes / MIB:.0f} MiB (memory_ceiling_mib), {e.get('t_s')} s after the server started; "
                f"the server was killed and the run stopped")
