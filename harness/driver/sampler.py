"""A thread that samples the server every interval: /mem?trim=0, /proc/<pid>/smaps_rollup and the
probes it is given (the process tree, the cgroup: outside figures, each a dict merged into the point)."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from harness.driver.proctree import read_smaps_rollup
from harness.driver.server import RefServer, ServerError


def read_smaps_rollups(pids: list[int]) -> tuple[dict[str, int], list[dict[str, int]]]:
    """Rss and Anonymous summed over PIDS, and each process's figures. A process that exited
    between the listing and the read is left out; OSError when none could be read."""
    per_process, error = [], None
    for pid in pids:
        try:
            memory = read_smaps_rollup(pid)
            per_process.append({"pid": pid, "rss_bytes": memory["rss_bytes"], "rss_anon_bytes": memory["rss_anon_bytes"]})
        except OSError as e:
            error = e
    if not per_process:
        raise error or OSError(f"no process to read (pids {pids})")
    sums = {key: sum(p.get(key, 0) for p in per_process) for key in ("rss_bytes", "rss_anon_bytes")}
    return sums, per_process


def requests_total(mem: dict[str, Any]) -> int:
    r = mem.get("requests") or {}
    return int(r.get("h1", 0)) + int(r.get("h2", 0))


Probe = Callable[[], dict[str, Any]]


class Sampler(threading.Thread):
    """Appends timeline points until stop(); calls hook(point, server) after each (tests use it)."""

    def __init__(self, server: RefServer, start_mem: dict[str, Any], interval_ms: int,
                 hook: Callable[[dict[str, Any], RefServer], None] | None = None, probes: tuple[Probe, ...] = ()):
        super().__init__(name="memgate-sampler", daemon=True)
        self.server = server
        self.probes = probes
        self.start_requests = requests_total(start_mem)
        self.interval_s = interval_ms / 1000.0
        self.hook = hook
        self.timeline: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.crash: str | None = None
        self._stop_event = threading.Event()
        self._t0 = time.monotonic()

    def stop(self) -> None:
        """Stops the loop, then takes one last point: the end of the load, however short the run was."""
        self._stop_event.set()
        self.join(timeout=10.0)
        if not self.is_alive() and self.crash is None:
            self.sample_once(call_hook=False)

    def run(self) -> None:
        try:
            self._loop()
        except Exception as e:  # the runner turns this into a failed measurement, not a short timeline
            self.crash = f"{type(e).__name__}: {e}"

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop_event.is_set():
            self.sample_once()
            next_at += self.interval_s
            delay = next_at - time.monotonic()
            if delay < 0:  # a slow sample: keep the period, skip what was missed
                next_at = time.monotonic()
                delay = 0
            self._stop_event.wait(delay)

    def sample_once(self, call_hook: bool = True) -> dict[str, Any] | None:
        point: dict[str, Any] = {"t_s": round(time.monotonic() - self._t0, 4)}
        try:
            mem = self.server.mem(trim=False, timeout_s=min(2.0, max(0.5, self.interval_s * 5)))
            point["requests"] = requests_total(mem) - self.start_requests
            point["live_heap_bytes"] = mem["live_heap_bytes"]
            point["mem_rss_bytes"] = mem["rss_bytes"]
        except ServerError as e:
            self.errors.append(f"t={point['t_s']}s: {e}")
            point["requests"] = None
            point["live_heap_bytes"] = None
        try:
            point.update(read_smaps_rollups(self.server.processes())[0])
        except (OSError, ValueError) as e:
            self.errors.append(f"t={point['t_s']}s: smaps_rollup: {e}")
        if point.get("requests") is None and "rss_bytes" not in point:
            return None
        for probe in self.probes:
            try:
                point.update(probe())
            except (OSError, ValueError) as e:
                self.errors.append(f"t={point['t_s']}s: {e}")
        point.setdefault("rss_bytes", point.get("mem_rss_bytes"))
        point.setdefault("rss_anon_bytes", None)
        self.timeline.append(point)
        if call_hook and self.hook is not None:
            self.hook(point, self.server)
        return point
