"""The interface the runner's phases call, whatever the target, and what command and attach share.

A target has `kind`, `pid`, `port`, `argv`, `counts_requests` (its samples hold `requests`),
`signalled` (memgate may stop it) and `start()`, `processes()` (the pids whose memory counts), `mem(trim, timeout_s)` (a sample shaped like
refserver's /mem: `live_heap_bytes` None when the target cannot say, with `heap_note` saying
why), `alive()`, `returncode`, `stop()`, `stderr_tail()`, `cleanup()` and `record()` (what the
result's replicate keeps under `server`). RefServer has them as it is (refserver.py).

`OutsideTarget` measures a server memgate did not build: RSS and anonymous RSS summed over
the process and every process below it (re-listed at each sample, so nginx's workers count),
live heap from its heap source (heap.py).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from harness.driver.processes import descendants, pids_with_environ
from harness.driver.sampler import read_smaps_rollups
from harness.driver.server import ServerError
from harness.driver.targets.heap import HeapSource
from harness.driver.targets.http_client import request
from harness.driver.targets.spec import parse_ready

# ServerError kinds of a target that never got going: the failure is this, not "server died".
START_FAILURES = ("argv", "port_in_use", "exited_before_ready", "never_ready", "attach")

# Set in a command target's environment: finds its processes that left the tree (a daemon's double fork).
TARGET_ID_ENV = "MEMGATE_TARGET_ID"


class OutsideTarget:
    kind = ""
    signalled = True

    def __init__(self, host: str, heap: HeapSource):
        self.host = host
        self.heap = heap
        self.port: int | None = None
        self.argv: list[str] = []
        self.target_id: str | None = None

    @property
    def counts_requests(self) -> bool:
        return self.heap.counts_requests

    @property
    def pid(self) -> int | None:  # pragma: no cover - each kind has one
        raise NotImplementedError

    def alive(self) -> bool:  # pragma: no cover - each kind has one
        raise NotImplementedError

    def processes(self) -> list[int]:
        """The target's pid, its descendants and (command) anything carrying its marker."""
        if self.pid is None:
            return []
        pids = {self.pid, *descendants(self.pid)}
        if self.target_id:
            pids.update(pids_with_environ(TARGET_ID_ENV, self.target_id))
        return sorted(pids)

    def rss(self) -> tuple[int, int, list[dict[str, int]]]:
        """(RSS, anonymous RSS, per process) summed over the target's processes now."""
        try:
            sums, per_process = read_smaps_rollups(self.processes())
        except (OSError, ValueError) as e:
            raise ServerError("dead", f"the target's processes cannot be read: {e}") from None
        return sums["rss_bytes"], sums["rss_anon_bytes"], per_process

    def mem(self, trim: bool = True, timeout_s: float | None = None) -> dict[str, Any]:
        if not self.alive():
            raise ServerError("dead", f"the target (pid {self.pid}) is gone")
        before, _, _ = self.rss()
        sample = self.heap.sample(self.host, self.port, trim, timeout_s or 5.0)
        rss, anon, per_process = self.rss()
        return {**sample, "trimmed": trim, "rss_before_trim_bytes": before, "rss_bytes": rss,
                "rss_anon_bytes": anon, "processes": per_process}

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "argv": self.argv, "pid": self.pid, "port": self.port,
                "heap": self.heap.name}


def wait_ready(target: OutsideTarget, protocol: str, ready: str, timeout_s: float, exited: Callable[[], str | None]) -> None:
    """Until READY ('METHOD /path') answers with a status below 500 over PROTOCOL, within TIMEOUT_S.
    EXITED() names how the target ended, or None while it runs."""
    method, path = parse_ready(ready)
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while True:
        gone = exited()
        if gone:
            raise ServerError("exited_before_ready", f"the target {gone} before it was ready ({ready} on port {target.port})")
        try:
            status, _ = request(protocol, target.host, target.port, method, path, timeout_s=1.0)
            if status < 500:
                return
            last = f"HTTP {status}"
        except OSError as e:
            last = str(e) or type(e).__name__
        if time.monotonic() > deadline:
            raise ServerError("never_ready", f"the target did not answer {ready} on port {target.port} with a status "
                              f"below 500 within ready_timeout_s={timeout_s:g} (last: {last})")
        time.sleep(0.05)
