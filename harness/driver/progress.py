"""Progress of a long command (run --repeat, matrix, twin, abuse, profile).

On a terminal, one bar line sits under the command's messages and redraws itself in place, every
second and at each step: completed/total, rate, estimated time left, the step under way (a step's
beginning shows there only). Anywhere else (a CI log, a pipe, a file) there is
no bar: each message is a plain line, and a finished step says the same figures in words, so a
log reads top to bottom. A carriage return and ANSI erase-line are all it takes: no dependency.

Steps are counted three ways, whichever the caller has: ``start(text)`` when one begins,
``done(text)`` when one ends, or messages of the form ``[i/N] ...`` (what ``memgate matrix``
prints for case i of N): the first for step i says it has begun, a second one that it has ended.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Callable, TextIO

from harness.driver.runner import Hooks

STEP_LINE = re.compile(r"\[(\d+)/(\d+)\] ")
ERASE_LINE = "\r\x1b[2K"
BAR_CELLS = 24
REDRAW_S = 1.0


def _clock_text(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


class Progress:
    """Counts steps of `total` and shows them on `stream` (see the module's docstring)."""

    def __init__(self, stream: TextIO, label: str, total: int, *, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.stream, self.label, self.total = stream, label, total
        self.tty = is_terminal(stream) if tty is None else tty
        self.clock = clock
        self.completed = 0
        self.begun = 0  # the steps begun so far
        self.started_at = clock()
        self.counted_from = 0  # steps already complete when timing began (a resumed matrix)
        self.current = ""
        self.drawn = False
        self.pending = ""  # write()'s text up to its next newline
        self.lock = threading.Lock()  # the redraw thread and the caller share the stream
        self.stopped = threading.Event()
        self.ticker: threading.Thread | None = None

    # -- what callers report ----------------------------------------------------------------
    def line(self, text: str) -> None:
        """A message; a ``[i/N] ...`` one also says step i of N has begun (or, said again, ended)."""
        m = STEP_LINE.match(text)
        if m:
            self._begin(int(m.group(1)), int(m.group(2)), text[m.end():])
        self._print(text)
        self._close_when_complete()

    def start(self, text: str) -> None:
        """The next step begins: off a terminal a line ``[i/N] text``, on one the bar says it."""
        if self.tty:
            self._begin(self.begun + 1, self.total, text)
            self._print(None)
        else:
            self.line(f"[{self.begun + 1}/{self.total}] {text}")

    def done(self, text: str) -> None:
        """A step has ended: the count goes up; off a terminal the line carries the figures."""
        self.completed = min(self.completed + 1, self.total)
        self.current = ""
        self._print(text if self.tty else f"{text} ({self.figures()})")
        self._close_when_complete()

    def close(self) -> None:
        """Leaves the last figures on their own line (a terminal's bar is replaced by them); what
        is printed afterwards is plain lines."""
        self.stopped.set()
        if self.ticker is not None:
            self.ticker.join()
        with self.lock:
            if self.tty and self.drawn:
                self._write(ERASE_LINE + f"{self.label}: {self.figures()}\n")
            self.drawn = False
            self.tty = False

    def _close_when_complete(self) -> None:
        """The last step has ended: the bar gives way at once, before the command prints its result
        (on stdout, which shares the terminal and would land on the bar's line)."""
        if self.tty and self.completed >= self.total:
            self.close()

    def __enter__(self) -> "Progress":
        if self.tty:
            self._print(None)  # the bar from the start, also before a first step says anything
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:  # the work returned: the step it began last has ended too
            self.completed = max(self.completed, min(self.begun, self.total))
        self.close()

    # -- a text stream, for code that prints its messages (print(..., file=progress)) ----------
    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for one in lines:
            self.line(one)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    # -- figures ------------------------------------------------------------------------------
    def figures(self) -> str:
        """``3/10, 4 s each, 0:28 left, 0:12 elapsed`` (rate and time left once a step has ended)."""
        out = f"{self.completed}/{self.total}"
        timed = self.completed - self.counted_from
        elapsed = self.clock() - self.started_at
        if timed > 0 and elapsed > 0:
            rate = timed / elapsed
            out += f", {rate:.2f}/s" if rate >= 1 else f", {elapsed / timed:.0f} s each"
            out += f", {_clock_text((self.total - self.completed) / rate)} left"
        return out + f", {_clock_text(elapsed)} elapsed"

    def bar(self, width: int) -> str:
        filled = BAR_CELLS * self.completed // max(self.total, 1)
        text = f"{self.label} [{'#' * filled}{'.' * (BAR_CELLS - filled)}] {self.figures()}"
        if self.current:
            text += f"  {self.current}"
        return text[:max(width - 1, 10)]

    # -- drawing ------------------------------------------------------------------------------
    def _begin(self, position: int, total: int, what: str) -> None:
        if position == self.begun:  # step i said again: it has ended
            self.completed = max(self.completed, position)
            self.current = ""
            return
        if self.begun == 0 and position > 1:
            self.counted_from = position - 1  # finished before this command: not part of the rate
            self.started_at = self.clock()
        self.total = total
        self.begun = position
        self.completed = position - 1
        self.current = what

    def _print(self, text: str | None) -> None:
        """text as a line (None: none) and, on a terminal, the bar redrawn under it."""
        with self.lock:
            if not self.tty:
                self._write(text + "\n")
                return
            self._write(ERASE_LINE + ("" if text is None else text + "\n") + self.bar(self._columns()))
            self.drawn = True
        if self.ticker is None:
            self.ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self.ticker.start()

    def _tick(self) -> None:
        """Keeps elapsed and time left moving while a step runs."""
        while not self.stopped.wait(REDRAW_S):
            with self.lock:
                if self.drawn:
                    self._write(ERASE_LINE + self.bar(self._columns()))

    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, AttributeError, ValueError):
            columns = 0
        return columns or 100  # a terminal that never set its size says 0

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (BrokenPipeError, ValueError):  # a reader that left early (`| head`), a closed stream:
            pass                               # the command carries on


def replicate_hooks(bar: Progress) -> Hooks:
    """run_scenario's hooks for a step per replicate: it begins when its server is up and ends with
    its end sample."""
    return Hooks(on_server_started=lambda _target: bar.start("replicate: server up, measuring"),
                 on_phase=lambda phase, _target: bar.done(f"replicate {bar.completed + 1} measured")
                 if phase == "measure_end" else None)
