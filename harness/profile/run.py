"""A scenario run with allocation-site profiling, and the profiler's throughput overhead.

The run is the driver's own (harness.driver.runner.run_scenario, one replicate); the profiler
(a harness/profile/backend.py Profiler) enters through `Hooks.wrap_server` (LD_PRELOAD for
heaptrack, MALLOC_CONF for jemalloc) and the measured window through `Hooks.on_phase`. Figures
are per site (the innermost memgate:: or nghttp2 frame) for the measured run only.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from typing import Any, Callable

from analysis.profile import build_profile
from harness.driver import scenario as scenario_mod
from harness.driver.runner import Hooks, run_scenario
from harness.profile.backend import Profiler
from harness.profile.heaptrack import HeaptrackProfiler
from harness.profile.jemalloc_prof import JemallocProfiler
from harness.profile.sites import has_debug_info

PROFILERS: dict[str, type[Profiler]] = {"heaptrack": HeaptrackProfiler, "jemalloc": JemallocProfiler}


class ProfileError(RuntimeError):
    pass


# profile.json of a profile a signal stopped before its sites were collected (--against refuses it).
INTERRUPTED_KIND = "memgate-profile-interrupted"


def default_profiler(allocator: str) -> str:
    return "jemalloc" if allocator == "jemalloc" else "heaptrack"


def _backend(profiler: str) -> type[Profiler]:
    try:
        return PROFILERS[profiler]
    except KeyError:
        raise ProfileError(f"unknown profiler {profiler!r} (one of {', '.join(PROFILERS)})") from None


def _symbolization(binary: str | None) -> str:
    dbg = has_debug_info(binary) if binary else None
    nghttp2 = ("Debian's libnghttp2 is stripped to its exported symbols, so an internal nghttp2 function shows as the "
               "nearest exported one (libnghttp2-14-dbgsym would fix that)")
    if dbg:
        return ("functions, file:line and inlined frames from the binary's DWARF (MEMGATE_DEBUG_INFO, -g1 by default); "
                + nghttp2)
    if dbg is False:
        return ("function names only (from .symtab): this binary has no DWARF (built with MEMGATE_DEBUG_INFO=none?), "
                "so no file:line and no inlined frames (e.g. strategy::fresh_buffer shows as its h2 caller "
                "http2::session::send_body); " + nghttp2)
    return "unknown (readelf unavailable)"


def _config_text(cfg: dict[str, Any]) -> str:
    return (f"{cfg['protocol']}, {cfg['allocator']}, copy={cfg['copy']}, {cfg['method']} {cfg['endpoint']}, "
            f"server_args={cfg['server_args']}, {cfg['requests']} requests")


def profile_run(sc: scenario_mod.Scenario, profiler: str, workdir: str, *, label: str | None = None,
                progress: Callable[[str], None] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One profiled replicate; returns (profile, driver result)."""
    say = progress or (lambda s: None)
    backend = _backend(profiler)
    os.makedirs(workdir, exist_ok=True)
    prof = backend(workdir, sc.name)
    say(f"profiling {sc.name} under {profiler} ...")
    try:
        result = run_scenario(sc, repeat=1, hooks=Hooks(wrap_server=prof.wrap, on_phase=prof.on_phase))
    finally:
        prof.close()
    if result["status"] != "ok":
        f = result["failure"] or {}
        raise ProfileError(f"profiled run failed ({f.get('kind')}): {f.get('message')}; "
                           f"server stderr: {(f.get('server_stderr_tail') or '').strip()[-300:]}")
    requests = int(result["metrics"]["requests_completed"])
    argv = (result["replicates"][0].get("server") or {}).get("argv") or []
    binary = next((a for a in argv if os.path.basename(a).startswith("refserver-")), argv[0] if argv else None)
    meta: dict[str, Any] = {
        "label": label or sc.name, "scenario": sc.name, "config": result["config"],
        "config_text": _config_text(result["config"]), "requests": requests,
        "requests_per_s": result["metrics"]["requests_per_s"],
        "symbolization": _symbolization(binary), "debug_info": has_debug_info(binary) if binary else None,
        "binary": binary, "run_id": result["run_id"],
    }
    rows, profiler_meta = prof.collect(result, requests)
    meta.update(profiler_meta)
    return build_profile(meta, rows), result


def measure_overhead(sc: scenario_mod.Scenario, profiler: str, workdir: str, profiled_rps: float | None,
                     runs: int = 3) -> dict[str, Any]:
    """Throughput with / without the profiler: `runs` plain runs and `runs - 1` more profiled ones, interleaved
    (the profile's own run is the first profiled one); the ratio of the medians."""
    backend = _backend(profiler)
    plain: list[float] = []
    profiled: list[float] = [profiled_rps] if profiled_rps else []
    for i in range(runs):
        r = run_scenario(sc, repeat=1)
        if r["status"] != "ok":
            return {"note": f"plain run failed: {(r['failure'] or {}).get('message')}"}
        plain.append(r["metrics"]["requests_per_s"])
        if i == runs - 1:
            break
        with tempfile.TemporaryDirectory(prefix="memgate-overhead-", dir=workdir) as tmp:
            prof = backend(tmp, sc.name, windowed=False)
            try:
                r = run_scenario(sc, repeat=1, hooks=Hooks(wrap_server=prof.wrap))
            finally:
                prof.close()
        if r["status"] == "ok":
            profiled.append(r["metrics"]["requests_per_s"])
    p, q = statistics.median(profiled), statistics.median(plain)
    return {"plain_rps": q, "profiled_rps": p, "ratio": (p / q) if p and q else None,
            "plain_rps_runs": plain, "profiled_rps_runs": profiled,
            "note": f"median of {len(profiled)} profiled and {len(plain)} plain runs of the same scenario, interleaved; "
                    "ratio = throughput with / without the profiler (the heaptrack figure includes writing its raw "
                    "stream, not the later interpretation)"}
