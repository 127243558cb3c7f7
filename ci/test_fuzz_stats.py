"""ci/fuzz_stats.py on libFuzzer logs captured from real runs (clang 14's libFuzzer)."""
import subprocess
from pathlib import Path

from ci import fuzz_stats

SCRIPT = Path(__file__).resolve().parent / "fuzz_stats.py"

# bash ci/fuzz.sh 10 style run of fuzz_h1_request, trimmed: no crash.
CLEAN = """\
Dictionary: 49 entries
INFO: Running with entropic power schedule (0xFF, 100).
INFO:       25 files found in server/fuzz/corpus/h1_request
#27	INITED cov: 2012 ft: 4747 corp: 24/27Kb exec/s: 0 rss: 63Mb
#28	NEW    cov: 2015 ft: 4753 corp: 25/27Kb lim: 16428 exec/s: 0 rss: 63Mb L: 48/16428 MS: 1 CMP-
Slowest unit: 11 s:
artifact_prefix='/b/fuzz-out/fuzz_h1_request/'; Test unit written to /b/fuzz-out/fuzz_h1_request/slow-unit-5d0a
Done 3370 runs in 11 second(s)
stat::number_of_executed_units: 3370
stat::average_exec_per_sec:     306
stat::new_units_added:          260
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              208
"""

# A target that let an exception escape (as the h1 target once did on EINTR): abort, deadly signal.
CRASH = """\
#10	REDUCE cov: 4 ft: 4 corp: 3/5b lim: 4 exec/s: 0 rss: 31Mb L: 2/2 MS: 5 ShuffleBytes-CopyPart-
terminate called after throwing an instance of 'std::runtime_error'
  what():  connect: Interrupted system call
==4364== ERROR: libFuzzer: deadly signal
    #0 0x55ab in __sanitizer_print_stack_trace (/tmp/t+0xb4d)
NOTE: libFuzzer has rudimentary signal handlers.
SUMMARY: libFuzzer: deadly signal
MS: 3 CrossOver-ChangeBinInt-ChangeBit-; base unit: a36a6718f54524d846894fb04b5b885b4e43e63b
0x47,0x45,
GE
artifact_prefix='/tmp/out/'; Test unit written to /tmp/out/crash-78414175292d8e8aef50fdf42ad9895549cfd5cd
Base64: R0U=
stat::number_of_executed_units: 4588
stat::average_exec_per_sec:     0
stat::new_units_added:          3
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              32
"""


def test_a_clean_run_gives_executions_and_rate_and_no_failing_input():
    run = fuzz_stats.parse(CLEAN)
    assert (run.executions, run.rate_per_second, run.new_inputs, run.peak_rss_mb) == (3370, 306, 260, 208)
    assert run.failing_inputs == []  # a slow unit is reported, not a failure
    assert fuzz_stats.summary("fuzz_h1_request", run) == (
        "fuzz_h1_request: 3,370 executions, 306/s, 260 new inputs, peak RSS 208 MiB")


def test_with_the_cpu_time_the_rate_per_cpu_second_and_the_load_are_given():
    assert fuzz_stats.summary("fuzz_h1_request", fuzz_stats.parse(CLEAN), 2.5, 3.14) == (
        "fuzz_h1_request: 3,370 executions, 306/s (1,348 per CPU second, load average 3.1), 260 new inputs, "
        "peak RSS 208 MiB")


def test_a_crash_gives_the_input_path():
    run = fuzz_stats.parse(CRASH)
    assert run.executions == 4588
    assert run.failing_inputs == ["/tmp/out/crash-78414175292d8e8aef50fdf42ad9895549cfd5cd"]


def test_leak_timeout_and_oom_inputs_fail_too():
    log = "".join(f"artifact_prefix='/o/'; Test unit written to /o/{kind}-ab12\n"
                  for kind in ("leak", "timeout", "oom"))
    assert fuzz_stats.parse(log).failing_inputs == ["/o/leak-ab12", "/o/timeout-ab12", "/o/oom-ab12"]


def test_a_log_cut_short_says_so():
    run = fuzz_stats.parse("INFO: Seed: 1\n#2\tINITED cov: 2\n")
    assert run.executions is None
    assert "no final stats" in fuzz_stats.summary("t", run)


def test_the_command_prints_the_summary_then_each_crash_input(tmp_path):
    log = tmp_path / "log"
    log.write_text(CRASH)
    proc = subprocess.run(["/usr/bin/python3", str(SCRIPT), "fuzz_h1_request", str(log)], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "fuzz_h1_request: 4,588 executions, 0/s, 3 new inputs, peak RSS 32 MiB",
        "crash input: /tmp/out/crash-78414175292d8e8aef50fdf42ad9895549cfd5cd"]
