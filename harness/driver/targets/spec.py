"""The [target] table of a scenario: its keys per kind, their types, defaults and checks.

scenario.py calls `resolve_target` with the raw table; every error names the key (as
`target.<key>`) and the reason, and scenario.py adds the file.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
from typing import Any

KINDS = ("refserver", "command", "attach")
HEAP_SOURCES = ("shim", "mem_endpoint", "none")
# {bin} is memgate's own build/bin (its test servers live there).
PLACEHOLDERS = ("{port}", "{workdir}", "{tls_cert}", "{tls_key}", "{bin}")
METHODS = ("GET", "HEAD", "POST", "OPTIONS")

# key -> (type, default, kinds that accept it)
KEYS: dict[str, tuple[str, Any, tuple[str, ...]]] = {
    "kind": ("str", "refserver", KINDS),
    "argv": ("list[str]", None, ("command",)),
    "env": ("table[str]", {}, ("command",)),
    "cwd": ("str", None, ("command",)),
    "templates": ("list[str]", [], ("command",)),
    "host": ("str", "127.0.0.1", ("command", "attach")),
    "port": ("int", 0, ("command", "attach")),
    "pid": ("int", None, ("attach",)),
    "pidfile": ("str", None, ("attach",)),
    "ready": ("str", "GET /", ("command", "attach")),
    "ready_timeout_s": ("number", 10.0, ("command", "attach")),
    "stop_signal": ("str", "SIGTERM", ("command",)),
    "stop_timeout_s": ("number", 5.0, ("command",)),
    "heap": ("str", "none", ("command", "attach")),
}

# Top-level scenario keys that configure refserver and mean nothing for another target.
REFSERVER_ONLY_KEYS = ("copy", "request_body", "server_args", "server_threads")


class TargetKeyError(ValueError):
    def __init__(self, key: str, reason: str):
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "table[str]":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    raise AssertionError(kind)  # pragma: no cover - programming error


def parse_ready(text: str) -> tuple[str, str]:
    """'GET /path' -> (method, path)."""
    parts = text.split()
    if len(parts) != 2 or parts[0] not in METHODS or not parts[1].startswith("/"):
        raise TargetKeyError("target.ready", f"{text!r} is not 'METHOD /path' with METHOD one of {', '.join(METHODS)}")
    return parts[0], parts[1]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_target(raw: Any, scenario_dir: str | None) -> dict[str, Any]:
    """The raw [target] table (or None) -> every key of its kind, defaults filled in. Raises TargetKeyError."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise TargetKeyError("target", f"expected a table, got {type(raw).__name__} {raw!r}")
    kind = raw.get("kind", "refserver")
    if kind not in KINDS:
        raise TargetKeyError("target.kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    out: dict[str, Any] = {"kind": kind}
    for key, value in raw.items():
        if key not in KEYS:
            raise TargetKeyError(f"target.{key}", f"unknown key; known: {', '.join(KEYS)}")
        type_, _, kinds = KEYS[key]
        if kind not in kinds and key != "kind":
            raise TargetKeyError(f"target.{key}", f"not a key of kind {kind!r} (it belongs to {', '.join(kinds)})")
        if not _type_ok(type_, value):
            raise TargetKeyError(f"target.{key}", f"expected {type_}, got {type(value).__name__} {value!r}")
    if kind == "refserver":
        return out
    for key, (_, default, kinds) in KEYS.items():
        if kind in kinds and key != "kind":
            value = raw.get(key, default)
            out[key] = dict(value) if isinstance(value, dict) else (list(value) if isinstance(value, list) else value)
    for key in ("ready_timeout_s", "stop_timeout_s"):
        if key in out:
            out[key] = float(out[key])
            if out[key] <= 0:
                raise TargetKeyError(f"target.{key}", f"{out[key]:g} must be above 0")
    if not 0 <= out["port"] <= 65535:
        raise TargetKeyError("target.port", f"{out['port']} is not a TCP port (0 lets memgate choose one)")
    if not _is_loopback(out["host"]):
        raise TargetKeyError("target.host", f"{out['host']!r} is not a loopback address; memgate measures on loopback only")
    parse_ready(out["ready"])
    if out["heap"] not in HEAP_SOURCES:
        raise TargetKeyError("target.heap", f"{out['heap']!r} is not one of {', '.join(HEAP_SOURCES)}")
    if kind == "command":
        _check_command(out, scenario_dir)
    else:
        _check_attach(out)
    return out


def _check_command(out: dict[str, Any], scenario_dir: str | None) -> None:
    if not out["argv"]:
        raise TargetKeyError("target.argv", "missing or empty; kind 'command' needs the server's argv, e.g. [\"nginx\", \"-c\", \"{workdir}/nginx.conf\"]")
    for item in out["argv"]:
        for name in re.findall(r"\{[a-z_]+\}", item):
            if name not in PLACEHOLDERS:
                raise TargetKeyError("target.argv", f"{item!r} has the unknown placeholder {name}; known: {', '.join(PLACEHOLDERS)}")
    try:
        signal.Signals[out["stop_signal"]]
    except KeyError:
        raise TargetKeyError("target.stop_signal", f"{out['stop_signal']!r} is not a signal name such as SIGTERM or SIGQUIT") from None
    resolved = []
    for name in out["templates"]:
        if os.path.isabs(name) or os.sep in os.path.normpath(name) or name in ("", ".", ".."):
            raise TargetKeyError("target.templates", f"{name!r} must be a file name beside the scenario file")
        if scenario_dir is None:
            raise TargetKeyError("target.templates", "templates need a scenario file to sit beside")
        path = os.path.join(scenario_dir, name)
        if not os.path.isfile(path):
            raise TargetKeyError("target.templates", f"{name!r}: no such file beside the scenario ({path})")
        resolved.append(os.path.abspath(path))
    out["templates"] = resolved


def _check_attach(out: dict[str, Any]) -> None:
    if out["port"] == 0:
        raise TargetKeyError("target.port", "kind 'attach' needs the port the server listens on")
    if (out["pid"] is None) == (out["pidfile"] is None):
        raise TargetKeyError("target.pid", "kind 'attach' needs exactly one of pid or pidfile")
    if out["pid"] is not None and out["pid"] <= 0:
        raise TargetKeyError("target.pid", f"{out['pid']} is not a process id")
    if out["heap"] == "shim":
        raise TargetKeyError("target.heap", "memgate does not start an attached server, so it cannot preload the shim; use mem_endpoint or none")
