"""The loadgen child: argv from a scenario, a bounded run, its JSON report."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from typing import Any, Callable

from harness.driver import reaper
from harness.driver.affinity import pinned

# loadgen stops itself at --time-limit-s; this much more, and the driver kills it.
KILL_GRACE_S = 15.0


class LoadgenError(RuntimeError):
    def __init__(self, kind: str, message: str, report: dict[str, Any] | None = None):
        self.kind = kind
        self.report = report
        super().__init__(message)


def url_for(config: dict[str, Any], port: int, path: str | None = None) -> str:
    scheme = "https" if config["protocol"] == "h2-tls" else "http"
    return f"{scheme}://127.0.0.1:{port}{path or config['endpoint']}"


def url_args(config: dict[str, Any], port: int) -> list[str]:
    """One --url per endpoint of the mix, and --weights when there is more than one."""
    mix = config.get("endpoints") or [{"path": config["endpoint"], "weight": 1}]
    argv: list[str] = []
    for e in mix:
        argv += ["--url", url_for(config, port, e["path"])]
    if len(mix) > 1:
        argv += ["--weights", ",".join(str(e["weight"]) for e in mix)]
    return argv


def argv_for(binary: str, config: dict[str, Any], port: int, requests: int, *, hold: bool = False) -> list[str]:
    argv = [binary, *url_args(config, port), "--protocol", config["protocol"],
            "--requests", str(requests), "--connections", str(config["connections"]),
            "--time-limit-s", f"{config['time_limit_s']:g}", "--method", config["method"]]
    if config["protocol"] == "h1":
        argv += ["--pipeline", str(config["pipeline"])]
    else:
        argv += ["--streams", str(config["streams"])]
    if config["requests_per_connection"]:
        argv += ["--requests-per-connection", str(config["requests_per_connection"])]
    if config["upload_bytes"]:
        argv += ["--upload-bytes", str(config["upload_bytes"])]
    if config["protocol"] == "h2-tls":
        argv += ["--insecure"]
    if config["cancel_after_bytes"]:
        argv += ["--cancel-after-bytes", str(config["cancel_after_bytes"])]
    if config["read_rate_bytes_per_s"]:
        argv += ["--read-rate", str(config["read_rate_bytes_per_s"])]
    if hold:
        argv += ["--hold"]
    if config["verify"] != "pattern":  # pattern is loadgen's own default: refserver's argv stays as it was
        argv += ["--verify", config["verify"]]
    if config["expect_length"] is not None:
        argv += ["--expect-length", str(config["expect_length"])]
    return argv


def run(argv: list[str], *, env: dict[str, str], cpus: set[int] | None, time_limit_s: float,
        on_start=None, on_holding: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Runs loadgen to completion or kills its group; returns its report plus exit_code and argv.

    With on_holding (loadgen --hold), on_holding(n) runs while loadgen holds its n connections
    idle; closing loadgen's stdin afterwards lets it close them and report.
    """
    full_argv, preexec = pinned(argv, cpus)
    proc = reaper.spawn(full_argv, preexec=preexec, stdin=subprocess.PIPE if on_holding else subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    if on_start is not None:
        on_start(proc.pid)
    deadline = time.monotonic() + time_limit_s + KILL_GRACE_S
    streams = _Drain(proc, watch_for=HOLDING_PREFIX if on_holding else None)
    try:
        if on_holding:
            held = streams.wait_for_line(deadline)
            try:
                if held is not None:
                    on_holding(_held_count(held))
            finally:
                proc.stdin.close()
        if not streams.wait(deadline):
            reaper.kill_group(proc)
            streams.wait(time.monotonic() + 5)
            raise LoadgenError("timeout", f"loadgen did not finish within {time_limit_s + KILL_GRACE_S:g} s and was killed")
        proc.wait()
    finally:
        reaper.kill_group(proc)  # nothing it started may outlive it
    out, err = streams.stdout(), streams.stderr()
    code = proc.returncode
    stderr_tail = err.decode(errors="replace")[-2000:].strip()
    if code == 2:
        raise LoadgenError("arguments", f"loadgen rejected its arguments (exit 2): {stderr_tail}")
    try:
        report = json.loads(out)
    except json.JSONDecodeError:
        raise LoadgenError("crash", f"loadgen exited with code {code} without a JSON report: {stderr_tail or '(no stderr)'}") from None
    if not isinstance(report, dict) or "requests_completed" not in report:
        raise LoadgenError("crash", f"loadgen's report lacks requests_completed: {out[:200]!r}")
    report["exit_code"] = code
    report["argv"] = argv
    if stderr_tail:
        report["stderr_tail"] = stderr_tail
    return report


HOLDING_PREFIX = b"HOLDING "


def _held_count(line: bytes) -> int:
    try:
        return int(line[len(HOLDING_PREFIX):].strip())
    except ValueError:
        raise LoadgenError("crash", f"loadgen's hold line is not 'HOLDING <connections>': {line[:100]!r}") from None


class _Drain:
    """Reads a child's stdout and stderr to EOF on two threads (a full pipe would stall it),
    and hands over the first stderr line that starts with watch_for."""

    def __init__(self, proc: subprocess.Popen, watch_for: bytes | None):
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._watch_for = watch_for
        self._line: bytes | None = None
        self._seen = threading.Event()
        self._threads = [threading.Thread(target=self._read_all, args=(proc.stdout, self._out), daemon=True),
                         threading.Thread(target=self._read_lines, args=(proc.stderr,), daemon=True)]
        for t in self._threads:
            t.start()

    def _read_all(self, f, chunks: list[bytes]) -> None:
        for chunk in iter(lambda: f.read(65536), b""):
            chunks.append(chunk)

    def _read_lines(self, f) -> None:
        for line in f:
            self._err.append(line)
            if self._watch_for and self._line is None and line.startswith(self._watch_for):
                self._line = line
                self._seen.set()
        self._seen.set()  # EOF: whoever waits for the line stops waiting

    def wait_for_line(self, deadline: float) -> bytes | None:
        self._seen.wait(max(0.0, deadline - time.monotonic()))
        return self._line

    def wait(self, deadline: float) -> bool:
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def stdout(self) -> bytes:
        return b"".join(self._out)

    def stderr(self) -> bytes:
        return b"".join(self._err)
