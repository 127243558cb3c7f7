"""Scenario files: TOML keys, their types and defaults, --set overrides, validation.

A scenario resolves to a plain dict (``Scenario.config``) holding every key below,
defaults filled in, so a result file says exactly what ran. A [matrix] table's shape
(axes, exclude, include) is expanded by matrix_expansion.py; load_cases resolves each case here.
About 400 lines on purpose: the key table and every check of a key or a combination of keys
read together, so a new key is added, typed and checked in one file.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from typing import Any, Callable

from analysis.metrics import DEFAULT_THRESHOLDS, GATED
from harness.driver.matrix_expansion import MatrixError, case_name, expand_matrix
from harness.driver.targets.spec import REFSERVER_ONLY_KEYS, TargetKeyError, resolve_target

PROTOCOLS = ("h1", "h2c", "h2-tls")
ALLOCATORS = ("glibc", "jemalloc", "mimalloc")
COPY_STRATEGIES = ("writev", "buffered")
REQUEST_BODIES = ("streamed", "buffered")
METHODS = ("GET", "POST")
VERIFY_MODES = ("pattern", "status", "length", "digest")

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

# loadgen's --weights bound (harness/loadgen/options.cpp).
MAX_WEIGHT_TOTAL = 1_000_000


class ScenarioError(ValueError):
    """A scenario that cannot run: names the source, the key and the reason."""

    def __init__(self, source: str, key: str | None, reason: str):
        self.source = source
        self.key = key
        self.reason = reason
        where = f"{source}: key '{key}'" if key is not None else source  # '' is a key TOML allows
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
    "endpoint": Key("str", "/bytes/65536", _endpoint, "request path (or use endpoints for a weighted mix)"),
    "endpoints": Key("list[table]", None, None, "weighted mix: [{path = \"/bytes/64\", weight = 3}, ...]; loadgen --url ... --weights"),
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
    "cancel_after_bytes": Key("int", 0, _at_least(0), "abandon each response after this many body bytes (h2: RST_STREAM CANCEL, h1: close); needed for /stream/inf"),
    "read_rate_bytes_per_s": Key("int", 0, _at_least(0), "slow reader: each client connection reads at most this many bytes/s (0: unlimited)"),
    "hold_connections": Key("bool", False, None, "after the measured requests, hold every connection open and idle for a forced-trim sample (memory per connection)"),
    "memory_ceiling_mib": Key("int", None, _at_least(1), "server RSS ceiling: the run stops with verdict memory_ceiling when exceeded; default: half the machine's memory"),
    "loopback_tcp_baseline": Key("bool", False, None, "measure the loopback TCP limit (a raw sender/receiver pair, pinned like server and loadgen) in the same run"),
    "bad_twin": Key("table", {}, None, "keys that bring the scenario's failure back (memgate twin gates it against the clean run and expects FAIL)"),
    "near_twin": Key("table", {}, None, "keys that bring the failure back at about 2x the gate's threshold through plain malloc (memgate twin expects FAIL too)"),
    "twin_metric": Key("str", None, _one_of(tuple(m.name for m in GATED)), "the gated metric the family is about: memgate twin accepts a twin's FAIL only on it"),
    "target": Key("table", {}, None, "what is measured: kind = refserver (default), command or attach; docs/RESULTS.md lists its keys"),
    "verify": Key("str", None, _one_of(VERIFY_MODES), "loadgen's response check; default pattern for refserver, status for other targets"),
    "expect_length": Key("int", None, _at_least(0), "the body length verify = \"length\" expects"),
}

# Tables whose keys --set may reach one at a time (--set target.heap=none).
DOTTED_TABLES = ("thresholds", "target")

# bad_twin and near_twin override scenario keys; these describe the file or would nest twins.
TWIN_TABLES = ("bad_twin", "near_twin")
NOT_TWIN_KEYS = ("name", "description", "twin_metric", *TWIN_TABLES)


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
    elif kind == "list[table]":
        ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
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
    params: dict[str, Any] = dataclasses.field(default_factory=dict)  # a matrix case's axis values

    @property
    def name(self) -> str:
        return self.config["name"]


def _validate_thresholds(source: str, table: dict[str, Any]) -> None:
    for key, value in table.items():
        if key not in DEFAULT_THRESHOLDS:
            raise ScenarioError(source, f"thresholds.{key}", f"unknown threshold; known: {', '.join(DEFAULT_THRESHOLDS)}")
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
    config["endpoints"] = _resolve_endpoints(source, raw, config)
    config["endpoint"] = config["endpoints"][0]["path"]
    if config["streams"] is None:
        config["streams"] = 1 if config["protocol"] == "h1" else 10
    if isinstance(config["time_limit_s"], int):
        config["time_limit_s"] = float(config["time_limit_s"])
    _validate_thresholds(source, config["thresholds"])
    try:
        config["target"] = resolve_target(raw.get("target"), os.path.dirname(path) if path else None)
    except TargetKeyError as e:
        raise ScenarioError(source, e.key, e.reason) from None
    if config["verify"] is None:
        config["verify"] = "pattern" if config["target"]["kind"] == "refserver" else "status"
    _check_combinations(source, raw, config)
    _validate_twin(source, raw, config)
    return Scenario(config=config, source=source, path=path)


def _validate_twin(source: str, raw: dict[str, Any], config: dict[str, Any]) -> None:
    for table in TWIN_TABLES:
        for key in config[table]:
            if key in NOT_TWIN_KEYS or key not in KEYS:
                known = ", ".join(k for k in KEYS if k not in NOT_TWIN_KEYS)
                raise ScenarioError(source, f"{table}.{key}",
                                    f"not a key a {table.replace('_', ' ')} may set; one of: {known}")
    if config["near_twin"] and not config["bad_twin"]:
        raise ScenarioError(source, "near_twin", "a near twin goes with a bad_twin table (the failure at full size)")
    if config["twin_metric"] is not None and not config["bad_twin"]:
        raise ScenarioError(source, "twin_metric", "names the metric a bad twin must fail on; this scenario has no bad_twin")
    for table in TWIN_TABLES:
        if config[table]:
            bad_twin(Scenario(config=config, source=source, path=None), raw, table)


def bad_twin(clean: Scenario, raw: dict[str, Any] | None = None, table: str = "bad_twin") -> Scenario:
    """The scenario with a twin table's keys applied (validated like any scenario), named <name>.bad-twin
    (or .near-twin)."""
    twin_keys = clean.config[table]
    if not twin_keys:
        raise ScenarioError(clean.source, table, f"this scenario has no {table.replace('_', ' ')}")
    if raw is not None:
        base = dict(raw)
    else:  # a resolved config: None means "default" and endpoints already holds endpoint
        base = {k: v for k, v in clean.config.items() if v is not None and k != "endpoint"}
    for key in (*TWIN_TABLES, "twin_metric"):
        base.pop(key, None)
    if "endpoints" in twin_keys:
        base.pop("endpoint", None)
    if "endpoint" in twin_keys:
        base.pop("endpoints", None)
    base.update(twin_keys)
    base["name"] = f"{clean.config['name']}.{table.replace('_', '-')}"
    return resolve(base, f"{clean.source} [{table}]", clean.path)


def _resolve_endpoints(source: str, raw: dict[str, Any], config: dict[str, Any]) -> list[dict[str, Any]]:
    """endpoints (a weighted mix) or endpoint (one path) -> [{path, weight}, ...]."""
    if "endpoints" not in raw:
        return [{"path": config["endpoint"], "weight": 1}]
    if "endpoint" in raw:
        raise ScenarioError(source, "endpoints", "set either endpoint (one path) or endpoints (a mix), not both")
    mix = raw["endpoints"]
    if not mix:
        raise ScenarioError(source, "endpoints", "an empty mix; give at least one {path = ..., weight = ...}")
    out = []
    total = 0
    for i, item in enumerate(mix):
        where = f"endpoints[{i}]"
        for k in item:
            if k not in ("path", "weight"):
                raise ScenarioError(source, f"{where}.{k}", "unknown key; an endpoint has path and weight")
        if "path" not in item:
            raise ScenarioError(source, f"{where}.path", "missing; every endpoint needs a path")
        path = item["path"]
        err = _type_error("str", path) or _endpoint(path)
        if err:
            raise ScenarioError(source, f"{where}.path", err)
        weight = item.get("weight", 1)
        err = _type_error("int", weight) or _at_least(1)(weight)
        if err:
            raise ScenarioError(source, f"{where}.weight", err)
        total += weight
        out.append({"path": path, "weight": weight})
    if total > MAX_WEIGHT_TOTAL:
        raise ScenarioError(source, "endpoints", f"weights sum to {total}; loadgen accepts at most {MAX_WEIGHT_TOTAL}")
    paths = [e["path"] for e in out]
    if len(set(paths)) != len(paths):
        raise ScenarioError(source, "endpoints", f"a path appears twice in {paths}; merge them into one weight")
    return out


def _check_target_combinations(source: str, raw: dict[str, Any], c: dict[str, Any]) -> None:
    """Keys that mean something only for refserver, and what verify and the target need of each other."""
    target = c["target"]
    if target["kind"] != "refserver":
        for key in (*REFSERVER_ONLY_KEYS, "allocator"):
            if key in raw and raw[key] != KEYS[key].default:  # a resolved config (a bad twin's base) holds defaults
                raise ScenarioError(source, key, f"configures refserver; the target is kind {target['kind']!r}")
    if (c["verify"] == "length") != (c["expect_length"] is not None):
        raise ScenarioError(source, "expect_length", "verify = \"length\" and expect_length go together")
    if c["verify"] == "length" and len(c["endpoints"]) > 1:
        raise ScenarioError(source, "verify", "verify = \"length\" expects one length; a mix of endpoints needs \"digest\" or \"status\"")
    if c["protocol"] != "h2-tls" and any("{tls_" in a for a in target.get("argv") or []):
        raise ScenarioError(source, "target.argv", f"{{tls_cert}} and {{tls_key}} need protocol h2-tls; protocol is {c['protocol']}")


def _check_combinations(source: str, raw: dict[str, Any], c: dict[str, Any]) -> None:
    _check_target_combinations(source, raw, c)
    h2 = c["protocol"] in ("h2c", "h2-tls")
    if h2 and c["pipeline"] > 1:
        raise ScenarioError(source, "pipeline", f"pipeline={c['pipeline']} needs protocol h1 (HTTP/2 multiplexes with streams instead); protocol is {c['protocol']}")
    if not h2 and c["streams"] > 1:
        raise ScenarioError(source, "streams", f"streams={c['streams']} needs HTTP/2 (h2c or h2-tls); protocol is h1, use pipeline instead")
    if c["method"] == "GET" and c["upload_bytes"] > 0:
        raise ScenarioError(source, "upload_bytes", f"upload_bytes={c['upload_bytes']} needs method POST; method is GET")
    key = "endpoints" if "endpoints" in raw else "endpoint"
    # Another server's routes are its own: only refserver's are known here.
    for path in (e["path"] for e in c["endpoints"] if c["target"]["kind"] == "refserver"):
        if c["method"] == "POST" and not path.startswith("/upload"):
            raise ScenarioError(source, key, f"method POST is only served at /upload; {key} has {path!r}")
        if c["method"] == "GET" and path.startswith("/upload"):
            raise ScenarioError(source, "method", "/upload accepts POST only; set method = \"POST\" and upload_bytes")
        if path.startswith(("/mem", "/healthz")):
            raise ScenarioError(source, key, f"{path!r} is a control endpoint the server does not count as a request")
    if c["cancel_after_bytes"] and c["protocol"] == "h1" and c["pipeline"] > 1:
        raise ScenarioError(source, "cancel_after_bytes", f"h1 cancels a response by closing its connection, which would drop the rest of a pipeline of {c['pipeline']}; use pipeline = 1")
    for path in (e["path"] for e in c["endpoints"]):
        if path.split("?", 1)[0] == "/stream/inf" and not c["cancel_after_bytes"]:
            raise ScenarioError(source, key, f"{path!r} never ends; set cancel_after_bytes so each response is abandoned after that many bytes")
    if c["hold_connections"]:
        if c["requests"] < c["connections"]:
            raise ScenarioError(source, "hold_connections", f"every held connection first completes a request: requests ({c['requests']}) must be at least connections ({c['connections']})")
        if c["requests_per_connection"]:
            raise ScenarioError(source, "hold_connections", "held connections stay open; requests_per_connection must be 0")
    if c["method"] == "POST" and c["upload_bytes"] == 0:
        raise ScenarioError(source, "upload_bytes", "method POST needs upload_bytes > 0")
    for arg in c["server_args"]:
        flag = arg.split("=", 1)[0]
        if flag in DRIVER_OWNED_FLAGS:
            raise ScenarioError(source, "server_args", f"{arg!r}: {DRIVER_OWNED_FLAGS[flag]}")
        if not arg.startswith("--"):
            raise ScenarioError(source, "server_args", f"{arg!r} is not a --flag (write flags as --name=value)")


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ScenarioError(path, None, "no such scenario file") from None
    except IsADirectoryError:
        raise ScenarioError(path, None, "is a directory, not a scenario file") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(path, None, f"not valid TOML: {e}") from None


def load(path: str | None, overrides: list[tuple[str, Any]] | None = None) -> Scenario:
    """Reads a scenario file (or none) and applies --set overrides in order. A [matrix] file is refused."""
    raw: dict[str, Any] = {}
    source = "--set"
    if path is not None:
        source = path
        raw = _read(path)
        if "matrix" in raw:
            n = len(load_cases(path, overrides))
            raise ScenarioError(path, "matrix", f"this file expands to {n} case(s); run it with ./memgate matrix {path}")
    return _apply_overrides(raw, source, path, overrides)


def _apply_overrides(raw: dict[str, Any], source: str, path: str | None,
                     overrides: list[tuple[str, Any]] | None, *, resolve_it: bool = True) -> Any:
    raw = dict(raw)
    for key, value in overrides or []:
        if "." in key:
            table, _, sub = key.partition(".")
            if table not in DOTTED_TABLES:
                raise ScenarioError("--set", key, f"only {' and '.join(f'{t}.<name>' for t in DOTTED_TABLES)} may use a dotted key")
            raw.setdefault(table, {})
            if not isinstance(raw[table], dict):
                raise ScenarioError(source, table, "expected a table")
            raw[table] = {**raw[table], sub: value}
        else:
            raw[key] = value
        if key not in KEYS and not key.startswith(tuple(f"{t}." for t in DOTTED_TABLES)):
            raise ScenarioError("--set", key, f"unknown key; known keys: {', '.join(KEYS)}")
    source = source + (" (with --set)" if path and overrides else "")
    if not resolve_it:
        return raw, source
    return resolve(raw, source, path)


# -- matrices ---------------------------------------------------------------------------------
def _case_name_error(value: Any) -> str | None:
    return _type_error("str", value) or _name(value)


def load_cases(path: str, overrides: list[tuple[str, Any]] | None = None) -> list[Scenario]:
    """Every case a file stands for: one Scenario for a plain file, the expanded matrix otherwise.

    --set overrides apply to the base keys and then win over the axes too (a way to run a
    whole matrix at small request counts).
    """
    raw = _read(path)
    matrix = raw.pop("matrix", None)
    base_raw, source = _apply_overrides(raw, path, path, overrides, resolve_it=False)
    if matrix is None:
        return [resolve(base_raw, source, path)]
    base_name = base_raw.get("name")
    if base_name is None:
        base_name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.splitext(os.path.basename(path))[0]) or "matrix"
    elif _case_name_error(base_name):
        raise ScenarioError(source, "name", _case_name_error(base_name))
    forced = {k for k, _ in overrides or []}
    out: list[Scenario] = []
    names: set[str] = set()
    try:
        expanded = expand_matrix(matrix, KEYS, _case_name_error)
    except MatrixError as e:
        raise ScenarioError(source, e.key, e.reason) from None
    for params in expanded:
        label = params.pop("name", None)
        case_raw = {**base_raw, **{k: v for k, v in params.items() if k not in forced}}
        if "endpoint" in params and "endpoints" in case_raw and "endpoints" not in params:
            del case_raw["endpoints"]  # an endpoint axis replaces the base file's mix
        if "endpoints" in params and "endpoint" in case_raw and "endpoint" not in params:
            del case_raw["endpoint"]
        case_raw["name"] = f"{base_name}.{label}" if label else case_name(base_name, params)
        where = f"{source} [matrix case {', '.join(f'{k}={v!r}' for k, v in params.items())}]"
        sc = resolve(case_raw, where, path)
        sc.params = {k: v for k, v in params.items() if k not in forced}  # what the matrix varies, as run
        if sc.name in names:
            raise ScenarioError(where, "matrix", f"two cases share the name {sc.name!r}")
        names.add(sc.name)
        out.append(sc)
    return out


def from_dict(raw: dict[str, Any], source: str = "<dict>") -> Scenario:
    return resolve(dict(raw), source, None)
