"""./memgate run | compare | gate | baseline update."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from typing import Any

from analysis import gate as gate_mod
from analysis.compare import get_comparison
from analysis.render.table import render_comparison, render_gate
from analysis.units import format_bytes, format_number
from harness.driver import result_file, scenario as scenario_mod
from harness.driver.binaries import REPO_ROOT
from harness.driver.runner import run_scenario

EXIT_OK = 0
EXIT_FAILED = 2


def _emit(text: str, file) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="memgate", description="Memory-regression harness for HTTP/1.1 and HTTP/2 servers.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_run_args(sp: argparse.ArgumentParser, scenario_required: bool) -> None:
        if scenario_required:
            sp.add_argument("scenario", metavar="SCENARIO.toml")
        else:
            sp.add_argument("scenario", nargs="?", metavar="SCENARIO.toml", help="scenario file; without it, defaults plus --set")
        sp.add_argument("--set", dest="overrides", action="append", type=_set_item, default=[], metavar="KEY=VALUE",
                        help="override a scenario key; the value is TOML, a bare word is a string")
        sp.add_argument("--repeat", type=_positive_int, metavar="K", help="replicates (overrides the scenario's repeat)")
        sp.add_argument("-o", "--output", metavar="RESULT.json", help="where the result goes")

    run = sub.add_parser("run", help="run a scenario and write a result JSON")
    add_run_args(run, scenario_required=False)

    cmp_ = sub.add_parser("compare", help="print a baseline/candidate comparison table")
    cmp_.add_argument("baseline", metavar="BASELINE.json")
    cmp_.add_argument("candidate", metavar="CANDIDATE.json")

    gate = sub.add_parser("gate", help="exit 0 pass, 1 regression, 2 invalid input")
    gate.add_argument("baseline", metavar="BASELINE.json")
    gate.add_argument("candidate", metavar="CANDIDATE.json")

    base = sub.add_parser("baseline", help="manage stored baselines")
    base_sub = base.add_subparsers(dest="baseline_command", required=True, metavar="ACTION")
    update = base_sub.add_parser("update", help="run a scenario and store its result as a baseline")
    add_run_args(update, scenario_required=True)
    return p


def default_output(name: str) -> str:
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    return os.path.join(REPO_ROOT, "results", f"{name}-{stamp}.json")


def summarize(result: dict[str, Any]) -> str:
    cfg = result["config"]
    head = (f"scenario {result['scenario']['name']} ({cfg['protocol']}, {cfg['allocator']}, copy={cfg['copy']}, "
            f"{cfg['method']} {cfg['endpoint']}, {len(result['replicates'])} replicate(s))")
    if result["status"] != "ok":
        f = result["failure"]
        lines = [head, f"  FAILED ({f['kind']}): {f['message']}"]
        tail = (f.get("server_stderr_tail") or "").strip()
        if tail:
            lines.append("  server stderr tail: " + tail.splitlines()[-1][:300])
        return "\n".join(lines)
    m = result["metrics"]
    lines = [
        head,
        f"  {format_number(m['requests_completed'])} requests in {m['elapsed_s']:.2f} s "
        f"({format_number(m['requests_per_s'])} req/s, p99 {format_number(m['latency_p99_us'])} us), "
        f"{format_number(m['client_failures'])} client failures",
        f"  live heap \u0394 {format_bytes(m['live_heap_delta_bytes'], signed=True)} "
        f"({m['live_heap_bytes_per_request']:.2f} B/request), RSS \u0394 {format_bytes(m['rss_delta_bytes'], signed=True)}, "
        f"before trim {format_bytes(m['rss_before_trim_delta_bytes'], signed=True)}, "
        f"peak {format_bytes(m['peak_rss_bytes'])} ({format_bytes(m['peak_rss_growth_bytes'], signed=True)}), "
        f"VmHWM {format_bytes(m['vm_hwm_bytes'])}",
        f"  writes/response {format_number(m['write_calls_per_response'], digits=2)}, "
        f"bytes copied/response {format_bytes(m['bytes_copied_per_response'])}",
    ]
    for w in result.get("warnings") or []:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace, out=sys.stdout, err=sys.stderr) -> int:
    try:
        sc = scenario_mod.load(args.scenario, args.overrides)
    except scenario_mod.ScenarioError as e:
        _emit(f"memgate: bad scenario: {e}", err)
        stem = os.path.splitext(os.path.basename(args.scenario))[0] if args.scenario else "adhoc"
        output = args.output or default_output(stem or "adhoc")
        result_file.write_atomic(output, _failed_scenario_result(args, e))  # the file says what happened
        _emit(f"result: {output}", out)
        return EXIT_FAILED
    output = args.output or default_output(sc.name)
    result = run_scenario(sc, repeat=args.repeat)
    result_file.write_atomic(output, result)
    _emit(summarize(result), out if result["status"] == "ok" else err)
    _emit(f"result: {output}", out)
    return EXIT_OK if result["status"] == "ok" else EXIT_FAILED


def _failed_scenario_result(args: argparse.Namespace, e: scenario_mod.ScenarioError) -> dict[str, Any]:
    from harness.driver import SCHEMA_VERSION, VERSION
    from harness.driver.machine import commit_info, machine_info
    return {
        "schema_version": SCHEMA_VERSION, "tool": "memgate", "version": VERSION, "status": "failed",
        "failure": {"kind": "bad_scenario", "message": str(e), "key": e.key, "source": e.source},
        "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "scenario": {"name": None, "path": args.scenario}, "config": None,
        "commit_info": commit_info(), "machine_info": machine_info(), "metrics": None, "replicates": [],
    }


def _load_pair(args: argparse.Namespace, err) -> tuple[dict, dict] | None:
    try:
        return result_file.load(args.baseline), result_file.load(args.candidate)
    except result_file.InvalidResult as e:
        _emit(f"memgate: invalid input: {e}", err)
        return None


def cmd_compare(args: argparse.Namespace, out=sys.stdout, err=sys.stderr) -> int:
    pair = _load_pair(args, err)
    if pair is None:
        return EXIT_FAILED
    data = get_comparison(*pair)
    _emit(render_comparison(data), out)
    return EXIT_OK if data["exit_code"] != gate_mod.EXIT_INVALID else EXIT_FAILED


def cmd_gate(args: argparse.Namespace, out=sys.stdout, err=sys.stderr) -> int:
    pair = _load_pair(args, err)
    if pair is None:
        return gate_mod.EXIT_INVALID
    report = gate_mod.evaluate(*pair)
    _emit(render_gate(report), out)
    return report.exit_code


def cmd_baseline_update(args: argparse.Namespace, out=sys.stdout, err=sys.stderr) -> int:
    if not args.output:
        try:
            sc = scenario_mod.load(args.scenario, args.overrides)
        except scenario_mod.ScenarioError as e:
            _emit(f"memgate: bad scenario: {e}", err)
            return EXIT_FAILED
        args.output = os.path.join(REPO_ROOT, "ci", "baselines", f"{sc.name}.json")
    # A failed run must not replace a good baseline: run into a side file, then move it into place.
    final = args.output
    args.output = final + ".new"
    code = cmd_run(args, out, err)
    if code == EXIT_OK:
        os.replace(args.output, final)
        _emit(f"baseline updated: {final}", out)
    else:
        _emit(f"baseline NOT updated ({final} left as it was); failed result in {args.output}", err)
    return code


def main(argv: list[str] | None = None) -> int:
    return _dispatch(argv)


def _dispatch(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "compare":
        return cmd_compare(args)
    if args.command == "gate":
        return cmd_gate(args)
    if args.command == "baseline":
        return cmd_baseline_update(args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return EXIT_FAILED
