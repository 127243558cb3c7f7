"""Starting a test server that prints `listening on HOST:PORT` first, and always stopping it."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator


class Launched:
    def __init__(self, argv: list[str], env: dict | None):
        self.process = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def line(self) -> str:
        return self.process.stdout.readline().strip()

    def wait_listening(self) -> Launched:
        first = self.line()
        if not first.startswith("listening on "):
            raise RuntimeError(f"{self.process.args[0]} did not start listening: {first!r}")
        self.port = int(first.rsplit(":", 1)[1])
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.communicate(timeout=10)


@contextlib.contextmanager
def launcher() -> Iterator:
    """A function that starts programs (argv, env=None); each is killed and reaped on exit."""
    started: list[Launched] = []

    def start(argv: list[str], env: dict | None = None) -> Launched:
        launched = Launched(argv, env)
        started.append(launched)
        return launched

    try:
        yield start
    finally:
        for launched in started:
            launched.stop(signal.SIGKILL)
