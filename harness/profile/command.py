"""`memgate profile` without its command line: profile a scenario (and its baseline with
--against), measure the overhead, write profile.json and profile.md (and report.md and
report.html with a baseline). harness/cli.py parses the arguments and prints.

SIGINT, SIGTERM or SIGHUP (harness/driver/interrupt.py) keep what was measured: during the
overhead runs the profile is whole and is written with the overhead marked interrupted; before
its sites were collected, profile.json is an interrupted record naming the phase, with the
driver's interrupted result of the run it stopped. The caller gets it back in Profiled.interrupted.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

from analysis import profile as profile_data
from analysis.render import profile as profile_render, profile_html
from harness.driver import scenario as scenario_mod
from harness.driver.interrupt import Interrupted
from harness.profile.against import load_against, profile_ref
from harness.profile.run import INTERRUPTED_KIND, ProfileError, default_profiler, measure_overhead, profile_run
from harness.results import atomic


@dataclasses.dataclass
class Profiled:
    profile: dict[str, Any]
    diff: dict[str, Any] | None  # against the baseline, when there was one
    written: list[str]           # the files, in the order they are named to the user
    interrupted: Interrupted | None = None  # the signal that stopped it; what was measured is written


def _baseline(against: str, sc: scenario_mod.Scenario, profiler: str, baseline_dir: str,
              say: Callable[[str], None]) -> dict[str, Any]:
    """The baseline profile; one profiled here is also stored in baseline_dir."""
    if os.path.exists(against):
        kind, value = load_against(against)
        if kind == "profile":
            return value
        prof, _ = profile_run(value, profiler, baseline_dir, label=f"baseline {value.name}", progress=say)
    else:
        prof = profile_ref(against, sc, profiler, baseline_dir, say)
    atomic.write_text(os.path.join(baseline_dir, "profile.json"), profile_data.to_json(prof))
    return prof


def announced_steps(against: str | None, overhead: bool) -> int:
    """How many steps profile_scenario announces through its progress: the baseline's (a git ref: build,
    then profile; a result file: profile; a profile.json: none), the profiled run, the overhead runs."""
    baseline = 0
    if against and not os.path.exists(against):
        baseline = 2
    elif against:
        try:
            baseline = 1 if load_against(against)[0] == "scenario" else 0
        except ProfileError:
            baseline = 0  # profile_scenario reports it
    return baseline + 1 + (1 if overhead else 0)


# The phases a signal can stop, as an interrupted profile names them.
BASELINE, PROFILED_RUN, OVERHEAD = "baseline", "profiled run", "overhead runs"


def profile_scenario(sc: scenario_mod.Scenario, profiler: str | None, outdir: str, *, against: str | None,
                     overhead_runs: int, progress: Callable[[str], None]) -> Profiled:
    """Raises ProfileError for bad input or a failed run; overhead_runs=0 skips the overhead runs."""
    profiler = profiler or default_profiler(sc.config["allocator"])
    phase, baseline, prof = BASELINE, None, None
    try:
        if against:
            baseline = _baseline(against, sc, profiler, os.path.join(outdir, "baseline"), progress)
        phase = PROFILED_RUN
        prof, _ = profile_run(sc, profiler, outdir, progress=progress)
        phase = OVERHEAD
        if overhead_runs:
            progress(f"measuring overhead: {sc.name} without {profiler} ...")
            prof["overhead"] = measure_overhead(sc, profiler, outdir, prof["requests_per_s"], runs=overhead_runs)
        else:
            prof["overhead"] = {"note": "not measured (--no-overhead)"}
    except Interrupted as e:
        stopped = {**e.failure(), "phase": phase}
        if prof is not None:
            prof["overhead"] = {"note": f"not measured: {e.failure()['message']}"}
            prof["interrupted"] = stopped
            return dataclasses.replace(_write(prof, baseline, outdir), interrupted=e)
        # no sites yet: where it stopped, and what the stopped run had measured
        record = {"kind": INTERRUPTED_KIND, "version": 1, "scenario": sc.name, "profiler": profiler,
                  "interrupted": stopped, "baseline_profiled": baseline is not None, "run": e.result}
        path = os.path.join(outdir, "profile.json")
        atomic.write_text(path, profile_data.to_json(record))
        return Profiled(record, None, [path], e)
    return _write(prof, baseline, outdir)


def _write(prof: dict[str, Any], baseline: dict[str, Any] | None, outdir: str) -> Profiled:
    d = profile_data.diff(baseline, prof) if baseline is not None else None
    if d is not None:
        prof["against"] = d
    files = [("profile.json", profile_data.to_json(prof)), ("profile.md", profile_render.render_markdown(prof, d))]
    if d is not None:
        files += [("report.md", profile_render.render_report_md(d)),
                  ("report.html", profile_html.render_profile_diff(profile_data.diff_views(d)))]
    for name, text in files:
        atomic.write_text(os.path.join(outdir, name), text)
    written = [os.path.join(outdir, name) for name in ("profile.md", "profile.json")]
    written += [os.path.join(outdir, name) for name, _ in files[2:]]
    return Profiled(prof, d, written)
