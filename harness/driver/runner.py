"""One scenario run, end to end: its replicates, each a fresh server measured in phases.

1. start: the target (harness/driver/targets/: refserver on a free loopback port with /healthz
   answered, a command memgate starts, or a server it attaches to), server and loadgen pinned apart,
   a target memgate starts in a memory cgroup of its own where one can be made (harness/driver/outside.py);
2. warm up: a loadgen run the measurement ignores (caches, pools and arenas fill), then a
   forced-trim /mem sample as the start point;
3. load: the measured loadgen run while a Sampler records the timeline;
4. sample: a final forced-trim /mem sample and the metrics (analysis/metrics.py); every sample
   also holds the target's process-tree figures (/proc) and its cgroup's;
5. stop: SIGTERM (SIGKILL after a bound), always, so a failed replicate leaves no server, and
   the cgroup removed; an attached server is left as it was.
The result dict (harness/driver/result.py) the caller writes atomically, also on failure or
an interrupt (Interrupted.result).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
import tempfile
import time
import uuid
from typing import Any, Callable

from analysis.metrics import compute_metrics
from harness.driver import loadgen, loopback, reaper
from harness.driver.binaries import MissingBinary, loadgen_binary
from harness.driver.ceiling import MemoryCeiling, ceiling_bytes
from harness.driver.cgroup import CgroupUnavailable
from harness.driver.interrupt import Interrupted
from harness.driver.processes import process_state
from harness.driver.result import build_result
from harness.driver.outside import OutsideMemory
from harness.driver.sampler import Sampler, requests_total
from harness.driver.scenario import Scenario
from harness.driver.server import ServerError, describe_exit
from harness.driver.targets.base import START_FAILURES
from harness.driver.targets.kinds import make_target
from harness.driver.tls import TlsSetupError, make_self_signed

RUN_ID_ENV = "MEMGATE_RUN_ID"


class MeasurementFailed(RuntimeError):
    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


@dataclasses.dataclass
class Hooks:
    """Optional callbacks, for tests and the pytest plugin."""
    on_server_started: Callable[[Any], None] | None = None  # each gets the target (targets/base.py)
    on_sample: Callable[[dict[str, Any], Any], None] | None = None
    # (argv, env) -> (argv, env) for the server only, e.g. a profiler's LD_PRELOAD or MALLOC_CONF (harness/profile).
    wrap_server: Callable[[list[str], dict[str, str]], tuple[list[str], dict[str, str]]] | None = None
    # "measure_start" after the start sample, "measure_end" after the end sample.
    on_phase: Callable[[str, Any], None] | None = None


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


def _sample_view(mem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mem.items() if k != "config"}


class Replicate:
    """One replicate, one method per phase: start, warm_up, load, sample, stop.

    ``rep`` is the replicate's record; each phase fills in its part, so a failure in any
    phase still leaves a record saying how far the run got. A phase that cannot go on
    raises; run_replicate turns the exception into the record's failure.
    """

    def __init__(self, config: dict[str, Any], index: int, hooks: Hooks, run_id: str):
        self.config, self.hooks = config, hooks
        self.rep: dict[str, Any] = {"index": index, "status": "failed", "failure": None, "warnings": [],
                                    "pids": {"server": None, "loadgen": []}}
        self.t0 = time.monotonic()
        self.env = dict(os.environ)
        self.env[RUN_ID_ENV] = run_id
        self.pinning = plan_pinning(config["pin"])
        self.rep["pinning"] = self.pinning
        self.server = None  # the target: RefServer, CommandTarget or AttachTarget
        self.outside: OutsideMemory | None = None
        self.run_id = run_id
        self.tls_dir: str | None = None
        self.sampler: Sampler | None = None
        self.watch: MemoryCeiling | None = None
        self.loadgen_bin = ""
        self.loopback_figures: dict[str, Any] | None = None
        self.start_sample: dict[str, Any] = {}
        self.report: dict[str, Any] = {}

    def _cpus(self, role: str) -> set[int] | None:
        return set(self.pinning[f"{role}_cpus"]) if self.pinning["enabled"] else None

    def start(self) -> None:
        """Binaries, the loopback baseline, TLS files; then the target, its memory ceiling watch and its pinning."""
        config, rep = self.config, self.rep
        if config["loopback_tcp_baseline"]:
            # Before the server starts, pinned as server (sender) and loadgen (receiver) will be.
            try:
                self.loopback_figures = loopback.measure(1.0, self._cpus("server"), self._cpus("loadgen"),
                                                         config["connections"])
            except loopback.LoopbackError as e:
                raise MeasurementFailed("loopback_baseline", str(e)) from None
            rep["loopback_tcp"] = self.loopback_figures
        tls_files = None
        if config["protocol"] == "h2-tls" and config["target"]["kind"] != "attach":
            self.tls_dir = tempfile.mkdtemp(prefix="memgate-tls-")
            tls_files = make_self_signed(self.tls_dir)
        attached = config["target"]["kind"] == "attach"
        # A server memgate did not start cannot be moved into a cgroup.
        outside = self.outside = OutsideMemory(
            None if attached else f"{self.run_id[:12]}-{rep['index']}-{uuid.uuid4().hex[:6]}")
        if outside.cgroup is not None:
            reaper.guard().track_cgroup(outside.cgroup)
        if outside.cgroup_unavailable:
            rep["warnings"].append(f"no memory cgroup for the target, so no cgroup figures: {outside.cgroup_unavailable}")
        server = self.server = make_target(config, self.env, self._cpus("server"), tls_files, self.hooks.wrap_server,
                                           join_cgroup=outside.join_cgroup())
        self.loadgen_bin = loadgen_binary()
        rep["server"] = {"argv": server.argv}
        server.start()
        outside.watch([server.pid])
        rep["cgroup"] = outside.describe()
        if server.signalled:  # the watch kills what outgrows the ceiling: never an attached server
            self.watch = MemoryCeiling(server.pid, ceiling_bytes(config))
            self.watch.start()
            rep["memory_ceiling_bytes"] = self.watch.limit_bytes
        rep["pids"]["server"] = server.pid
        rep["server"].update(server.record())
        if self.pinning["enabled"]:
            self.pinning["server_affinity"] = sorted(os.sched_getaffinity(server.pid))
        if self.hooks.on_server_started:
            self.hooks.on_server_started(server)

    def warm_up(self) -> None:
        """The warm-up run, then the forced-trim start sample once every client connection is gone."""
        config, rep, server = self.config, self.rep, self.server
        if config["warmup_requests"]:
            warm = self._run_loadgen(config["warmup_requests"], "warm-up")
            rep["warmup"] = {k: warm.get(k) for k in ("requests_completed", "requests_failed", "elapsed_s", "requests_per_s")}
        _wait_client_connections_closed(server, rep)
        start = self.start_sample = {**server.mem(trim=True), **self.outside.sample()}
        rep["allocator"] = {"name": start.get("allocator"), "version": start.get("allocator_version")}
        rep["server_config"] = start.get("config")
        rep["start_sample"] = _sample_view(start)
        if self.hooks.on_phase:
            self.hooks.on_phase("measure_start", server)

    def load(self) -> None:
        """The measured run while the Sampler records the timeline (and, with hold_connections, the held sample)."""
        config, rep, server = self.config, self.rep, self.server

        def sample_held(connections: int) -> None:
            rep["held_sample"] = {**_sample_view(server.mem(trim=True)), "connections_held": connections}

        if self.watch is not None:
            self.watch.reset_peak()
        sampler = self.sampler = Sampler(server, self.start_sample, config["sample_interval_ms"], hook=self.hooks.on_sample,
                                         probes=self.outside.probes())
        sampler.start()
        try:
            self.report = self._run_loadgen(config["requests"], "measured run",
                                            on_holding=sample_held if config["hold_connections"] else None)
        finally:
            sampler.stop()
            rep["timeline"] = sampler.timeline
            if sampler.errors:
                rep["sampler_errors"] = sampler.errors[-20:]
        if sampler.crash:
            raise MeasurementFailed("internal_error", f"sampler thread failed: {sampler.crash}")
        rep["loadgen"] = self.report

    def sample(self) -> None:
        """The forced-trim end sample, the replicate's metrics and its consistency warnings."""
        config, rep, server, report, start = self.config, self.rep, self.server, self.report, self.start_sample
        _wait_client_connections_closed(server, rep)
        end = {**server.mem(trim=True), **self.outside.sample()}
        rep["end_sample"] = _sample_view(end)
        rep["processes"] = self.outside.processes()
        if self.outside.errors:
            rep["warnings"].append(f"outside figures missing from a sample: {self.outside.errors[-1]}")
        if self.hooks.on_phase:
            self.hooks.on_phase("measure_end", server)
        if config["hold_connections"] and "held_sample" not in rep:
            raise MeasurementFailed("hold", "loadgen never reported holding its connections (no HOLDING line)")
        rep["metrics"] = compute_metrics(start, end, self.sampler.timeline, report, config,
                                         watched_peak_rss=self.watch.peak_rss_bytes if self.watch else 0, held=rep.get("held_sample"),
                                         loopback_bytes_per_s=(self.loopback_figures or {}).get("bytes_per_s"))
        if report.get("requests_failed"):
            rep["warnings"].append(f"{report['requests_failed']} client failures: {report.get('failures')}")
        # The server counts a response when it finishes; a cancelled one may never finish.
        served, completed = requests_total(end) - requests_total(start), report.get("requests_completed", 0)
        if server.counts_requests and not completed - report.get("requests_cancelled", 0) <= served <= completed:
            rep["warnings"].append(f"server counted {served} requests, loadgen completed {completed} "
                                   f"({report.get('requests_cancelled', 0)} of them cancelled)")
        rep["status"] = "ok"

    def fail(self, e: Exception) -> None:
        """The record's failure for an exception out of a phase."""
        server, rep = self.server, self.rep
        if isinstance(e, MissingBinary):
            rep["failure"] = {"kind": "missing_binary", "message": str(e)}
        elif isinstance(e, TlsSetupError):
            rep["failure"] = {"kind": "tls_setup", "message": str(e)}
        elif isinstance(e, ServerError):
            kind = e.kind if server is None or server.alive() or e.kind in START_FAILURES else "server_died"
            msg = str(e)
            if kind == "server_died" and "exited" not in msg:
                msg += f"; server exited with {describe_exit(server.returncode)}"
            rep["failure"] = {"kind": kind, "message": msg}
        elif isinstance(e, MeasurementFailed):
            rep["failure"] = {"kind": e.kind, "message": str(e)}
        else:  # a driver bug still leaves a result file that says so
            rep["failure"] = {"kind": "internal_error", "message": f"{type(e).__name__}: {e}"}

    def stop(self) -> None:
        """Always runs: the sampler and the ceiling watch stop, the server gets SIGTERM (SIGKILL after a bound)."""
        rep, server = self.rep, self.server
        if self.sampler is not None and self.sampler.is_alive():
            self.sampler.stop()
        if self.watch is not None:
            self.watch.stop()
            if self.watch.exceeded:  # whatever else failed after it, the ceiling is why
                rep["status"] = "failed"
                rep["failure"] = {"kind": "memory_ceiling", "message": self.watch.message(), **self.watch.exceeded}
        if server is not None and server.pid is not None:
            was_alive = server.alive()
            code = server.stop()
            rep.setdefault("server", {})
            rep["server"].update({"exit_code": code, "exit": describe_exit(code) if server.signalled else "left running (attached)",
                                  "stopped_by_driver": was_alive and server.signalled, "stderr_tail": server.stderr_tail()})
            if server.signalled and was_alive and code not in server.clean_exit_codes and rep["status"] == "ok":
                rep["warnings"].append(f"server did not exit cleanly on SIGTERM: {describe_exit(code)}")
        if server is not None:
            server.cleanup()
        if self.outside is not None:
            try:
                self.outside.close()
                if self.outside.cgroup is not None:
                    reaper.guard().release_cgroup(self.outside.cgroup)
            except CgroupUnavailable as e:
                rep["warnings"].append(str(e))
        if self.tls_dir:
            shutil.rmtree(self.tls_dir, ignore_errors=True)
        rep["wall_s"] = round(time.monotonic() - self.t0, 3)

    def _note_loadgen(self, pid: int) -> None:
        self.rep["pids"]["loadgen"].append(pid)
        if self.pinning["enabled"]:
            _wait_exec_past_taskset(pid)
            try:
                self.pinning["loadgen_affinity"] = sorted(os.sched_getaffinity(pid))
            except OSError:
                pass

    def _run_loadgen(self, requests: int, phase: str, on_holding=None) -> dict[str, Any]:
        config, server = self.config, self.server
        argv = loadgen.argv_for(self.loadgen_bin, config, server.port, requests, hold=on_holding is not None)
        try:
            report = loadgen.run(argv, env=self.env, cpus=self._cpus("loadgen"), time_limit_s=config["time_limit_s"],
                                 on_start=self._note_loadgen, on_holding=on_holding)
        except loadgen.LoadgenError as e:
            _raise_if_server_gone(server, phase)
            raise MeasurementFailed(f"loadgen_{e.kind}", f"{phase}: {e}") from None
        _raise_if_server_gone(server, phase)
        if report.get("time_limit_hit"):
            state = process_state(server.pid)
            hint = " (the server is stopped: SIGSTOP?)" if state == "T" else " (the server is alive but did not keep up: hung?)"
            raise MeasurementFailed("time_limit", f"{phase}: loadgen hit time_limit_s={config['time_limit_s']:g} with "
                                    f"{report.get('requests_completed')} of {requests} requests done{hint}")
        return report


def run_replicate(config: dict[str, Any], index: int, hooks: Hooks, run_id: str) -> dict[str, Any]:
    """The replicate's record; Interrupted goes on, carrying the record, once the replicate stopped."""
    run = Replicate(config, index, hooks, run_id)
    try:
        run.start()
        run.warm_up()
        run.load()
        run.sample()
    except Exception as e:  # every failure becomes the record's; Replicate.fail tells them apart
        run.fail(e)
    except Interrupted as e:
        run.rep["failure"] = e.failure()
        e.replicate = run.rep
        raise
    finally:
        run.stop()
    return run.rep


def _wait_client_connections_closed(server, rep: dict[str, Any], timeout_s: float = 10.0) -> None:
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


def _raise_if_server_gone(server, phase: str) -> None:
    if not server.alive():
        code = server.returncode
        # Nothing in memgate SIGKILLs the server mid-run except the memory ceiling, checked first.
        hint = " (SIGKILL from outside: the kernel's OOM killer? see dmesg)" if code == -9 else ""
        raise MeasurementFailed("server_died", f"{phase}: the server died ({describe_exit(code)}){hint}; "
                                f"stderr tail: {server.stderr_tail(800).strip() or '(empty)'}")


def run_scenario(scenario: Scenario, *, repeat: int | None = None, hooks: Hooks | None = None,
                 run_id: str | None = None) -> dict[str, Any]:
    """All replicates of a scenario; stops at the first failed one. Never raises for a failed measurement;
    inside interrupt.interruptible() a signal raises Interrupted with the failed result so far attached."""
    config = dict(scenario.config)
    if repeat is not None:
        config["repeat"] = repeat
    hooks = hooks or Hooks()
    # MEMGATE_RUN_ID from the environment lets a caller find this run's children (tests do).
    run_id = run_id or os.environ.get(RUN_ID_ENV) or uuid.uuid4().hex
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    replicates: list[dict[str, Any]] = []
    try:
        reaper.guard()  # before the first child (the loopback pair): every child carries the driver's mark
        for i in range(config["repeat"]):
            try:
                rep = run_replicate(config, i, hooks, run_id)
            except Interrupted as e:
                if e.replicate is not None:
                    replicates.append(e.replicate)
                raise
            replicates.append(rep)
            if rep["status"] != "ok":
                break
        return build_result(scenario, config, replicates, run_id, started, t0)
    except Interrupted as e:  # what was measured so far, for the caller to write
        e.result = build_result(scenario, config, replicates, run_id, started, t0, interrupted=e)
        raise
