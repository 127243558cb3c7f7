"""./memgate: the composition root. Parses the command line, calls the package that does the work
(driver, analysis, results, profile, abuse) and prints through one `emit`. Nothing imports this
module; it is the only one that imports harness.profile and harness.abuse."""

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
from analysis.render.table import render_comparison, render_gate
from harness.abuse.attacks import CASES as ABUSE_CASES
from harness.abuse.runner import run_suite
from harness.cli_help import CommandLine, add_examples
from harness.driver import calibrate as calibrate_mod, matrix, reaper, scenario as scenario_mod, twin
from harness.driver.binaries import baselines_dir, data_dir, results_root
from harness.driver.interrupt import Interrupted, interruptible
from harness.driver.machine import commit_info, machine_info
from harness.driver.progress import Progress, replicate_hooks
from harness.driver.runner import run_scenario
from harness.profile.command import announced_steps, profile_scenario
from harness.profile.run import PROFILERS, ProfileError
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


def _set_item(text: str) -> tuple[str, Any]:
    try:
        return scenario_mod.parse_set(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _bounded_int(maximum: int):
    def parse(text: str) -> int:
        value = _positive_int(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{text!r} is more than {maximum}")
        return value
    return parse


def _multiples(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers separated by commas, e.g. 0.25,0.5,1,2,4") from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every multiple must be above 0")
    return values


def _shard(text: str) -> tuple[int, int]:
    try:
        return matrix.parse_shard(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


SCENARIO_KEY_HELP = "override a scenario key; the value is TOML, a bare word is a string"


def add_set_option(parser: argparse.ArgumentParser, help: str = SCENARIO_KEY_HELP) -> None:
    """--set KEY=VALUE (repeatable) into args.overrides, parsed as a scenario key."""
    parser.add_argument("--set", dest="overrides", action="append", type=_set_item, default=[], metavar="KEY=VALUE",
                        help=help)


def build_parser() -> argparse.ArgumentParser:
    p = CommandLine(prog="memgate", description="Memory-regression harness for HTTP/1.1 and HTTP/2 servers.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_run_args(sp: argparse.ArgumentParser, scenario_required: bool) -> None:
        if scenario_required:
            sp.add_argument("scenario", metavar="SCENARIO.toml")
        else:
            sp.add_argument("scenario", nargs="?", metavar="SCENARIO.toml", help="scenario file; without it, defaults plus --set")
        add_set_option(sp)
        sp.add_argument("--repeat", type=_positive_int, metavar="K", help="replicates (overrides the scenario's repeat)")
        sp.add_argument("-o", "--output", metavar="RESULT.json", help="where the result goes")

    run = sub.add_parser("run", help="run a scenario and write a result JSON")
    add_run_args(run, scenario_required=False)

    cmp_ = sub.add_parser("compare", help="print a baseline/candidate comparison table")
    cmp_.add_argument("baseline", metavar="BASELINE.json")
    cmp_.add_argument("candidate", metavar="CANDIDATE.json")

    gate = sub.add_parser("gate", help="exit 0 pass, 1 regression, 2 invalid input, 3 undecided (too noisy to tell)")
    gate.add_argument("baseline", metavar="BASELINE.json")
    gate.add_argument("candidate", metavar="CANDIDATE.json")
    gate.add_argument("--calibration", metavar="FILE", help="the scenario's calibration (default: "
                      "BASELINE.calibration.json beside the baseline, when there is one)")
    gate.add_argument("--rerun", action="store_true", help="while undecided, run more candidate replicates "
                      "from the scenario stored in the candidate (with this checkout's binaries)")
    gate.add_argument("--max-replicates", type=_positive_int, default=10, metavar="N",
                      help="with --rerun: stop at N candidate replicates (default 10)")
    gate.add_argument("--max-seconds", type=_positive_int, default=600, metavar="S",
                      help="with --rerun: start no replicate that would end after S seconds (default 600)")

    scen = sub.add_parser("scenarios", help="scenario files: check")
    scen_sub = scen.add_subparsers(dest="scenarios_command", required=True, metavar="ACTION")
    check = scen_sub.add_parser("check", help="validate scenario files (default: scenarios/**/*.toml); exit 2 on any error")
    check.add_argument("files", nargs="*", metavar="FILE")

    mat = sub.add_parser("matrix", help="run every case of the given scenario files into a results directory")
    mat.add_argument("files", nargs="+", metavar="FILE")
    mat.add_argument("-o", "--output", metavar="DIR", help="results directory (default results/matrix-<timestamp>); "
                     "an existing one is resumed")
    mat.add_argument("--shard", type=_shard, metavar="i/N", help="run the i-th of N deterministic slices")
    add_set_option(mat, "override a key in every case (wins over the matrix axes)")
    mat.add_argument("--repeat", type=_positive_int, metavar="K", help="replicates for every case")

    twin_ = sub.add_parser("twin", help="prove the gate catches each scenario's failure: clean twice and the bad twin, "
                          "gated against the clean run; exit 0 as expected, 1 not, 2 a clean run failed")
    twin_.add_argument("files", nargs="+", metavar="FILE", help="scenario files with a bad_twin table")
    twin_.add_argument("--case", dest="cases", action="append", metavar="NAME", help="only this case (repeatable)")
    add_set_option(twin_, "override a key in every case and its twin (e.g. smaller request counts)")
    twin_.add_argument("-o", "--output", metavar="DIR", help="results directory (default results/twin-<timestamp>)")

    cal = sub.add_parser("calibrate", help="measure the gate on a scenario: clean A/A pairs (false alarms, spread) and "
                         "a ladder of injected regressions (what it catches); writes <baseline>.calibration.json")
    cal.add_argument("scenario", metavar="SCENARIO.toml")
    add_set_option(cal)
    cal.add_argument("--pairs", type=_bounded_int(calibrate_mod.MAX_PAIRS), default=20, metavar="N",
                     help="clean A/A pairs, run A B A B (default 20)")
    cal.add_argument("--ladder-runs", type=_bounded_int(calibrate_mod.MAX_LADDER_RUNS), default=3, metavar="M",
                     help="runs of each ladder step (default 3)")
    cal.add_argument("--multiples", type=_multiples, default=calibrate_mod.DEFAULT_MULTIPLES, metavar="LIST",
                     help="ladder sizes as multiples of each threshold (default 0.25,0.5,1,2,4)")
    cal.add_argument("--budget-s", type=_positive_int, default=3600, metavar="S",
                     help="stop before a run that would end past this many seconds (default 3600)")
    cal.add_argument("-o", "--output", metavar="FILE", help="default: beside the scenario's baseline, "
                     "<baselines>/<name>.calibration.json")

    mrg = sub.add_parser("merge", help="join shard results directories into one")
    mrg.add_argument("dirs", nargs="+", metavar="DIR")
    mrg.add_argument("--replicates", action="store_true", help="the directories hold replicates of the same cases "
                     "(one run per step, e.g. ci/gate.sh's interleaved base/head order): one result per case with "
                     "every replicate, metrics and noise recomputed over them")
    mrg.add_argument("-o", "--output", required=True, metavar="DIR")

    rep = sub.add_parser("report", help="report.md, report.html and report.json for a baseline/candidate pair; "
                         "exit 0 no regression, 1 regression, 2 invalid input")
    rep.add_argument("baseline", metavar="BASELINE", help="results directory (with index.json) or result file")
    rep.add_argument("candidate", metavar="CANDIDATE", help="results directory (with index.json) or result file")
    rep.add_argument("-o", "--output", default=".", metavar="DIR", help="where the reports go (default: .)")

    prof = sub.add_parser("profile", help="run a scenario under an allocation profiler: top sites, profile.md and profile.json")
    prof.add_argument("scenario", nargs="?", metavar="SCENARIO.toml", help="scenario file; without it, defaults plus --set")
    add_set_option(prof)
    prof.add_argument("--against", metavar="BASELINE", help="a profile.json (or its directory), a result JSON whose "
                      "config is profiled first, or a git ref (built in a worktree, then the same scenario profiled "
                      "on its binaries): rank the sites that grew (also report.md and report.html, with an icicle "
                      "view of the growth)")
    prof.add_argument("-o", "--output", metavar="DIR", help="where profile.md and profile.json (and with --against, "
                      "report.md and report.html) go (default results/profile-<scenario>-<timestamp>)")
    prof.add_argument("--profiler", choices=tuple(PROFILERS),
                      help="default: jemalloc for allocator=jemalloc, else heaptrack")
    prof.add_argument("--no-overhead", dest="overhead", action="store_false",
                      help="skip the unprofiled runs that measure the profiler's throughput overhead")
    prof.add_argument("--overhead-runs", type=_positive_int, default=3, metavar="K",
                      help="plain runs (and K-1 extra profiled ones) for the overhead ratio (default 3)")

    base = sub.add_parser("baseline", help="manage stored baselines")
    base_sub = base.add_subparsers(dest="baseline_command", required=True, metavar="ACTION")
    update = base_sub.add_parser("update", help="run a scenario and store its result as a baseline")
    add_run_args(update, scenario_required=True)
    abuse = sub.add_parser("abuse", help="attack a refserver with every abuse case; exit 0 all pass, 1 one fails, 2 could not run")
    abuse.add_argument("--quick", action="store_true", help="small counts (the README test command's run)")
    abuse.add_argument("--allocator", default="glibc", choices=("glibc", "jemalloc", "mimalloc"))
    abuse.add_argument("--json", metavar="FILE", help="write the results as JSON")
    abuse.add_argument("--case", dest="cases", action="append", metavar="NAME", help="run only this case (repeatable)")
    add_examples(p)
    return p


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


def cmd_compare(args: argparse.Namespace, out, err) -> int:
    pair = _load_pair(args, err)
    if pair is None:
        return EXIT_FAILED
    data = get_comparison(*pair)
    emit(render_comparison(data), out)
    return EXIT_OK if data["exit_code"] != gate_mod.EXIT_INVALID else EXIT_FAILED


def cmd_gate(args: argparse.Namespace, out, err) -> int:
    pair = _load_pair(args, err)
    if pair is None:
        return gate_mod.EXIT_INVALID
    path = args.calibration or calibration.beside(args.baseline)
    try:
        cal = calibration.load(path) if args.calibration or os.path.exists(path) else None
    except calibration.CalibrationError as e:
        emit(f"memgate: invalid input: {e}", err)
        return gate_mod.EXIT_INVALID
    baseline, candidate = pair
    if args.rerun and candidate.get("config"):
        stored = scenario_mod.Scenario(config=candidate["config"], source=f"{args.candidate} (stored config)",
                                       path=(candidate.get("scenario") or {}).get("path"))
        report = rerun.decide(baseline, candidate, lambda: run_scenario(stored, repeat=1), calibration=cal,
                                 max_replicates=args.max_replicates, max_seconds=args.max_seconds)
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
    with Progress(err, "twin", runs) as bar:  # clean, clean again, each twin
        summary = twin.run_twins(cases, outdir, progress=bar.start)
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
    emit(data["summary"]["line"], out)
    emit("reports: " + ", ".join(paths.values()), out)
    return data["summary"]["exit_code"]


def cmd_profile(args: argparse.Namespace, out, err) -> int:
    """exit 0 written, 2 bad input or a failed run."""
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
