#!/usr/bin/python3
"""Reads one libFuzzer log for ci/fuzz.sh: executions and rate (from -print_final_stats=1) and the
inputs libFuzzer wrote for a crash, leak, timeout or out-of-memory.

  /usr/bin/python3 ci/fuzz_stats.py TARGET LOG [CPU_SECONDS LOAD_AVERAGE]
      prints one summary line, then one "crash input: PATH" line per failing input

With the fuzzer's CPU time and the load average when it started, the summary also gives the
executions per CPU second: on a shared machine the rate per second of wall time says more
about the other processes than about the target.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

# What libFuzzer prefixes the inputs with that stop a run (slow-unit-* inputs are only reported).
FAILING_PREFIXES = ("crash-", "leak-", "timeout-", "oom-")
_STAT = re.compile(r"^stat::(\w+):\s+(\d+)\s*$", re.M)
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


@dataclass
class FuzzRun:
    executions: int | None = None
    rate_per_second: int | None = None
    new_inputs: int | None = None
    peak_rss_mb: int | None = None
    failing_inputs: list[str] = field(default_factory=list)


def parse(log: str) -> FuzzRun:
    stats = {name: int(value) for name, value in _STAT.findall(log)}
    failing = [path for path in _ARTIFACT.findall(log)
               if path.rsplit("/", 1)[-1].startswith(FAILING_PREFIXES)]
    return FuzzRun(executions=stats.get("number_of_executed_units"),
                   rate_per_second=stats.get("average_exec_per_sec"),
                   new_inputs=stats.get("new_units_added"), peak_rss_mb=stats.get("peak_rss_mb"),
                   failing_inputs=failing)


def summary(target: str, run: FuzzRun, cpu_seconds: float | None = None, load_average: float | None = None) -> str:
    if run.executions is None:
        return f"{target}: no final stats in the log (libFuzzer did not finish)"
    rate = f"{run.rate_per_second:,}/s"
    if cpu_seconds:
        rate += f" ({round(run.executions / cpu_seconds):,} per CPU second, load average {load_average:.1f})"
    parts = [f"{run.executions:,} executions", rate]
    if run.new_inputs is not None:
        parts.append(f"{run.new_inputs} new inputs")
    if run.peak_rss_mb is not None:
        parts.append(f"peak RSS {run.peak_rss_mb} MiB")
    return f"{target}: " + ", ".join(parts)


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 5):
        print("usage: fuzz_stats.py TARGET LOG [CPU_SECONDS LOAD_AVERAGE]", file=sys.stderr)
        return 2
    with open(argv[2], encoding="utf-8", errors="replace") as f:
        run = parse(f.read())
    cpu = (float(argv[3]), float(argv[4])) if len(argv) == 5 else ()
    print(summary(argv[1], run, *cpu))
    for path in run.failing_inputs:
        print(f"crash input: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
