"""kind = "command": a server memgate starts from argv, in its own process group, and always reaps.

The argv, env values and config templates (files beside the scenario, rendered into the
replicate's fresh {workdir}) get {port}, {workdir}, {tls_cert}, {tls_key} and {bin} (memgate's
build/bin) replaced; nothing
else in them is touched (nginx configs are full of braces). Readiness is the scenario's ready
request, not a stdout line. Stop: stop_signal to the group, SIGKILL after stop_timeout_s, then
SIGKILL to anything still carrying the target's marker variable (a daemon that double-forked
out of the group).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from typing import Any, Callable

from harness.driver import reaper
from harness.driver.affinity import pinned
from harness.driver.binaries import build_dir
from harness.driver.processes import pids_with_environ
from harness.driver.server import STDERR_TAIL_BYTES, ServerError, describe_exit, file_tail, preexec_chain
from harness.driver.targets.base import TARGET_ID_ENV, OutsideTarget, wait_ready
from harness.driver.targets.heap import HeapSource, ShimHeap


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise ServerError("port_in_use", f"target.port {port} is already taken on {host}") from None
            raise ServerError("port_in_use", f"target.port {port} cannot be bound on {host}: {e}") from None


def render(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace(name, value)
    return text


class CommandTarget(OutsideTarget):
    kind = "command"

    def __init__(self, spec: dict[str, Any], protocol: str, env: dict[str, str], cpus: set[int] | None,
                 heap: HeapSource, tls_files: tuple[str, str] | None, join_cgroup: Callable[[], None] | None = None):
        super().__init__(spec["host"], heap)
        self.join_cgroup = join_cgroup
        self.spec, self.protocol, self.base_env, self.cpus, self.tls_files = spec, protocol, env, cpus, tls_files
        self.proc: subprocess.Popen | None = None
        self.workdir = tempfile.mkdtemp(prefix="memgate-target-")
        os.chmod(self.workdir, 0o755)  # workers that switch user (nginx's) read their files from it
        self.stderr_path = os.path.join(self.workdir, ".memgate-stderr")
        self.stdout_path = os.path.join(self.workdir, ".memgate-stdout")
        self.argv = list(spec["argv"])

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def clean_exit_codes(self) -> tuple[int, ...]:
        """0, or death by the stop signal itself (a server that keeps the default action)."""
        return (0, -signal.Signals[self.spec["stop_signal"]])

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc else None

    def placeholders(self) -> dict[str, str]:
        values = {"{port}": str(self.port), "{workdir}": self.workdir, "{bin}": os.path.join(build_dir(), "bin")}
        if self.tls_files:
            values.update({"{tls_cert}": self.tls_files[0], "{tls_key}": self.tls_files[1]})
        return values

    def prepare(self, wrap=None) -> None:
        """Port, workdir, templates, argv and environment: everything before the process starts."""
        spec = self.spec
        if spec["port"]:
            check_port_free(self.host, spec["port"])
            self.port = spec["port"]
        else:
            self.port = free_port(self.host)
        values = self.placeholders()
        for template in spec["templates"]:
            with open(template) as f:
                text = render(f.read(), values)
            with open(os.path.join(self.workdir, os.path.basename(template)), "w") as f:
                f.write(text)
        self.argv = [render(a, values) for a in spec["argv"]]
        if not (shutil.which(self.argv[0]) or (os.sep in self.argv[0] and os.access(self.argv[0], os.X_OK))):
            raise ServerError("argv", f"target.argv[0] {self.argv[0]!r} is not an executable file or a program on PATH")
        self.target_id = uuid.uuid4().hex
        env = {**self.base_env, **{k: render(v, values) for k, v in spec["env"].items()}, TARGET_ID_ENV: self.target_id}
        if isinstance(self.heap, ShimHeap):
            env = self.heap.environment(env)
        self.env = env
        if wrap:
            self.argv, self.env = wrap(list(self.argv), dict(self.env))

    def start(self) -> None:
        argv, pin = pinned(self.argv, self.cpus)
        preexec = preexec_chain(self.join_cgroup, pin)
        cwd = render(self.spec["cwd"], self.placeholders()) if self.spec["cwd"] else self.workdir
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            try:
                self.proc = reaper.spawn(argv, preexec=preexec, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=self.env, cwd=cwd)
            except OSError as e:
                raise ServerError("argv", f"target.argv {self.argv!r} could not start: {e}") from None
        wait_ready(self, self.protocol, self.spec["ready"], self.spec["ready_timeout_s"], self._exited)

    def _exited(self) -> str | None:
        code = self.proc.poll()
        if code is None:
            return None
        tail = self.stderr_tail(800).strip()
        return f"exited with {describe_exit(code)}" + (f" (stderr: {tail})" if tail else "")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """stop_signal, then SIGKILL after stop_timeout_s; the group and every process with the marker."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal_group(signal.Signals[self.spec["stop_signal"]])
            self._signal_group(signal.SIGCONT)
            try:
                self.proc.wait(timeout=self.spec["stop_timeout_s"])
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self._signal_group(signal.SIGKILL)
        self.proc.wait()
        self._kill_marked()
        reaper.release(self.proc)
        return self.proc.returncode

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _kill_marked(self, timeout_s: float = 5.0) -> None:
        """Processes that left the group (setsid, a double fork) still carry the marker."""
        if self.target_id is None:
            return
        deadline = time.monotonic() + timeout_s
        while (left := pids_with_environ(TARGET_ID_ENV, self.target_id)) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.02)

    def stderr_tail(self, limit: int = STDERR_TAIL_BYTES) -> str:
        return file_tail(self.stderr_path, limit)

    def cleanup(self) -> None:
        self.heap.cleanup()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def record(self) -> dict[str, Any]:
        return {**super().record(), "workdir": self.workdir, "stop_signal": self.spec["stop_signal"]}
