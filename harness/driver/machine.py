"""machine_info and commit_info for result files."""

from __future__ import annotations

import os
import platform
import subprocess

from harness.driver.binaries import REPO_ROOT


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _glibc_version() -> str | None:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        lib, ver = platform.libc_ver()
        return f"{lib} {ver}" if lib else None


def machine_info() -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except OSError:
        usable = None
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "kernel": platform.release(),
        "machine": platform.machine(),
        "glibc": _glibc_version(),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }


def source_dir() -> str:
    """The checkout whose binaries are measured: MEMGATE_SOURCE_DIR (ci/gate.sh sets it to
    each ref's worktree) or this driver's own repository."""
    return os.environ.get("MEMGATE_SOURCE_DIR") or REPO_ROOT


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", source_dir(), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def commit_info() -> dict:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "id": _git("rev-parse", "HEAD"),
        "dirty": None if status is None else bool(status),
        "branch": _git("symbolic-ref", "--short", "-q", "HEAD") or _git("rev-parse", "--abbrev-ref", "HEAD"),
    }
