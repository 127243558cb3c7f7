"""One scenario run, end to end: the five steps of issue 4, for each replicate.

1. start refserver on a free loopback port, wait for /healthz, pin server and loadgen apart;
2. warm-up loadgen run, then a forced-trim /mem sample as the start point;
3. the measured loadgen run while a Sampler records the timeline;
4. a final forced-trim /mem sample, then SIGTERM (SIGKILL after a bound);
5. the result dict (written by the caller, atomically, also on failure).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import statistics
import tempfile
import time
import uuid
from typing import Any, Callable

from harness.driver import SCHEMA_VERSION, VERSION, fit, loadgen, loopback
from harness.driver.binaries import MissingBinary, loadgen_binary, server_binary
from harness.driver.ceiling import MemoryCeiling, ceiling_bytes
from harness.driver.machine import commit_info, machine_info
from harness.driver.sampler import Sampler, requests_total
from harness.driver.scenario import Scenario
from harness.driver.server import RefServer, ServerError, describe_exit
from harness.driver.tls import TlsSetupError, make_self_signed

RUN_ID_ENV = "MEMGATE_RUN_ID"


class MeasurementFailed(RuntimeError):
    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


@dataclasses.dataclass
class Hooks:
    """Optional callbacks, for tests and the pytest plugin."""
    on_server_started: Callable[[RefServer], None] | None = None
    on_sample: Callable[[dict[str, Any], RefServer], None] | None = None
    # (argv, env) -> (argv, env) for the server only, e.g. a profiler's LD_PRELOAD or MALLOC_CONF (harness/profile).
    wrap_server: Callable[[list[str], dict[str, str]], tuple[list[str], dict[str, str]]] | None = None
    # "measure_start" after the start sample, "measure_end" after the end sample.
    on_phase: Callable[[str, RefServer], None] | None = None


def plan_pinning(pin: bool) -> dict[str, Any]:
    try:
        usable = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = []
    if not pin:
        return {"enabled": False, "reason": "pin = false", "server_cpus": None, "loadgen_cpus": None}
    if len(usable) < 2:
        return {"enabled": False, "reason": f"{len(usable)} usable CPU(s); pinning needs 2", "server_cpus": None, "loadgen_cpus": None}
    return {"enabled": True, "reason": None, "server_cpus": [usable[0]], "loadgen_cpus": [usable[1]]}


def server_argv(binary: str, config: dict[str, Any], tls_files: tuple[str, str] | None) -> list[str]:
    argv = [binary, "--host", "127.0.0.1", "--port", "0", "--threads", str(config["server_threads"]),
            f"--copy={config['copy']}", f"--request-body={config['request_body']}", *config["server_args"]]
    if tls_files:
        argv += ["--tls-cert", tls_files[0], "--tls-key", tls_files[1]]
    return argv


def _process_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _sample_view(mem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mem.items() if k != "config"}


def _per(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def in_flight(config: dict[str, Any]) -> int:
    """Requests a scenario keeps in flight at once: connections x streams (h2) or x pipeline depth (h1)."""
    depth = config["pipeline"] if config["protocol"] == "h1" else config["streams"]
    return config["connections"] * depth


def compute_metrics(start: dict[str, Any], end: dict[str, Any], timeline: list[dict[str, Any]],
                    report: dict[str, Any], config: dict[str, Any], *, watched_peak_rss: int = 0,
                    held: dict[str, Any] | None = None, loopback_bytes_per_s: float | None = None) -> dict[str, Any]:
    """Deltas, per-request growth and per-response counters from two /mem samples, a timeline and loadgen's report.

    Normalised figures divide by what a scenario scales: connections, requests in flight,
    connections held idle (hold_connections), and the loopback TCP limit for throughput.
    """
    served = {p: int(end["requests"].get(p, 0)) - int(start["requests"].get(p, 0)) for p in ("h1", "h2")}
    served_total = served["h1"] + served["h2"]
    completed = int(report.get("requests_completed", 0))
    live_heap_delta = end["live_heap_bytes"] - start["live_heap_bytes"]
    rss_delta = end["rss_bytes"] - start["rss_bytes"]
    timeline_peak = max((p["rss_bytes"] for p in timeline if p.get("rss_bytes") is not None), default=0)
    peak = max(timeline_peak, watched_peak_rss, end.get("rss_before_trim_bytes", 0))
    peak_growth = peak - start["rss_bytes"]
    moved = report.get("bytes_received", 0) + report.get("bytes_sent", 0)  # uploads send, downloads receive
    moved_per_s = _per(moved, report.get("elapsed_s"))
    held_count = int(held["connections_held"]) if held else None
    latency = report.get("latency_us") or {}

    def counter_delta(name: str) -> int | None:
        if name in end and name in start:
            return int(end[name]) - int(start[name])
        return None

    def charged_delta(protocol: str, field: str) -> int | None:
        """Allocations made while that protocol's code ran (the server's allocations_by_protocol)."""
        before = (start.get("allocations_by_protocol") or {}).get(protocol)
        after = (end.get("allocations_by_protocol") or {}).get(protocol)
        return int(after[field]) - int(before[field]) if before and after else None

    return {
        "requests_completed": completed,
        "client_failures": int(report.get("requests_failed", 0)),
        "server_requests": served,
        "per_protocol": report.get("per_protocol"),
        "live_heap_delta_bytes": live_heap_delta,
        "rss_delta_bytes": rss_delta,
        "rss_anon_delta_bytes": end.get("rss_anon_bytes", 0) - start.get("rss_anon_bytes", 0),
        "rss_before_trim_delta_bytes": end.get("rss_before_trim_bytes", end["rss_bytes"]) - start["rss_bytes"],
        "peak_rss_bytes": peak,
        "peak_rss_growth_bytes": peak_growth,
        "peak_rss_growth_per_connection_bytes": _per(peak_growth, config["connections"]),
        "peak_rss_growth_per_stream_bytes": _per(peak_growth, in_flight(config)),
        "held_connections": held_count,
        "rss_per_held_connection_bytes": _per(held["rss_bytes"] - start["rss_bytes"], held_count) if held else None,
        "live_heap_per_held_connection_bytes": (
            _per(held["live_heap_bytes"] - start["live_heap_bytes"], held_count) if held else None),
        "vm_hwm_bytes": end.get("vm_hwm_bytes"),
        "live_heap_bytes_per_request": _per(live_heap_delta, completed),
        "rss_bytes_per_request": _per(rss_delta, completed),
        "growth_per_request": {
            "rss_bytes": fit.growth_per_request(timeline, "rss_bytes"),
            "rss_anon_bytes": fit.growth_per_request(timeline, "rss_anon_bytes"),
            "live_heap_bytes": fit.growth_per_request(timeline, "live_heap_bytes"),
        },
        "allocations_per_request": _per(counter_delta("allocations"), served_total),
        "allocated_bytes_per_request": _per(counter_delta("allocated_bytes"), served_total),
        # The same, charged to the protocol whose code allocated, per request of that protocol;
        # the rest of allocations_per_request (accept, TLS handshake, /mem) is unattributed.
        "allocations_per_request_by_protocol": {
            p: {"allocations": _per(charged_delta(p, "allocations"), served[p]),
                "allocated_bytes": _per(charged_delta(p, "allocated_bytes"), served[p])}
            for p in ("h1", "h2") if served[p]},
        "write_calls_per_response": _per(counter_delta("write_calls"), served_total),
        "bytes_copied_per_response": _per(counter_delta("bytes_copied"), served_total),
        "bytes_written_per_response": _per(counter_delta("bytes_written"), served_total),
        "leaked_bytes_delta": counter_delta("leaked_bytes"),
        "requests_cancelled": report.get("requests_cancelled"),
        "requests_per_s": report.get("requests_per_s"),
        "transfer_bytes_per_s": moved_per_s,
        "loopback_tcp_bytes_per_s": loopback_bytes_per_s,
        "throughput_vs_loopback": _per(moved_per_s, loopback_bytes_per_s),
        "latency_p50_us": latency.get("p50"),
        "latency_p99_us": latency.get("p99"),
        "elapsed_s": report.get("elapsed_s"),
        "timeline_points": len(timeline),
    }


def run_replicate(config: dict[str, Any], index: int, hooks: Hooks, run_id: str) -> dict[str, Any]:
    rep: dict[str, Any] = {"index": index, "status": "failed", "failure": None, "warnings": [],
                           "pids": {"server": None, "loadgen": []}}
    t0 = time.monotonic()
    env = dict(os.environ)
    env[RUN_ID_ENV] = run_id
    pinning = plan_pinning(config["pin"])
    rep["pinning"] = pinning
    server: RefServer | None = None
    tls_dir: str | None = None
    sampler: Sampler | None = None
    watch: MemoryCeiling | None = None
    try:
        server_bin = server_binary(config["allocator"])
        loadgen_bin = loadgen_binary()
        loopback_figures = None
        if config["loopback_tcp_baseline"]:
            # Before the server starts, pinned as server (sender) and loadgen (receiver) will be.
            try:
                loopback_figures = loopback.measure(
                    1.0, set(pinning["server_cpus"]) if pinning["enabled"] else None,
                    set(pinning["loadgen_cpus"]) if pinning["enabled"] else None, config["connections"])
            except loopback.LoopbackError as e:
                raise MeasurementFailed("loopback_baseline", str(e)) from None
            rep["loopback_tcp"] = loopback_figures
        tls_files = None
        if config["protocol"] == "h2-tls":
            tls_dir = tempfile.mkdtemp(prefix="memgate-tls-")
            tls_files = make_self_signed(tls_dir)
        srv_argv, srv_env = server_argv(server_bin, config, tls_files), env
        if hooks.wrap_server:
            srv_argv, srv_env = hooks.wrap_server(list(srv_argv), dict(env))
        server = RefServer(srv_argv, tls=tls_files is not None, env=srv_env,
                           cpus=set(pinning["server_cpus"]) if pinning["enabled"] else None)
        rep["server"] = {"argv": server.argv}
        server.start()
        watch = MemoryCeiling(server.pid, ceiling_bytes(config))
        watch.start()
        rep["memory_ceiling_bytes"] = watch.limit_bytes
        rep["pids"]["server"] = server.pid
        rep["server"].update({"pid": server.pid, "port": server.port})
        if pinning["enabled"]:
            pinning["server_affinity"] = sorted(os.sched_getaffinity(server.pid))
        if hooks.on_server_started:
            hooks.on_server_started(server)

        lg_cpus = set(pinning["loadgen_cpus"]) if pinning["enabled"] else None

        def note_loadgen(pid: int) -> None:
            rep["pids"]["loadgen"].append(pid)
            if pinning["enabled"]:
                _wait_exec_past_taskset(pid)
                try:
                    pinning["loadgen_affinity"] = sorted(os.sched_getaffinity(pid))
                except OSError:
                    pass

        def run_loadgen(requests: int, phase: str, on_holding=None) -> dict[str, Any]:
            argv = loadgen.argv_for(loadgen_bin, config, server.port, requests, hold=on_holding is not None)
            try:
                report = loadgen.run(argv, env=env, cpus=lg_cpus, time_limit_s=config["time_limit_s"],
                                     on_start=note_loadgen, on_holding=on_holding)
            except loadgen.LoadgenError as e:
                _raise_if_server_gone(server, phase)
                raise MeasurementFailed(f"loadgen_{e.kind}", f"{phase}: {e}") from None
            _raise_if_server_gone(server, phase)
            if report.get("time_limit_hit"):
                state = _process_state(server.pid)
                hint = " (the server is stopped: SIGSTOP?)" if state == "T" else " (the server is alive but did not keep up: hung?)"
                raise MeasurementFailed("time_limit", f"{phase}: loadgen hit time_limit_s={config['time_limit_s']:g} with "
                                        f"{report.get('requests_completed')} of {requests} requests done{hint}")
            return report

        if config["warmup_requests"]:
            warm = run_loadgen(config["warmup_requests"], "warm-up")
            rep["warmup"] = {k: warm.get(k) for k in ("requests_completed", "requests_failed", "elapsed_s", "requests_per_s")}

        _wait_client_connections_closed(server, rep)
        start = server.mem(trim=True)
        rep["allocator"] = {"name": start.get("allocator"), "version": start.get("allocator_version")}
        rep["server_config"] = start.get("config")
        rep["start_sample"] = _sample_view(start)
        if hooks.on_phase:
            hooks.on_phase("measure_start", server)

        def sample_held(connections: int) -> None:
            rep["held_sample"] = {**_sample_view(server.mem(trim=True)), "connections_held": connections}

        watch.reset_peak()
        sampler = Sampler(server, start, config["sample_interval_ms"], hook=hooks.on_sample)
        sampler.start()
        try:
            report = run_loadgen(config["requests"], "measured run",
                                 on_holding=sample_held if config["hold_connections"] else None)
        finally:
            sampler.stop()
            rep["timeline"] = sampler.timeline
            if sampler.errors:
                rep["sampler_errors"] = sampler.errors[-20:]
        if sampler.crash:
            raise MeasurementFailed("internal_error", f"sampler thread failed: {sampler.crash}")
        rep["loadgen"] = report
        _wait_client_connections_closed(server, rep)
        end = server.mem(trim=True)
        rep["end_sample"] = _sample_view(end)
        if hooks.on_phase:
            hooks.on_phase("measure_end", server)
        if config["hold_connections"] and "held_sample" not in rep:
            raise MeasurementFailed("hold", "loadgen never reported holding its connections (no HOLDING line)")
        rep["metrics"] = compute_metrics(start, end, sampler.timeline, report, config,
                                         watched_peak_rss=watch.peak_rss_bytes, held=rep.get("held_sample"),
                                         loopback_bytes_per_s=(loopback_figures or {}).get("bytes_per_s"))
        if report.get("requests_failed"):
            rep["warnings"].append(f"{report['requests_failed']} client failures: {report.get('failures')}")
        # The server counts a response when it finishes; a cancelled one may never finish.
        served, completed = requests_total(end) - requests_total(start), report.get("requests_completed", 0)
        if not completed - report.get("requests_cancelled", 0) <= served <= completed:
            rep["warnings"].append(f"server counted {served} requests, loadgen completed {completed} "
                                   f"({report.get('requests_cancelled', 0)} of them cancelled)")
        rep["status"] = "ok"
    except MissingBinary as e:
        rep["failure"] = {"kind": "missing_binary", "message": str(e)}
    except TlsSetupError as e:
        rep["failure"] = {"kind": "tls_setup", "message": str(e)}
    except ServerError as e:
        kind = e.kind if server is None or server.alive() else "server_died"
        msg = str(e)
        if kind == "server_died" and "exited" not in msg:
            msg += f"; server exited with {describe_exit(server.proc.returncode)}"
        rep["failure"] = {"kind": kind, "message": msg}
    except MeasurementFailed as e:
        rep["failure"] = {"kind": e.kind, "message": str(e)}
    except Exception as e:  # a driver bug still leaves a result file that says so
        rep["failure"] = {"kind": "internal_error", "message": f"{type(e).__name__}: {e}"}
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        if watch is not None:
            watch.stop()
            if watch.exceeded:  # whatever else failed after it, the ceiling is why
                rep["status"] = "failed"
                rep["failure"] = {"kind": "memory_ceiling", "message": watch.message(), **watch.exceeded}
        if server is not None and server.proc is not None:
            was_alive = server.alive()
            code = server.stop()
            rep.setdefault("server", {})
            rep["server"].update({"exit_code": code, "exit": describe_exit(code), "stopped_by_driver": was_alive,
                                  "stderr_tail": server.stderr_tail()})
            if was_alive and code != 0 and rep["status"] == "ok":
                rep["warnings"].append(f"server did not exit cleanly on SIGTERM: {describe_exit(code)}")
            server.cleanup()
        if tls_dir:
            shutil.rmtree(tls_dir, ignore_errors=True)
        rep["wall_s"] = round(time.monotonic() - t0, 3)
    return rep


def _wait_client_connections_closed(server: RefServer, rep: dict[str, Any], timeout_s: float = 10.0) -> None:
    """loadgen has exited, but the server may not have seen every close yet (10k held
    connections take a moment): a sample taken now would count their memory as growth."""
    deadline = time.monotonic() + timeout_s
    while True:
        open_now = int(((server.mem(trim=False).get("connections") or {}).get("open", 1)))
        if open_now <= 1:  # the /mem request's own connection
            return
        if time.monotonic() > deadline:
            rep["warnings"].append(f"{open_now - 1} client connection(s) still open at the server {timeout_s:g} s "
                                   "after loadgen exited; the sample counts them")
            return
        time.sleep(0.02)


def _wait_exec_past_taskset(pid: int, timeout_s: float = 1.0) -> None:
    """taskset sets the mask and then execs: read the affinity back only after that exec."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                first = f.read().split(b"\0", 1)[0]
        except OSError:
            return
        if first and not first.endswith(b"taskset"):  # empty: mid-exec
            return
        time.sleep(0.001)


def _raise_if_server_gone(server: RefServer, phase: str) -> None:
    if not server.alive():
        code = server.proc.returncode
        # Nothing in memgate SIGKILLs the server mid-run except the memory ceiling, checked first.
        hint = " (SIGKILL from outside: the kernel's OOM killer? see dmesg)" if code == -9 else ""
        raise MeasurementFailed("server_died", f"{phase}: the server died ({describe_exit(code)}){hint}; "
                                f"stderr tail: {server.stderr_tail(800).strip() or '(empty)'}")


# -- replicates -----------------------------------------------------------------------------
def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = v
    return out


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in flat.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


def median_metrics(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each numeric metric over replicates; keys with None in every replicate stay None."""
    flats = [_flatten(m) for m in metrics]
    keys = sorted({k for f in flats for k in f} | {k for m in metrics for k in _none_keys(m)})
    merged: dict[str, Any] = {}
    for k in keys:
        values = [f[k] for f in flats if k in f]
        merged[k] = statistics.median(values) if values else None
    return _unflatten(merged)


def _none_keys(d: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _none_keys(v, f"{prefix}{k}.")
        elif v is None:
            out.append(f"{prefix}{k}")
    return out


def noise(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """Per metric: min, max and range over replicates (empty with fewer than 2)."""
    if len(metrics) < 2:
        return {}
    flats = [_flatten(m) for m in metrics]
    out = {}
    for k in sorted({k for f in flats for k in f}):
        values = [f[k] for f in flats if k in f]
        if len(values) >= 2:
            out[k] = {"min": min(values), "max": max(values), "range": max(values) - min(values)}
    return out


def run_scenario(scenario: Scenario, *, repeat: int | None = None, hooks: Hooks | None = None,
                 run_id: str | None = None) -> dict[str, Any]:
    """All replicates of a scenario; stops at the first failed one. Never raises for a failed measurement."""
    config = dict(scenario.config)
    if repeat is not None:
        config["repeat"] = repeat
    hooks = hooks or Hooks()
    # MEMGATE_RUN_ID from the environment lets a caller find this run's children (tests do).
    run_id = run_id or os.environ.get(RUN_ID_ENV) or uuid.uuid4().hex
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    replicates: list[dict[str, Any]] = []
    for i in range(config["repeat"]):
        rep = run_replicate(config, i, hooks, run_id)
        replicates.append(rep)
        if rep["status"] != "ok":
            break
    ok = [r for r in replicates if r["status"] == "ok"]
    failed = next((r for r in replicates if r["status"] != "ok"), None)
    result: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": "memgate",
        "version": VERSION,
        "status": "ok" if failed is None else "failed",
        "failure": None,
        "run_id": run_id,
        "datetime": started.isoformat(timespec="seconds"),
        "wall_s": None,
        "scenario": {"name": config["name"], "description": config["description"], "path": scenario.path,
                     "source": scenario.source},
        "config": config,
        "commit_info": commit_info(),
        "machine_info": machine_info(),
        "allocator": (ok[0] if ok else {}).get("allocator"),
        "pinning": replicates[0]["pinning"] if replicates else None,
        "warnings": sorted({w for r in replicates for w in r.get("warnings", [])}),
        "metrics": median_metrics([r["metrics"] for r in ok]) if ok else None,
        "noise": noise([r["metrics"] for r in ok]),
        "replicates": replicates,
    }
    if failed is not None:
        result["failure"] = {**failed["failure"], "replicate": failed["index"],
                             "server_stderr_tail": (failed.get("server") or {}).get("stderr_tail", "")}
    result["wall_s"] = round(time.monotonic() - t0, 3)
    return result
