"""Scenario files: TOML keys, their types and defaults, --set overrides, validation.

A scenario resolves to a plain dict (``Scenario.config``) holding every key below,
defaults filled in, so a result file says exactly what ran.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from typing import Any, Callable

PROTOCOLS = ("h1", "h2c", "h2-tls")
ALLOCATORS = ("glibc", "jemalloc", "mimalloc")
COPY_STRATEGIES = ("writev", "buffered")
REQUEST_BODIES = ("streamed", "buffered")
METHODS = ("GET", "POST")

# Server flags the driver sets itself from scenario keys; server_args may not repeat them.
DRIVER_OWNED_FLAGS = {
    "--host": "the driver always binds 127.0.0.1",
    "--port": "the driver picks a free port (--port 0)",
    "--threads": "use the key server_threads",
    "--copy": "use the key copy",
    "--request-body": "use the key request_body",
    "--tls-cert": "the driver makes a certificate for protocol h2-tls",
    "--tls-key": "the driver makes a certificate for protocol h2-tls",
}

# Gate thresholds a scenario may set in its [thresholds] table. Defaults live in
# analysis/gate.py (DEFAULT_THRESHOLDS); the names are listed here so a scenario
# file is validated before anything runs.
THRESHOLD_KEYS = (
    "live_heap_bytes_per_request_max",
    "rss_delta_bytes_max",
    "rss_delta_factor",
    "peak_rss_growth_bytes_min",
    "peak_rss_growth_factor",
    "bytes_copied_per_response_increase_max",
    "client_failures_max",
    "noise_k",
)


class ScenarioError(ValueError):
    """A scenario that cannot run: names the source, the key and the reason."""

    def __init__(self, source: str, key: str | None, reason: str):
        self.source = source
        self.key = key
        self.reason = reason
        where = f"{source}: key '{key}'" if key else source
        super().__init__(f"{where}: {reason}")


@dataclasses.dataclass(frozen=True)
class Key:
    kind: str  # "str", "int", "number", "bool", "list[str]", "table"
    default: Any
    check: Callable[[Any], str | None] | None = None
    doc: str = ""


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value not in choices:
            return f"{value!r} is not one of {', '.join(choices)}"
        return None

    return check


def _at_least(minimum: int | float) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value < minimum:
            return f"{value!r} is below the minimum {minimum}"
        return None

    return check


def _endpoint(value: str) -> str | None:
    if not value.startswith("/"):
        return f"{value!r} must be a path starting with '/', e.g. /bytes/65536"
    if any(c.isspace() for c in value):
        return f"{value!r} contains whitespace"
    return None


def _name(value: str) -> str | None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
        return f"{value!r} must be letters, digits, '.', '_' or '-' (it names the result file)"
    return None


KEYS: dict[str, Key] = {
    "name": Key("str", None, _name, "scenario name; default: the file's stem, or 'adhoc'"),
    "description": Key("str", "", None, "one paragraph: what the scenario measures"),
    "protocol": Key("str", "h2c", _one_of(PROTOCOLS), "h1, h2c or h2-tls"),
    "allocator": Key("str", "glibc", _one_of(ALLOCATORS), "which refserver-<allocator> binary"),
    "copy": Key("str", "writev", _one_of(COPY_STRATEGIES), "server --copy"),
    "request_body": Key("str", "streamed", _one_of(REQUEST_BODIES), "server --request-body"),
    "method": Key("str", "GET", _one_of(METHODS), "GET or POST"),
    "endpoint": Key("str", "/bytes/65536", _endpoint, "request path"),
    "upload_bytes": Key("int", 0, _at_least(0), "POST body size"),
    "connections": Key("int", 4, _at_least(1), "client connections"),
    "streams": Key("int", None, _at_least(1), "concurrent streams per h2 connection; default 1 for h1, 10 for h2"),
    "pipeline": Key("int", 1, _at_least(1), "h1 pipelining depth"),
    "requests_per_connection": Key("int", 0, _at_least(0), "0: keep-alive without limit; N: reconnect after N"),
    "warmup_requests": Key("int", 2000, _at_least(0), "requests before the start sample"),
    "requests": Key("int", 100000, _at_least(1), "measured requests"),
    "repeat": Key("int", 1, _at_least(1), "replicates (fresh server each)"),
    "sample_interval_ms": Key("int", 100, _at_least(10), "timeline sampling period"),
    "server_args": Key("list[str]", [], None, "extra refserver flags, e.g. [\"--inject-leak=64\"]"),
    "thresholds": Key("table", {}, None, "gate thresholds (see docs/RESULTS.md)"),
    "server_threads": Key("int", 1, _at_least(1), "server --threads"),
    "time_limit_s": Key("number", 120, _at_least(1), "bound on each loadgen run"),
    "pin": Key("bool", True, None, "pin server and loadgen to different CPUs when there are 2+"),
}


def _type_error(kind: str, value: Any) -> str | None:
    if kind == "str":
        ok = isinstance(value, str)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "list[str]":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif kind == "table":
        ok = isinstance(value, dict)
    else:  # pragma: no cover - programming error
        raise AssertionError(kind)
    if ok:
        return None
    return f"expected {kind}, got {type(value).__name__} {value!r}"


def parse_set_value(text: str) -> Any:
    """A --set value is a TOML value; a bare word that is not valid TOML is a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if re.fullmatch(r"[^\s\"'\[\]{}=#,]+", text):
            return text
        raise ValueError(f"--set value {text!r} is neither a TOML value nor a bare word") from None


def parse_set(item: str) -> tuple[str, Any]:
    """'key=value' from the command line -> (key, value)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--set {item!r}: expected key=value")
    return key, parse_set_value(raw.strip())


@dataclasses.dataclass
class Scenario:
    config: dict[str, Any]
    source: str  # file path or "--set"
    path: str | None

    @property
    def name(self) -> str:
        return self.config["name"]


def _validate_thresholds(source: str, table: dict[str, Any]) -> None:
    for key, value in table.items():
        if key not in THRESHOLD_KEYS:
            raise ScenarioError(source, f"thresholds.{key}", f"unknown threshold; known: {', '.join(THRESHOLD_KEYS)}")
        err = _type_error("number", value)
        if err:
            raise ScenarioError(source, f"thresholds.{key}", err)
        if value < 0:
            raise ScenarioError(source, f"thresholds.{key}", f"{value!r} is negative")


def resolve(raw: dict[str, Any], source: str, path: str | None = None) -> Scenario:
    """Checks every key and combination, fills defaults. Raises ScenarioError."""
    for key in raw:
        if key not in KEYS:
            raise ScenarioError(source, key, f"unknown key; known keys: {', '.join(KEYS)}")
    config: dict[str, Any] = {}
    for key, spec in KEYS.items():
        if key in raw:
            value = raw[key]
            err = _type_error(spec.kind, value)
            if err is None and spec.check is not None:
                err = spec.check(value)
            if err:
                raise ScenarioError(source, key, err)
            config[key] = value
        else:
            default = spec.default
            config[key] = list(default) if isinstance(default, list) else (dict(default) if isinstance(default, dict) else default)
    if config["name"] is None:
        config["name"] = os.path.splitext(os.path.basename(path))[0] if path else "adhoc"
        if _name(config["name"]):
            config["name"] = re.sub(r"[^A-Za-z0-9._-]", "_", config["name"]) or "adhoc"
    if config["streams"] is None:
        config["streams"] = 1 if config["protocol"] == "h1" else 10
    if isinstance(config["time_limit_s"], int):
        config["time_limit_s"] = float(config["time_limit_s"])
    _validate_thresholds(source, config["thresholds"])
    _check_combinations(source, raw, config)
    return Scenario(config=config, source=source, path=path)


def _check_combinations(source: str, raw: dict[str, Any], c: dict[str, Any]) -> None:
    h2 = c["protocol"] in ("h2c", "h2-tls")
    if h2 and c["pipeline"] > 1:
        raise ScenarioError(source, "pipeline", f"pipeline={c['pipeline']} needs protocol h1 (HTTP/2 multiplexes with streams instead); protocol is {c['protocol']}")
    if not h2 and c["streams"] > 1:
        raise ScenarioError(source, "streams", f"streams={c['streams']} needs HTTP/2 (h2c or h2-tls); protocol is h1, use pipeline instead")
    if c["method"] == "GET" and c["upload_bytes"] > 0:
        raise ScenarioError(source, "upload_bytes", f"upload_bytes={c['upload_bytes']} needs method POST; method is GET")
    if c["method"] == "POST" and not c["endpoint"].startswith("/upload"):
        raise ScenarioError(source, "endpoint", f"method POST is only served at /upload; endpoint is {c['endpoint']!r}")
    if c["method"] == "POST" and c["upload_bytes"] == 0:
        raise ScenarioError(source, "upload_bytes", "method POST needs upload_bytes > 0")
    if c["method"] == "GET" and c["endpoint"].startswith("/upload"):
        raise ScenarioError(source, "method", "/upload accepts POST only; set method = \"POST\" and upload_bytes")
    if c["endpoint"].startswith(("/mem", "/healthz")):
        raise ScenarioError(source, "endpoint", f"{c['endpoint']!r} is a control endpoint the server does not count as a request")
    for arg in c["server_args"]:
        flag = arg.split("=", 1)[0]
        if flag in DRIVER_OWNED_FLAGS:
            raise ScenarioError(source, "server_args", f"{arg!r}: {DRIVER_OWNED_FLAGS[flag]}")
        if not arg.startswith("--"):
            raise ScenarioError(source, "server_args", f"{arg!r} is not a --flag (write flags as --name=value)")


def load(path: str | None, overrides: list[tuple[str, Any]] | None = None) -> Scenario:
    """Reads a scenario file (or none) and applies --set overrides in order."""
    raw: dict[str, Any] = {}
    source = "--set"
    if path is not None:
        source = path
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError:
            raise ScenarioError(path, None, "no such scenario file") from None
        except tomllib.TOMLDecodeError as e:
            raise ScenarioError(path, None, f"not valid TOML: {e}") from None
    for key, value in overrides or []:
        if "." in key:
            table, _, sub = key.partition(".")
            if table != "thresholds":
                raise ScenarioError("--set", key, "only thresholds.<name> may use a dotted key")
            raw.setdefault("thresholds", {})
            if not isinstance(raw["thresholds"], dict):
                raise ScenarioError(source, "thresholds", "expected a table")
            raw["thresholds"] = {**raw["thresholds"], sub: value}
        else:
            raw[key] = value
        if key not in KEYS and not key.startswith("thresholds."):
            raise ScenarioError("--set", key, f"unknown key; known keys: {', '.join(KEYS)}")
    return resolve(raw, source + (" (with --set)" if path and overrides else ""), path)


def from_dict(raw: dict[str, Any], source: str = "<dict>") -> Scenario:
    return resolve(dict(raw), source, None)
