"""./memgate's command line: every subcommand, its options and their types. harness/cli.py runs
what it parses; cli_help.py holds the examples each --help ends with."""

from __future__ import annotations

import argparse
from typing import Any

from harness.cli_help import CommandLine, add_examples
from harness.driver import calibrate as calibrate_mod, matrix, scenario as scenario_mod
from harness.profile.run import PROFILERS

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

    def add_pair_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("baseline", metavar="BASELINE.json")
        sp.add_argument("candidate", metavar="CANDIDATE.json")
        sp.add_argument("--calibration", metavar="FILE", help="the scenario's calibration (default: "
                        "BASELINE.calibration.json beside the baseline, when there is one)")

    cmp_ = sub.add_parser("compare", help="print a baseline/candidate comparison table")
    add_pair_args(cmp_)

    gate = sub.add_parser("gate", help="exit 0 pass, 1 regression, 2 invalid input, 3 undecided (too noisy to tell)")
    add_pair_args(gate)
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
                         "exit 0 no regression, 1 regression, 2 invalid input, 3 undecided (too noisy to tell: "
                         "memgate gate --rerun on the pair decides)")
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
