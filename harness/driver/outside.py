"""A target seen from outside: its process tree (/proc) always, its own memory cgroup where one can be made.

The runner makes one per replicate before the target starts (the target joins the cgroup between
fork and exec), points it at the target's root pid(s) once they exist, merges sample() into the
start and end samples and hands probes() to the Sampler for every timeline point.
"""

from __future__ import annotations

from typing import Any, Callable

from harness.driver.cgroup import CgroupUnavailable, MemoryCgroup
from harness.driver.proctree import ProcessTree


class OutsideMemory:
    def __init__(self, cgroup_name: str | None):
        """cgroup_name None: no cgroup (a target memgate did not start cannot be moved into one)."""
        self.cgroup: MemoryCgroup | None = None
        self.cgroup_unavailable: str | None = None
        self.tree: ProcessTree | None = None
        self.errors: list[str] = []
        if cgroup_name is not None:
            try:
                self.cgroup = MemoryCgroup.create(cgroup_name)
            except CgroupUnavailable as e:
                self.cgroup_unavailable = str(e)

    def join_cgroup(self) -> Callable[[], None] | None:
        """The target's preexec_fn step, or None without a cgroup."""
        return self.cgroup.preexec() if self.cgroup else None

    def watch(self, roots: list[int]) -> None:
        self.tree = ProcessTree(roots)

    def probes(self) -> tuple[Callable[[], dict[str, Any]], ...]:
        return tuple(p for p in (self.tree and self.tree.sample, self.cgroup and self.cgroup.sample) if p)

    def sample(self) -> dict[str, Any]:
        """Every probe's figures; one that cannot be read is left out and noted in errors."""
        out: dict[str, Any] = {}
        for probe in self.probes():
            try:
                out.update(probe())
            except (OSError, ValueError) as e:
                self.errors.append(str(e))
        return out

    def processes(self) -> list[dict[str, Any]]:
        return self.tree.processes() if self.tree else []

    def describe(self) -> dict[str, Any]:
        if self.cgroup:
            return self.cgroup.describe()
        return {"unavailable": self.cgroup_unavailable or "not requested"}

    def close(self) -> None:
        """Removes the cgroup, killing what the stopped target left inside; CgroupUnavailable if it stays."""
        if self.cgroup:
            self.cgroup.remove()
