"""SIGINT, SIGTERM and SIGHUP (Ctrl-C, a cancelled CI job, a closed terminal) as one exception.

Inside interruptible() the first of them raises Interrupted in the main thread. It is a
BaseException, so the phases' `except Exception` let it through while their finally blocks stop
every child. The runner catches it, records what was measured so far in a failed result
(failure kind `interrupted`) and raises it again with the result attached; a command that
writes results writes that one, and the process exits 128 + the signal's number (130, 143, 129).
Later signals are ignored until the block ends, so the cleanup finishes (SIGKILL still works,
and harness/driver/reaper.py then kills the children).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
KIND = "interrupted"


class Interrupted(BaseException):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.replicate: dict[str, Any] | None = None  # the replicate it stopped, as recorded so far
        self.result: dict[str, Any] | None = None  # the run's failed result, once the runner built it

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def failure(self) -> dict[str, Any]:
        return {"kind": KIND, "signal": self.name, "message": f"stopped by {self.name} before the run finished"}


class _Deferral:
    active = False
    pending: int | None = None


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A signal inside the block raises Interrupted only at its end. Starting a child with a
    preexec_fn runs the fork hooks (logging's among them) in the parent, and an exception raised
    inside a hook is printed and dropped: the interrupt would be lost."""
    outer, _Deferral.active = _Deferral.active, True
    try:
        yield
    finally:
        _Deferral.active = outer
        if not outer and _Deferral.pending is not None:
            signum, _Deferral.pending = _Deferral.pending, None
            raise Interrupted(signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise Interrupted inside the block (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        for s in SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        if _Deferral.active:
            _Deferral.pending = signum
            return
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
