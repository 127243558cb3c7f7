"""`./memgate profile`: a scenario run with allocation-site profiling (issue 7).

The run is the driver's own (harness.driver.runner.run_scenario, one replicate); the
profiler enters through `Hooks.wrap_server` (LD_PRELOAD for heaptrack, MALLOC_CONF for
jemalloc) and the measured window through `Hooks.on_phase`. Figures are per site
(the innermost memgate:: or nghttp2 frame) for the measured run only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from typing import Any, Callable

from harness.driver import scenario as scenario_mod
from harness.driver.runner import Hooks, run_scenario
from harness.profile import report

PROFILERS = ("heaptrack", "jemalloc")


class ProfileError(RuntimeError):
    pass


def default_profiler(allocator: str) -> str:
    return "jemalloc" if allocator == "jemalloc" else "heaptrack"


def _symbolization(binary: str | None) -> str:
    dbg = report.has_debug_info(binary) if binary else None
    nghttp2 = ("Debian's libnghttp2 is stripped to its exported symbols, so an internal nghttp2 function shows as the "
               "nearest exported one (libnghttp2-14-dbgsym would fix that)")
    if dbg:
        return ("functions, file:line and inlined frames from the binary's DWARF (MEMGATE_DEBUG_INFO, -g1 by default); "
                + nghttp2)
    if dbg is False:
        return ("function names only (from .symtab): this binary has no DWARF (built with MEMGATE_DEBUG_INFO=none?), "
                "so no file:line and no inlined frames (e.g. strategy::fresh_buffer shows as its h2 caller "
                "http2::session::send_body_buffered); " + nghttp2)
    return "unknown (readelf unavailable)"


def _config_text(cfg: dict[str, Any]) -> str:
    return (f"{cfg['protocol']}, {cfg['allocator']}, copy={cfg['copy']}, {cfg['method']} {cfg['endpoint']}, "
            f"server_args={cfg['server_args']}, {cfg['requests']} requests")


def profile_run(sc: scenario_mod.Scenario, profiler: str, workdir: str, *, label: str | None = None,
                progress: Callable[[str], None] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One profiled replicate; returns (profile, driver result)."""
    say = progress or (lambda s: None)
    os.makedirs(workdir, exist_ok=True)
    marks: dict[str, float] = {}
    dumps = None  # jemalloc: the window-dump FIFO
    if profiler == "heaptrack":
        from harness.profile import heaptrack as prof
        raw = os.path.join(workdir, f"heaptrack.{sc.name}.raw")
        if os.path.exists(raw):
            os.unlink(raw)

        def wrap(argv, env):
            marks["spawn"] = time.monotonic()
            return prof.wrap(argv, env, raw)
    elif profiler == "jemalloc":
        from harness.profile import jemalloc_prof as prof
        prefix = os.path.join(workdir, f"jeprof.{sc.name}")
        prof.clean(prefix)
        window_files = (f"{prefix}.window-start.heap", f"{prefix}.window-end.heap")
        problems: list[str] = []
        try:
            prof.ctl_library()
            dumps = prof.WindowDumps(workdir, sc.name)
        except (prof.JemallocProfError, OSError) as e:
            problems.append(str(e))

        def wrap(argv, env):
            marks["spawn"] = time.monotonic()
            return prof.wrap(argv, env, prefix, ctl_fifo=dumps.fifo if dumps else None)
    else:
        raise ProfileError(f"unknown profiler {profiler!r} (one of {', '.join(PROFILERS)})")

    def on_phase(name, server):
        marks[name] = time.monotonic()
        if profiler == "heaptrack":
            marks[name + "_ht"] = prof.idle_mark(marks["spawn"])
        elif dumps is not None and not problems:
            try:
                dumps.dump(window_files[0 if name == "measure_start" else 1])
            except (prof.JemallocProfError, OSError) as e:
                problems.append(f"{name} dump: {e}")

    say(f"profiling {sc.name} under {profiler} ...")
    try:
        result = run_scenario(sc, repeat=1, hooks=Hooks(wrap_server=wrap, on_phase=on_phase))
    finally:
        if dumps is not None:
            dumps.close()
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
        "symbolization": _symbolization(binary), "debug_info": report.has_debug_info(binary) if binary else None,
        "binary": binary, "run_id": result["run_id"],
    }
    if profiler == "heaptrack":
        data = os.path.join(workdir, f"heaptrack.{sc.name}.gz")
        prof.interpret(raw, data)
        os.unlink(raw)
        start_ms, end_ms = marks["measure_start_ht"], marks["measure_end_ht"]
        how = ("the measured run, in heaptrack's clock (10 ms ticks): boundaries in the middle of 100 ms idle "
               "stretches after the start and end samples")
        with prof.open_interpreted(data) as f:
            ticks = prof.tick_activity(f)
        (start_ms, snapped_start), (end_ms, snapped_end) = prof.snap_to_idle(ticks, start_ms), prof.snap_to_idle(ticks, end_ms)
        if snapped_start and snapped_end:
            how += "; each snapped to the middle of the nearest idle stretch in heaptrack's own stream"
        with prof.open_interpreted(data) as f:
            parsed = prof.parse(f, prof.Window(start_ms, end_ms))
        rows = report.site_rows(prof.sites(parsed), requests)
        meta["profiler"] = {"name": "heaptrack", "version": _heaptrack_version(),
                            "sampling": "none: every allocation and free is recorded"}
        meta["window"] = {"start_ms": round(start_ms, 1), "end_ms": round(end_ms, 1),
                          "how": how, "events_near_boundaries": parsed["events_near_boundaries"]}
        meta["data_file"] = os.path.basename(data)
    else:
        served = sum(int(v) for v in (result["replicates"][0]["end_sample"].get("requests") or {}).values())
        rows, pmeta = prof.collect(prefix, requests, served or requests, window_files, "; ".join(problems) or None)
        meta.update(pmeta)
    return report.build_profile(meta, rows), result


def _heaptrack_version() -> str | None:
    try:
        return subprocess.run(["heaptrack", "--version"], capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def measure_overhead(sc: scenario_mod.Scenario, profiler: str, workdir: str, profiled_rps: float | None,
                     runs: int = 3) -> dict[str, Any]:
    """Throughput with / without the profiler: `runs` plain runs and `runs - 1` more profiled ones, interleaved
    (the profile's own run is the first profiled one); the ratio of the medians."""
    import statistics
    import tempfile
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
            if profiler == "heaptrack":
                from harness.profile import heaptrack as prof
                wrap = lambda argv, env: prof.wrap(argv, env, os.path.join(tmp, "raw"))  # noqa: E731
            else:
                from harness.profile import jemalloc_prof as prof
                wrap = lambda argv, env: prof.wrap(argv, env, os.path.join(tmp, "jeprof"))  # noqa: E731
            r = run_scenario(sc, repeat=1, hooks=Hooks(wrap_server=wrap))
        if r["status"] == "ok":
            profiled.append(r["metrics"]["requests_per_s"])
    p, q = statistics.median(profiled), statistics.median(plain)
    return {"plain_rps": q, "profiled_rps": p, "ratio": (p / q) if p and q else None,
            "plain_rps_runs": plain, "profiled_rps_runs": profiled,
            "note": f"median of {len(profiled)} profiled and {len(plain)} plain runs of the same scenario, interleaved; "
                    "ratio = throughput with / without the profiler (the heaptrack figure includes writing its raw "
                    "stream, not the later interpretation)"}


def load_against(path: str) -> tuple[str, Any]:
    """('profile', profile dict) for a profile.json or a directory holding one; ('scenario', Scenario) for a result."""
    if os.path.isdir(path):
        path = os.path.join(path, "profile.json")
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ProfileError(f"cannot read {path}: {e}") from None
    if isinstance(data, dict) and data.get("kind") == "memgate-profile":
        return "profile", data
    if isinstance(data, dict) and isinstance(data.get("config"), dict):
        raw = {k: v for k, v in data["config"].items() if v is not None}  # None: the key's default
        if raw.get("endpoints") is not None:
            raw.pop("endpoint", None)
        try:
            return "scenario", scenario_mod.from_dict(raw, source=path)
        except scenario_mod.ScenarioError as e:
            raise ProfileError(f"{path}: its config is not a usable scenario: {e}") from None
    raise ProfileError(f"{path} is neither a memgate profile.json nor a result file with a config")


@contextlib.contextmanager
def _binaries_of(build_dir: str, source_dir: str):
    """The driver takes its binaries (and the commit it records) from these while inside."""
    saved = {k: os.environ.get(k) for k in ("MEMGATE_BUILD_DIR", "MEMGATE_SOURCE_DIR")}
    os.environ["MEMGATE_BUILD_DIR"], os.environ["MEMGATE_SOURCE_DIR"] = build_dir, source_dir
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def profile_ref(ref: str, sc: scenario_mod.Scenario, profiler: str, workdir: str,
                progress: Callable[[str], None]) -> dict[str, Any]:
    """The baseline side of `--against REF`: REF built in a worktree (ci/build_ref.sh, as the
    gate builds its refs), then the same scenario profiled on its binaries."""
    from harness.driver.binaries import REPO_ROOT
    script = os.path.join(REPO_ROOT, "ci", "build_ref.sh")
    check = subprocess.run(["bash", script, "--check", "REF", ref], capture_output=True, text=True)
    if check.returncode != 0:
        raise ProfileError(f"--against {ref}: no such file, and {check.stderr.strip().removeprefix('ci/build_ref.sh: ')}")
    tmp = tempfile.mkdtemp(prefix="memgate-profile-ref.")
    try:
        progress(f"building {ref} in a worktree (ci/build_ref.sh) ...")
        # Only what the run needs: the scenario's server and the load generator.
        built = subprocess.run(["bash", script, "REF", ref, tmp, f"-DMEMGATE_ALLOCATORS={sc.config['allocator']}",
                                "-DMEMGATE_BUILD_TESTS=OFF"], capture_output=True, text=True)
        if built.returncode != 0:
            raise ProfileError(built.stderr.strip())
        commit = built.stdout.strip()
        with _binaries_of(os.path.join(tmp, "build"), os.path.join(tmp, "src")):
            prof, _ = profile_run(sc, profiler, workdir, label=f"baseline {ref} ({commit[:12]})", progress=progress)
        prof["ref"] = {"ref": ref, "commit": commit}
        return prof
    finally:
        subprocess.run(["git", "-C", REPO_ROOT, "worktree", "remove", "--force", os.path.join(tmp, "src")],
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _emit(text: str, file) -> None:
    try:
        print(text, file=file)
        file.flush()
    except BrokenPipeError:
        pass


def cmd_profile(args, out, err) -> int:
    """./memgate profile: exit 0 written, 2 bad input or a failed run."""
    import datetime
    import sys
    from harness.driver.binaries import REPO_ROOT
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        sc = scenario_mod.load(args.scenario, args.overrides)
    except scenario_mod.ScenarioError as e:
        _emit(f"memgate: bad scenario: {e}", err)
        return 2
    profiler = args.profiler or default_profiler(sc.config["allocator"])
    outdir = args.output or os.path.join(REPO_ROOT, "results", f"profile-{sc.name}-"
                                         + datetime.datetime.now().strftime("%Y%m%dT%H%M%S"))
    say = lambda s: _emit(s, err)  # noqa: E731
    try:
        baseline_dir = os.path.join(outdir, "baseline")
        against, profiled_here = None, False
        if args.against and not os.path.exists(args.against):
            against, profiled_here = profile_ref(args.against, sc, profiler, baseline_dir, say), True
        elif args.against:
            kind, value = load_against(args.against)
            if kind == "profile":
                against = value
            else:
                against, _ = profile_run(value, profiler, baseline_dir, label=f"baseline {value.name}", progress=say)
                profiled_here = True
        if profiled_here:
            report.write_atomic(os.path.join(baseline_dir, "profile.json"), report.to_json(against))
        prof, _ = profile_run(sc, profiler, outdir, progress=say)
        if args.overhead:
            say(f"measuring overhead: {sc.name} without {profiler} ...")
            prof["overhead"] = measure_overhead(sc, profiler, outdir, prof["requests_per_s"], runs=args.overhead_runs)
        else:
            prof["overhead"] = {"note": "not measured (--no-overhead)"}
    except ProfileError as e:
        _emit(f"memgate: profile failed: {e}", err)
        return 2
    except Exception as e:  # a profiler that is missing or produced unreadable data
        _emit(f"memgate: profile failed: {type(e).__name__}: {e}", err)
        return 2
    d = report.diff(against, prof) if against is not None else None
    if d is not None:
        prof["against"] = d
    report.write_atomic(os.path.join(outdir, "profile.json"), report.to_json(prof))
    report.write_atomic(os.path.join(outdir, "profile.md"), report.render_markdown(prof, d))
    written = [os.path.join(outdir, "profile.md"), os.path.join(outdir, "profile.json")]
    if d is not None:
        from analysis.render.html import render_profile_diff
        report.write_atomic(os.path.join(outdir, "report.md"), report.render_report_md(d))
        report.write_atomic(os.path.join(outdir, "report.html"), render_profile_diff(report.diff_views(d)))
        written += [os.path.join(outdir, "report.md"), os.path.join(outdir, "report.html")]
    p = prof["profiler"]
    _emit(f"profile {prof['scenario']} ({prof['config_text']}) under {p['name']}, sampling: {p['sampling']}", out)
    ov = prof.get("overhead") or {}
    if ov.get("ratio"):
        _emit(f"overhead: {ov['profiled_rps']:.0f} req/s profiled vs {ov['plain_rps']:.0f} req/s plain "
              f"(ratio {ov['ratio']:.3f}; medians of {len(ov['profiled_rps_runs'])} and {len(ov['plain_rps_runs'])} runs)", out)
    if d is not None:
        _emit(report.render_diff(d, md=False), out)
    _emit(report.render_tables(prof, md=False), out)
    _emit("profile: " + " ".join(written), out)
    return 0
