"""A memory cgroup of the target's own, per replicate: usage, peak and the memory.stat split.

cgroup v2 (memory.current, memory.peak, memory.stat anon/file/kernel/sock) or the v1 memory
controller (memory.usage_in_bytes, memory.max_usage_in_bytes, memory.stat total_rss/total_cache,
memory.kmem.usage_in_bytes, memory.kmem.tcp.usage_in_bytes). Replicate groups live under a
"memgate" group beside the driver's own (so whatever limits the driver, limits them too).
The target joins between fork and exec (preexec), so every page it touches is charged here:
v1 does not move the charge of pages touched before a move.
create() raises CgroupUnavailable with the reason when neither can be made; the run goes on
without cgroup figures and says so.
"""

from __future__ import annotations

import functools
import os
import signal
import time
from typing import Any, Callable

PARENT = "memgate"
FIGURES = ("cgroup_usage_bytes", "cgroup_peak_bytes", "cgroup_anon_bytes", "cgroup_file_bytes",
           "cgroup_kernel_bytes", "cgroup_sock_bytes")


class CgroupUnavailable(RuntimeError):
    pass


def _mounts(mounts_path: str) -> list[tuple[str, str, set[str]]]:
    out = []
    with open(mounts_path) as f:
        for line in f:
            _, mount_point, fstype, options, *_ = line.split()
            out.append((mount_point, fstype, set(options.split(","))))
    return out


def _own_paths(cgroup_path: str) -> dict[str, str]:
    """Controller list ("" for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    out = {}
    with open(cgroup_path) as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    return out


def find_memory_hierarchy(mounts_path: str = "/proc/self/mounts",
                          cgroup_path: str = "/proc/self/cgroup") -> tuple[int, str, str]:
    """(version, mount point, this process's path in it) of the memory controller; CgroupUnavailable if none."""
    own = _own_paths(cgroup_path)
    for mount_point, fstype, options in _mounts(mounts_path):
        if fstype == "cgroup2" and "" in own:
            try:
                with open(os.path.join(mount_point, "cgroup.controllers")) as f:
                    if "memory" in f.read().split():
                        return 2, mount_point, own[""]
            except OSError:
                continue
    for mount_point, fstype, options in _mounts(mounts_path):
        if fstype == "cgroup" and "memory" in options:
            return 1, mount_point, own.get("memory", "/")
    raise CgroupUnavailable("no cgroup v2 hierarchy with the memory controller and no v1 memory controller is mounted")


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _stat(path: str) -> dict[str, int]:
    with open(path) as f:
        return {k: int(v) for k, v in (line.split() for line in f if line.strip())}


def _enable_v1_socket_accounting(path: str) -> None:
    """v1 charges socket buffers to a group only once its TCP limit was written: write "no limit"."""
    try:
        _write(os.path.join(path, "memory.kmem.tcp.limit_in_bytes"), "-1")
    except OSError:  # a kernel without it: cgroup_sock_bytes then stays 0
        pass


class MemoryCgroup:
    """One replicate's memory cgroup. Use as a context manager or call remove() on every path."""

    def __init__(self, version: int, path: str):
        self.version, self.path = version, path

    @classmethod
    def create(cls, name: str, *, mounts_path: str = "/proc/self/mounts",
               cgroup_path: str = "/proc/self/cgroup") -> MemoryCgroup:
        version, mount_point, own = find_memory_hierarchy(mounts_path, cgroup_path)
        # v2 forbids controllers in a group that holds processes: the driver's own group usually
        # does, so its memgate parent goes beside the driver's group at the root when needed.
        candidates = [os.path.join(mount_point, own.lstrip("/"), PARENT)]
        if version == 2:
            candidates.append(os.path.join(mount_point, PARENT))
        errors = []
        for parent in candidates:
            try:
                os.makedirs(parent, exist_ok=True)
                if version == 2:
                    _write(os.path.join(os.path.dirname(parent), "cgroup.subtree_control"), "+memory")
                    _write(os.path.join(parent, "cgroup.subtree_control"), "+memory")
                path = os.path.join(parent, name)
                os.mkdir(path)
            except OSError as e:
                errors.append(f"{parent}: {e.strerror or e}")
                continue
            if version == 1:
                _enable_v1_socket_accounting(path)
            return cls(version, path)
        raise CgroupUnavailable(f"cannot create a memory cgroup (v{version}): {'; '.join(errors)}")

    def preexec(self) -> Callable[[], None]:
        """A preexec_fn that moves the child into this group before it execs."""
        procs = os.path.join(self.path, "cgroup.procs")

        def join() -> None:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")  # 0: the writing process itself
            finally:
                os.close(fd)
        return join

    def pids(self) -> list[int]:
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def kill(self) -> None:
        """SIGKILL every member. cgroup.kill (v2, Linux 5.14+) also gets one that forks meanwhile."""
        if self.version == 2:
            try:
                _write(os.path.join(self.path, "cgroup.kill"), "1")
                return
            except OSError:
                pass
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def sample(self) -> dict[str, Any]:
        """Usage, peak and the split, in bytes (None where this kernel does not say)."""
        p = functools.partial(os.path.join, self.path)
        if self.version == 2:
            stat = _stat(p("memory.stat"))
            kernel = stat.get("kernel")
            if kernel is None:  # before Linux 5.18: its parts
                kernel = sum(stat.get(k, 0) for k in ("slab", "kernel_stack", "pagetables", "percpu"))
            values = (_read_int(p("memory.current")), _read_int(p("memory.peak")), stat.get("anon"),
                      stat.get("file"), kernel, stat.get("sock"))
        else:
            stat = _stat(p("memory.stat"))
            values = (_read_int(p("memory.usage_in_bytes")), _read_int(p("memory.max_usage_in_bytes")),
                      stat.get("total_rss"), stat.get("total_cache"), _read_int(p("memory.kmem.usage_in_bytes")),
                      _read_int(p("memory.kmem.tcp.usage_in_bytes")))
        return dict(zip(FIGURES, values))

    def remove(self, timeout_s: float = 5.0) -> None:
        """Kill what is still inside (the target was already stopped; strays are its children), then rmdir."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = self.pids()
            if not left:
                try:
                    os.rmdir(self.path)
                    return
                except FileNotFoundError:
                    return
                except OSError:  # a member still exiting
                    pass
            self.kill()
            if time.monotonic() > deadline:
                raise CgroupUnavailable(f"cannot remove {self.path}: processes {left} stay inside")
            time.sleep(0.02)

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "path": self.path}

    def __enter__(self) -> MemoryCgroup:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
