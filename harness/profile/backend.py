"""What a profiler supplies to a profiled run (harness/profile/run.py): one object per server run.

`wrap` starts the server under the profiler, `on_phase` marks the measured window (the runner
calls it after the start and the end /mem samples) and `collect`, once the server has exited,
reads the profiler's data into per-site rows (harness/profile/sites.py) and the profile's metadata.
"""

from __future__ import annotations

import abc
from typing import Any


class Profiler(abc.ABC):
    name: str

    @abc.abstractmethod
    def __init__(self, workdir: str, scenario_name: str, windowed: bool = True):
        """Data goes into workdir; windowed=False: only `wrap` will be called (an overhead run)."""

    @abc.abstractmethod
    def wrap(self, argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """The server's argv and environment under the profiler."""

    @abc.abstractmethod
    def on_phase(self, phase: str, server: Any) -> None:
        """`measure_start` or `measure_end`: the measured window's boundaries."""

    @abc.abstractmethod
    def collect(self, result: dict[str, Any], requests: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(site rows, metadata: profiler, window, data_file, ...) for a run that measured `requests`."""

    def close(self) -> None:
        """Releases what the run needed (a FIFO, ...); called also when the run failed."""
