"""The refserver child: start on a free port, /healthz, /mem samples, bounded stop.

The server runs in its own process group (harness/driver/reaper.py: it dies with the driver)
with stdout and stderr in files (a pipe could fill and stall it); stop() and kill() address
the whole group.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import tempfile
import time
from typing import Any, Callable

from harness.driver import reaper
from harness.driver.affinity import pinned

STDERR_TAIL_BYTES = 4096


class ServerError(RuntimeError):
    """A server that would not start, answer or stay alive. `kind` names what happened."""

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


class RefServer:
    """The default target (harness/driver/targets/base.py lists the interface): it counts its
    requests in /mem, and memgate starts and stops it."""

    kind = "refserver"
    counts_requests = True
    signalled = True
    clean_exit_codes = (0,)

    def __init__(self, argv: list[str], *, tls: bool, env: dict[str, str], cpus: set[int] | None,
                 http_timeout_s: float = 5.0, join_cgroup: Callable[[], None] | None = None):
        self.argv = argv
        self.join_cgroup = join_cgroup
        self.tls = tls
        self.env = env
        self.cpus = cpus
        self.http_timeout_s = http_timeout_s
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self._workdir = tempfile.mkdtemp(prefix="memgate-server-")
        self.stdout_path = os.path.join(self._workdir, "stdout")
        self.stderr_path = os.path.join(self._workdir, "stderr")
        self.exit_code: int | None = None
        self._ssl = None
        if tls:
            self._ssl = ssl.create_default_context()
            self._ssl.check_hostname = False
            self._ssl.verify_mode = ssl.CERT_NONE
            self._ssl.set_alpn_protocols(["http/1.1"])

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode if self.proc else None

    def record(self) -> dict[str, Any]:
        return {"argv": self.argv, "pid": self.pid, "port": self.port}

    def processes(self) -> list[int]:
        return [self.pid]

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, listen_timeout_s: float = 10.0, health_timeout_s: float = 10.0) -> None:
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            argv, pin = pinned(self.argv, self.cpus)
            preexec = preexec_chain(self.join_cgroup, pin)
            self.proc = reaper.spawn(argv, preexec=preexec, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=self.env)
        self.port = self._wait_listening(listen_timeout_s)
        self._wait_healthy(health_timeout_s)

    def _wait_listening(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while True:
            with open(self.stdout_path, "rb") as f:
                first = f.readline()
            if first.endswith(b"\n"):
                line = first.decode(errors="replace").strip()
                prefix = "listening on "
                if not line.startswith(prefix) or ":" not in line:
                    raise ServerError("start", f"server's first line is {line!r}, expected 'listening on HOST:PORT'")
                try:
                    return int(line.rsplit(":", 1)[1])
                except ValueError:
                    raise ServerError("start", f"server's first line {line!r} has no port number") from None
            code = self.proc.poll()
            if code is not None:
                self.exit_code = code
                raise ServerError("start", f"server exited with {describe_exit(code)} before listening: {self.stderr_tail() or '(no stderr)'}")
            if time.monotonic() > deadline:
                raise ServerError("start", f"server printed no 'listening on' line within {timeout_s:g} s")
            time.sleep(0.01)

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.exit_code = self.proc.returncode
                raise ServerError("start", f"server exited with {describe_exit(self.exit_code)} before /healthz answered: {self.stderr_tail()}")
            try:
                status, body = self.get("/healthz", timeout_s=1.0)
                if status == 200:
                    return
                last = f"HTTP {status}: {body[:200]!r}"
            except (OSError, http.client.HTTPException) as e:
                last = str(e) or type(e).__name__
            time.sleep(0.05)
        raise ServerError("start", f"/healthz did not answer 200 within {timeout_s:g} s (last: {last})")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = 5.0) -> int | None:
        """SIGTERM, wait up to grace_s, then SIGKILL the whole process group. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            self._signal_group(signal.SIGCONT)  # a stopped (hung) server must run to see SIGTERM
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        self.exit_code = self.proc.returncode
        return self.exit_code

    def kill(self) -> None:
        """SIGKILL the process group, whatever state it is in, and reap."""
        if self.proc is None:
            return
        if self.proc.poll() is None:  # once reaped, its pid (= group id) may belong to someone else
            self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
            pass
        reaper.release(self.proc)
        self.exit_code = self.proc.returncode

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def cleanup(self) -> None:
        for p in (self.stdout_path, self.stderr_path):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self._workdir)
        except OSError:
            pass

    # -- HTTP ----------------------------------------------------------------------------------
    def get(self, path: str, timeout_s: float | None = None) -> tuple[int, bytes]:
        timeout = self.http_timeout_s if timeout_s is None else timeout_s
        if self.tls:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def mem(self, trim: bool = True, timeout_s: float | None = None) -> dict[str, Any]:
        path = "/mem" if trim else "/mem?trim=0"
        try:
            status, body = self.get(path, timeout_s)
        except (OSError, http.client.HTTPException) as e:
            kind = "dead" if not self.alive() else "unresponsive"
            raise ServerError(kind, f"GET {path} failed: {e or type(e).__name__}" + (
                f"; server exited with {describe_exit(self.proc.returncode)}" if kind == "dead" else "")) from None
        data = parse_mem_reply(path, status, body)
        if not isinstance(data, dict):
            raise ServerError("protocol", f"GET {path} JSON is not an object: {body[:200]!r}")
        for field in ("rss_bytes", "live_heap_bytes", "requests"):
            if field not in data:
                raise ServerError("protocol", f"GET {path} JSON lacks '{field}'")
        return data

    def stderr_tail(self, limit: int = STDERR_TAIL_BYTES) -> str:
        return file_tail(self.stderr_path, limit)


def parse_mem_reply(path: str, status: int, body: bytes) -> Any:
    """The JSON of a /mem answer; ServerError("protocol") for another status or a body that is not JSON."""
    if status != 200:
        raise ServerError("protocol", f"GET {path} answered HTTP {status}: {body[:200]!r}")
    try:
        return json.loads(body)
    except ValueError as e:  # not JSON, not UTF-8, or an integer too long to read
        raise ServerError("protocol", f"GET {path} returned invalid JSON: {e}") from None


def file_tail(path: str, limit: int = STDERR_TAIL_BYTES) -> str:
    """The last LIMIT bytes of a child's output file, as text ("" before it exists)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def preexec_chain(*steps: Callable[[], None] | None) -> Callable[[], None] | None:
    """One preexec_fn running the given ones in order (None when there are none)."""
    todo = [s for s in steps if s is not None]
    if not todo:
        return None

    def run() -> None:
        for step in todo:
            step()
    return run


def describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit (still running)"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
