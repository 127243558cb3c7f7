"""Every child memgate starts dies with the driver, also when the driver is SIGKILLed.

PR_SET_PDEATHSIG (set in each child by spawn()) kills a direct child when the driver goes, but
not what that child forks: a target's workers (nginx), a daemon that left its session. So the
first time the driver needs a child it starts a reaper: a small process in a session of its own
that reads a pipe from the driver. The driver tells it each process group it starts and each
memory cgroup it makes (and when they are gone). At EOF, which the kernel delivers however the
driver died, the reaper kills those groups, the cgroups' members, and every process whose
environment carries the driver's mark (MEMGATE_DRIVER=<token>, which every child inherits
through os.environ), then exits; at a normal exit the driver closes the pipe itself and waits
for that last sweep. After an interrupt the driver runs the same kill itself (sweep()). An attached target is neither registered nor started with the mark, so it is never
signalled.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import sys
import uuid
from typing import Callable

from harness.driver.cgroup import MemoryCgroup
from harness.driver.interrupt import deferred
from harness.driver.processes import pids_with_environ

MARK_ENV = "MEMGATE_DRIVER"
PR_SET_PDEATHSIG = 1
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_MAIN = f"import sys; sys.path.insert(0, {_ROOT!r}); from harness.driver.reaper import serve; serve(sys.argv[1:])"


def kill_all(groups: set[int], cgroups: dict[str, int], mark: str, spare: set[int]) -> list[int]:
    """SIGKILL the groups, the cgroups' members and the marked processes (not those in spare); the pids killed by mark."""
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for path, version in cgroups.items():
        MemoryCgroup(version, path).kill()
    killed = []
    for pid in pids_with_environ(MARK_ENV, mark):
        if pid in spare:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        killed.append(pid)
    return killed


def serve(argv: list[str]) -> None:
    """The reaper process: argv is [mark, driver pid]; registrations arrive on stdin, one per line."""
    mark, driver = argv[0], int(argv[1])
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # meant for the driver; EOF ends the reaper
        signal.signal(s, signal.SIG_IGN)
    groups: set[int] = set()
    cgroups: dict[str, int] = {}
    for line in sys.stdin:
        verb, _, arg = line.strip().partition(" ")
        if verb == "+group":
            groups.add(int(arg))
        elif verb == "-group":
            groups.discard(int(arg))
        elif verb == "+cgroup":
            version, _, path = arg.partition(" ")
            cgroups[path] = int(version)
        elif verb == "-cgroup":
            cgroups.pop(arg, None)
    kill_all(groups, cgroups, mark, {os.getpid(), driver})
    for path, version in cgroups.items():
        try:
            MemoryCgroup(version, path).remove(timeout_s=2.0)
        except (OSError, RuntimeError):
            pass


class Reaper:
    """The driver's side: the pipe to the reaper and what it was told."""

    def __init__(self) -> None:
        self.mark = uuid.uuid4().hex
        self.groups: set[int] = set()
        self.cgroups: dict[str, int] = {}
        read_end, write_end = os.pipe()  # both close on exec: no other child holds the pipe open
        self.proc = subprocess.Popen([sys.executable, "-c", _MAIN, self.mark, str(os.getpid())], stdin=read_end,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(read_end)
        self._pipe = os.fdopen(write_end, "w", buffering=1)
        os.environ[MARK_ENV] = self.mark  # set after the reaper started: it must not carry the mark itself
        atexit.register(self.close)

    def close(self, timeout_s: float = 5.0) -> None:
        """At a normal exit: EOF now, and wait for the reaper's last sweep, so none of the driver's
        processes (the reaper included) is still running once the driver has exited."""
        try:
            self._pipe.close()
            self.proc.wait(timeout=timeout_s)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            pass

    def _tell(self, line: str) -> None:
        try:
            self._pipe.write(line + "\n")
        except (BrokenPipeError, ValueError):  # the reaper was killed from outside (PDEATHSIG remains), or closed at exit
            pass

    def track_group(self, pgid: int) -> None:
        self.groups.add(pgid)
        self._tell(f"+group {pgid}")

    def release_group(self, pgid: int) -> None:
        """The group's leader was reaped: its number may be reused, so it must not be killed later."""
        self.groups.discard(pgid)
        self._tell(f"-group {pgid}")

    def track_cgroup(self, cgroup: MemoryCgroup) -> None:
        self.cgroups[cgroup.path] = cgroup.version
        self._tell(f"+cgroup {cgroup.version} {cgroup.path}")

    def release_cgroup(self, cgroup: MemoryCgroup) -> None:
        self.cgroups.pop(cgroup.path, None)
        self._tell(f"-cgroup {cgroup.path}")

    def sweep(self) -> list[int]:
        """The reaper's kill, now (after an interrupt): the pids found by mark."""
        return kill_all(set(self.groups), dict(self.cgroups), self.mark, {os.getpid(), self.proc.pid})


_reaper: Reaper | None = None


def guard() -> Reaper:
    """This driver's reaper, started on first use."""
    global _reaper
    if _reaper is None:
        _reaper = Reaper()
    return _reaper


def sweep() -> list[int]:
    """Kill whatever this driver started that is still alive ([] when it started nothing)."""
    return _reaper.sweep() if _reaper is not None else []


def _die_with_driver() -> Callable[[], None]:
    """A preexec step: SIGKILL when the driver (this thread's process) exits, however it exits."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork: the child only calls it
    driver = os.getpid()

    def step() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != driver:  # the driver died before prctl: no signal would come
            os._exit(1)
    return step


def spawn(argv: list[str], *, preexec: Callable[[], None] | None = None, **popen_kwargs) -> subprocess.Popen:
    """subprocess.Popen in a new process group the reaper knows, dying with the driver.

    PDEATHSIG follows the thread that forked: every spawn runs on the driver's main thread.
    """
    reaper = guard()
    die = _die_with_driver()

    def before_exec() -> None:
        die()
        if preexec is not None:
            preexec()
    with deferred():  # an interrupt waits until the child is started and registered
        proc = subprocess.Popen(argv, start_new_session=True, preexec_fn=before_exec, close_fds=True, **popen_kwargs)
        reaper.track_group(proc.pid)
    return proc


def release(proc: subprocess.Popen) -> None:
    """After proc was reaped: forget its group."""
    if _reaper is not None and proc.returncode is not None:
        _reaper.release_group(proc.pid)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a spawned child's group while its leader is unreaped (after that its pid may be reused), then release it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    release(proc)


def run(argv: list[str], **popen_kwargs) -> subprocess.CompletedProcess:
    """subprocess.run(argv, capture_output=True, text=True) through spawn(): when anything stops the wait (an
    interrupt), the child's whole group goes (a build's compilers too), not only the child."""
    proc = spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen_kwargs)
    try:
        out, err = proc.communicate()
    finally:
        kill_group(proc)  # nothing it started may outlive it
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)
