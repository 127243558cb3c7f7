"""kind = "attach": a server memgate neither starts nor stops (a container's published port, a JVM).

It checks the pid (given, or read from a pidfile) is alive and the ready request answers, then
samples the pid's process tree. Nothing here sends the process a signal, not even signal 0:
liveness is read from /proc.
"""

from __future__ import annotations

from typing import Any

from harness.driver.processes import process_state
from harness.driver.server import ServerError
from harness.driver.targets.base import OutsideTarget, wait_ready
from harness.driver.targets.heap import HeapSource


def read_pidfile(path: str) -> int:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError as e:
        raise ServerError("attach", f"target.pidfile {path}: {e.strerror or e}") from None
    if not text.isdigit() or int(text) <= 0:
        raise ServerError("attach", f"target.pidfile {path} does not hold a process id: {text[:40]!r}")
    return int(text)


class AttachTarget(OutsideTarget):
    kind = "attach"
    signalled = False
    returncode = None

    def __init__(self, spec: dict[str, Any], protocol: str, heap: HeapSource):
        super().__init__(spec["host"], heap)
        self.spec, self.protocol = spec, protocol
        self.port = spec["port"]
        self._pid: int | None = None

    @property
    def pid(self) -> int | None:
        return self._pid

    def start(self) -> None:
        spec = self.spec
        pid = spec["pid"] if spec["pid"] is not None else read_pidfile(spec["pidfile"])
        where = f"target.pid {pid}" if spec["pid"] is not None else f"pid {pid} from target.pidfile {spec['pidfile']}"
        if process_state(pid) in (None, "Z", "X"):
            raise ServerError("attach", f"{where} is not a live process")
        self._pid = pid
        wait_ready(self, self.protocol, spec["ready"], spec["ready_timeout_s"],
                   lambda: None if self.alive() else "is gone")

    def alive(self) -> bool:
        return self._pid is not None and process_state(self._pid) not in (None, "Z", "X")

    def stop(self) -> None:
        """Leaves the server as it found it."""
        return None

    def stderr_tail(self, limit: int = 0) -> str:
        return ""

    def cleanup(self) -> None:
        self.heap.cleanup()

    def record(self) -> dict[str, Any]:
        return {**super().record(), "pidfile": self.spec["pidfile"]}
