"""./memgate: the composition root. Parses the command line (cli_parser.py), calls the package that
does the work (driver, analysis, results, profile, abuse) and prints through one `emit`. Nothing
imports this module; with cli_parser.py it is the only one that imports harness.profile and harness.abuse."""

from __future__ import annotations

import argparse
import datetime
import glob
import os
import sys
from typing import Any

from analysis import calibration, gate as gate_mod, report as report_mod, rerun
from analysis.compare import get_comparison
from analysis.metrics import median_metrics, noise
from analysis.render import html as html_render, markdown as md_render, profile as profile_render
from analysis.render.summary import render_summary
from analysis.render.table import render_comparison, render_gate, render_report_summary
from harness.abuse.attacks import CASES as ABUSE_CASES
from harness.abuse.runner import run_suite
from harness.cli_parser import build_parser
from harness.driver import calibrate as calibrate_mod, matrix, reaper, scenario as scenario_mod, twin
from harness.driver.binaries import baselines_dir, data_dir, results_root
from harness.driver.interrupt import Interrupted, interruptible
from harness.driver.machine import commit_info, machine_info
from harness.driver.progress import Progress, replicate_hooks
from harness.driver.runner import run_scenario
from harness.profile.command import announced_steps, profile_scenario
from harness.profile.run import ProfileError
from harness.results import atomic, files as result_files, index as matrix_index, replicates as replicate_join
from harness.results.schema import SCHEMA_VERSION, TOOL, VERSION

EXIT_OK = 0
EXIT_FAILED = 2


def emit(text: str, file) -> None:
    """print() that survives a reader leaving early (`./memgate gate ... | head`): exit codes stay right."""
    try:
        print(text, file=file)
        file.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), file.fileno())


def default_output(name: str) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    return os.path.join(results_root(), f"{name}-{stamp}.json")


def cmd_run(args: argparse.Namespace, out, err) -> int:
    try:
        sc = scenario_mod.load(args.scenario, args.overrides)
    except scenario_mod.ScenarioError as e:
        emit(f"memgate: bad scenario: {e}", err)
        stem = os.path.splitext(os.path.basename(args.scenario))[0] if args.scenario else "adhoc"
        output = args.output or default_output(stem or "adhoc")
        atomic.write_json(output, _failed_scenario_result(args, e))  # the file says what happened
        emit(f"result: {output}", out)
        return EXIT_FAILED
    output = args.output or default_output(sc.name)
    replicates = args.repeat or sc.config["repeat"]
    try:
        if replicates > 1:
            with Progress(err, f"run {sc.name}", replicates) as bar:
                result = run_scenario(sc, repeat=args.repeat, hooks=replicate_hooks(bar))
        else:
            result = run_scenario(sc, repeat=args.repeat)
    except Interrupted as e:  # what was measured so far is kept; main() exits 128 + the signal
        if e.result is not None:
            atomic.write_json(output, e.result)
            emit(f"result: {output}", out)
        raise
    atomic.write_json(output, result)
    emit(render_summary(result), out if result["status"] == "ok" else err)
    emit(f"result: {output}", out)
    return EXIT_OK if result["status"] == "ok" else EXIT_FAILED


def _failed_scenario_result(args: argparse.Namespace, e: scenario_mod.ScenarioError) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION, "tool": TOOL, "version": VERSION, "status": "failed",
        "failure": {"kind": "bad_scenario", "message": str(e), "key": e.key, "source": e.source},
        "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "scenario": {"name": None, "path": args.scenario}, "config": None,
        "commit_info": commit_info(), "machine_info": machine_info(), "metrics": None, "replicates": [],
    }


def _load_scenario(args: argparse.Namespace, err) -> scenario_mod.Scenario | None:
    try:
        return scenario_mod.load(args.scenario, args.overrides)
    except scenario_mod.ScenarioError as e:
        emit(f"memgate: bad scenario: {e}", err)
        return None


def _load_pair(args: argparse.Namespace, err) -> tuple[dict, dict] | None:
    try:
        return result_files.load(args.baseline), result_files.load(args.candidate)
    except result_files.InvalidResult as e:
        emit(f"memgate: invalid input: {e}", err)
        return None


def _load_calibration(args: argparse.Namespace, err) -> tuple[bool, calibration.Calibration | None]:
    """(usable, the calibration): --calibration, else the one beside the baseline when there is one."""
    path = args.calibration or calibration.beside(args.baseline)
    try:
        return True, calibration.load(path) if args.calibration or os.path.exists(path) else None
    except calibration.CalibrationError as e:
        emit(f"memgate: invalid input: {e}", err)
        return False, None


def cmd_compare(args: argparse.Namespace, out, err) -> int:
    pair = _load_pair(args, err)
    usable, cal = _load_calibration(args, err)
    if pair is None or not usable:
        return EXIT_FAILED
    data = get_comparison(*pair, calibration=cal)
    emit(render_comparison(data), out)
    return EXIT_OK if data["exit_code"] != gate_mod.EXIT_INVALID else EXIT_FAILED


def cmd_gate(args: argparse.Namespace, out, err) -> int:
    pair = _load_pair(args, err)
    usable, cal = _load_calibration(args, err)
    if pair is None or not usable:
        return gate_mod.EXIT_INVALID
    baseline, candidate = pair
    if args.rerun and candidate.get("config"):
        stored = scenario_mod.Scenario(config=candidate["config"], source=f"{args.candidate} (stored config)",
                                       path=(candidate.get("scenario") or {}).get("path"))
        measured: list[dict[str, Any]] = []

        def rerun_once() -> dict[str, Any]:
            measured.append(run_scenario(stored, repeat=1))
            return measured[-1]
        try:
            report = rerun.decide(baseline, candidate, rerun_once, calibration=cal,
                                  max_replicates=args.max_replicates, max_seconds=args.max_seconds)
        except Interrupted as e:  # the verdict on the replicates measured before the signal; main() exits 128 + it
            for more in measured:
                candidate = rerun.with_replicates(candidate, more)
            report = gate_mod.evaluate(baseline, candidate, calibration=cal)
            report.reruns = len(measured)
            report.notes.append(f"stopped by {e.name} after {len(measured)} more replicate(s): the verdict on what "
                                "was measured before it")
            emit(render_gate(report), out)
            raise
    else:
        report = gate_mod.evaluate(baseline, candidate, calibration=cal)
    emit(render_gate(report), out)
    return report.exit_code


def cmd_baseline_update(args: argparse.Namespace, out, err) -> int:
    if not args.output:
        try:
            sc = scenario_mod.load(args.scenario, args.overrides)
        except scenario_mod.ScenarioError as e:
            emit(f"memgate: bad scenario: {e}", err)
            return EXIT_FAILED
        args.output = os.path.join(baselines_dir(), f"{sc.name}.json")
    # A failed run must not replace a good baseline: run into a side file, then move it into place.
    final = args.output
    args.output = final + ".new"
    code = cmd_run(args, out, err)
    if code == EXIT_OK:
        os.replace(args.output, final)
        emit(f"baseline updated: {final}", out)
    else:
        emit(f"baseline NOT updated ({final} left as it was); failed result in {args.output}", err)
    return code


def shipped_scenarios() -> list[str]:
    return sorted(glob.glob(os.path.join(data_dir(), "scenarios", "**", "*.toml"), recursive=True))


def cmd_scenarios_check(args: argparse.Namespace, out, err) -> int:
    files = args.files or shipped_scenarios()
    if not files:
        emit("memgate: no scenario files found", err)
        return EXIT_FAILED
    bad = 0
    names: dict[str, str] = {}
    for path in files:
        try:
            cases = scenario_mod.load_cases(path)
            for c in cases:
                if c.name in names and names[c.name] != path:
                    raise scenario_mod.ScenarioError(path, "name", f"case {c.name!r} also comes from {names[c.name]}")
                names[c.name] = path
                if not c.config["description"].strip():
                    raise scenario_mod.ScenarioError(path, "description", "empty: say which real-world failure this scenario guards against")
        except scenario_mod.ScenarioError as e:
            bad += 1
            emit(f"FAIL {e}", err)
            continue
        emit(f"ok   {path}: {len(cases)} case(s)" + (f" ({', '.join(c.name for c in cases)})" if len(cases) > 1 else ""), out)
    emit(f"{len(files) - bad} of {len(files)} scenario file(s) valid", out if not bad else err)
    return EXIT_FAILED if bad else EXIT_OK


def cmd_matrix(args: argparse.Namespace, out, err) -> int:
    overrides = list(args.overrides) + ([("repeat", args.repeat)] if args.repeat else [])
    try:
        cases = matrix.collect(args.files, overrides)
    except scenario_mod.ScenarioError as e:
        emit(f"memgate: bad scenario: {e}", err)
        return EXIT_FAILED
    outdir = args.output or os.path.join(results_root(), "matrix-" + datetime.datetime.now().strftime("%Y%m%dT%H%M%S"))
    try:
        with Progress(err, "matrix", len(cases)) as bar:  # its "[i/N]" lines set the count
            index = matrix.run_matrix(cases, args.files, outdir, shard=args.shard, progress=bar)
    except Interrupted:
        emit(f"memgate: finished cases are kept in {outdir}: run the same command again to resume", err)
        raise
    emit(f"index: {os.path.join(outdir, matrix_index.INDEX)}", out)
    return EXIT_FAILED if any(e["status"] == "failed" for e in index["cases"]) else EXIT_OK


def cmd_twin(args: argparse.Namespace, out, err) -> int:
    try:
        cases = [c for f in args.files for c in scenario_mod.load_cases(f, args.overrides)]
    except scenario_mod.ScenarioError as e:
        emit(f"memgate: bad scenario: {e}", err)
        return twin.EXIT_FAILED
    if args.cases:
        unknown = sorted(set(args.cases) - {c.name for c in cases})
        if unknown:
            emit(f"memgate: no case named {', '.join(unknown)}; cases: {', '.join(c.name for c in cases)}", err)
            return twin.EXIT_FAILED
        cases = [c for c in cases if c.name in args.cases]
    without = [c.name for c in cases if not c.config["bad_twin"]]
    if without:
        emit(f"memgate: {', '.join(without)}: no bad_twin table, nothing to prove", err)
        return twin.EXIT_FAILED
    unnamed = [c.name for c in cases if not c.config["twin_metric"]]
    if unnamed:
        emit(f"memgate: {', '.join(unnamed)}: no twin_metric, the metric its twins must fail on", err)
        return twin.EXIT_FAILED
    outdir = args.output or os.path.join(results_root(), "twin-" + datetime.datetime.now().strftime("%Y%m%dT%H%M%S"))
    runs = sum(2 + sum(bool(c.config[table]) for table in scenario_mod.TWIN_TABLES) for c in cases)
    try:
        with Progress(err, "twin", runs) as bar:  # clean, clean again, each twin
            summary = twin.run_twins(cases, outdir, progress=bar.start)
    except Interrupted:
        emit(f"memgate: each finished run (and the stopped one's interrupted result) is kept in {outdir}; "
             f"{twin.SUMMARY} holds the cases finished", err)
        raise
    emit(twin.render(summary), out)
    emit(f"results: {outdir}", out)
    return summary["exit_code"]


def cmd_calibrate(args: argparse.Namespace, out, err) -> int:
    """exit 0 written, 2 bad scenario or no clean pair measured, 128 + the signal when interrupted (what was
    measured is written)."""
    sc = _load_scenario(args, err)
    if sc is None:
        return EXIT_FAILED
    output = args.output or str(calibration.beside(os.path.join(baselines_dir(), f"{sc.name}.json")))
    cal = calibrate_mod.calibrate(sc, pairs=args.pairs, ladder_runs=args.ladder_runs, multiples=args.multiples,
                                  budget_s=args.budget_s, progress=lambda line: emit(line, err))
    for line in cal.skipped:
        emit(f"memgate: not counted: {line}", err)
    if not cal.clean:
        emit(f"memgate: calibration NOT written: {cal.stopped or 'no clean pair could be measured'}", err)
        return cal.interrupted.exit_code if cal.interrupted else EXIT_FAILED
    emit(calibrate_mod.render(calibrate_mod.write(cal, output)), out)
    if cal.stopped:
        emit(f"memgate: stopped early: {cal.stopped}", err)
    emit(f"calibration: {output}", out)
    return cal.interrupted.exit_code if cal.interrupted else EXIT_OK


def cmd_merge(args: argparse.Namespace, out, err) -> int:
    if args.replicates:
        return _merge_replicates(args, out, err)
    try:
        index, problems = matrix_index.merge(args.dirs, args.output)
    except matrix_index.MatrixError as e:
        emit(f"memgate: cannot merge: {e}", err)
        return EXIT_FAILED
    for p in problems:
        emit(f"memgate: incomplete: {p}", err)
    done = sum(e["status"] == "ok" for e in index["cases"])
    emit(f"merged {len(args.dirs)} director(ies): {done} of {index['total_cases']} case(s) ok; "
          f"index: {os.path.join(args.output, matrix_index.INDEX)}", out)
    return EXIT_FAILED if problems else EXIT_OK


def _merge_replicates(args: argparse.Namespace, out, err) -> int:
    try:
        index = replicate_join.join_dirs(args.dirs, args.output, lambda ms: (median_metrics(ms), noise(ms)))
    except matrix_index.MatrixError as e:
        emit(f"memgate: cannot join replicates: {e}", err)
        return EXIT_FAILED
    failed = [e["name"] for e in index["cases"] if e["status"] != "ok"]
    emit(f"joined the replicates of {len(args.dirs)} director(ies): {len(index['cases']) - len(failed)} of "
         f"{len(index['cases'])} case(s) ok; index: {os.path.join(args.output, matrix_index.INDEX)}", out)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_report(args: argparse.Namespace, out, err) -> int:
    try:
        baseline = report_mod.load_side(args.baseline)
        candidate = report_mod.load_side(args.candidate)
    except report_mod.ReportInputError as e:
        emit(f"memgate: invalid input: {e}", err)
        return gate_mod.EXIT_INVALID
    data = report_mod.build_report(baseline, candidate)
    os.makedirs(args.output, exist_ok=True)
    paths = {}
    for name, text in (("report.md", md_render.render(data)), ("report.html", html_render.render(data)),
                       ("report.json", report_mod.to_json(data))):
        paths[name] = os.path.join(args.output, name)
        atomic.write_text(paths[name], text)
    emit(render_report_summary(data), out)
    emit("reports: " + ", ".join(paths.values()), out)
    return data["summary"]["exit_code"]


def cmd_profile(args: argparse.Namespace, out, err) -> int:
    """exit 0 written, 2 bad input or a failed run, 128 + the signal when interrupted (what was measured is written)."""
    sc = _load_scenario(args, err)
    if sc is None:
        return EXIT_FAILED
    outdir = args.output or os.path.join(results_root(), f"profile-{sc.name}-"
                                         + datetime.datetime.now().strftime("%Y%m%dT%H%M%S"))
    try:
        with Progress(err, "profile", announced_steps(args.against, args.overhead)) as bar:
            done = profile_scenario(sc, args.profiler, outdir, against=args.against, overhead_runs=args.overhead_runs
                                    if args.overhead else 0, progress=bar.start)
    except ProfileError as e:
        emit(f"memgate: profile failed: {e}", err)
        return EXIT_FAILED
    except Exception as e:  # a profiler that is missing or produced unreadable data
        emit(f"memgate: profile failed: {type(e).__name__}: {e}", err)
        return EXIT_FAILED
    if done.interrupted:  # main() sweeps and exits 128 + the signal
        stopped = done.profile.get("interrupted") or {}
        emit(f"memgate: profile stopped during the {stopped.get('phase')}; what was measured is written", err)
        emit("profile: " + " ".join(done.written), out)
        raise done.interrupted
    emit(profile_render.render_console(done.profile, done.diff), out)
    emit("profile: " + " ".join(done.written), out)
    return EXIT_OK


def cmd_abuse(args: argparse.Namespace, out, err) -> int:
    with Progress(err, "abuse", len(args.cases or ABUSE_CASES)) as bar:
        return run_suite(args.quick, args.allocator, args.cases or None, args.json, out=out, progress=bar.done)


COMMANDS = {"run": cmd_run, "compare": cmd_compare, "gate": cmd_gate, "baseline": cmd_baseline_update,
            "scenarios": cmd_scenarios_check, "matrix": cmd_matrix, "calibrate": cmd_calibrate, "merge": cmd_merge, "twin": cmd_twin,
            "report": cmd_report, "profile": cmd_profile, "abuse": cmd_abuse}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with interruptible():
        try:
            return COMMANDS[args.command](args, sys.stdout, sys.stderr)
        except Interrupted as e:  # the command's finally blocks stopped its children; the sweep gets any left
            killed = reaper.sweep()
            if killed:
                emit(f"memgate: killed {len(killed)} leftover child process(es): {killed}", sys.stderr)
            emit(f"memgate: stopped by {e.name}", sys.stderr)
            return e.exit_code
