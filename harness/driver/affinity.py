"""Start a child on given CPUs: `taskset -c` when present, else an affinity syscall between fork and exec."""

from __future__ import annotations

import os
import shutil


def pinned(argv: list[str], cpus: set[int] | None):
    """(argv, preexec_fn) that start argv with affinity cpus; threads it creates inherit the mask."""
    if not cpus:
        return argv, None
    taskset = shutil.which("taskset")
    if taskset:
        return [taskset, "-c", ",".join(str(c) for c in sorted(cpus)), *argv], None

    def preexec() -> None:  # fallback: a plain syscall between fork and exec
        os.sched_setaffinity(0, cpus)

    return argv, preexec
