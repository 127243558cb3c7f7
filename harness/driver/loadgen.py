"""The loadgen child: argv from a scenario, a bounded run, its JSON report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from typing import Any

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


def argv_for(binary: str, config: dict[str, Any], port: int, requests: int) -> list[str]:
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
    return argv


def run(argv: list[str], *, env: dict[str, str], cpus: set[int] | None, time_limit_s: float,
        on_start=None) -> dict[str, Any]:
    """Runs loadgen to completion or kills its group; returns its report plus exit_code and argv."""

    full_argv, preexec = pinned(argv, cpus)
    proc = subprocess.Popen(full_argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, start_new_session=True, preexec_fn=preexec, close_fds=True)
    if on_start is not None:
        on_start(proc.pid)
    try:
        out, err = proc.communicate(timeout=time_limit_s + KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise LoadgenError("timeout", f"loadgen did not finish within {time_limit_s + KILL_GRACE_S:g} s and was killed") from None
    finally:
        _kill_group(proc)  # nothing it started may outlive it
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


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the group while its leader is unreaped (after that its pid may be reused)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
