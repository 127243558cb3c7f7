"""The benchmark scripts' own code: the client-output parsers and checks in lib.sh (on stored h2load
and wrk reports), and counting_cost.sh's report, from one short run of the real binaries."""
import os
import re
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TESTDATA = HERE / "testdata"
BIN = Path(os.environ.get("MEMGATE_BUILD_DIR", HERE.parent.parent / "build")) / "bin"


def lib(function, *args):
    """Runs FUNCTION from lib.sh with ARGS in bash; returns the completed process."""
    return subprocess.run(["bash", "-c", f'source "{HERE}/lib.sh"; "$@"', "lib.sh", function, *map(str, args)],
                          capture_output=True, text=True, timeout=30)


def numbers(result):
    assert result.returncode == 0, result.stderr
    return [float(field) for field in result.stdout.split()]


def edited(tmp_path, name, old, new):
    text = (TESTDATA / name).read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


def test_h2load_parse_gives_rate_and_cpu_per_request():
    # 2000 requests, 30 ms of server CPU, 0.04 s of client CPU.
    rps, server_us, client_us = numbers(lib("h2load_parse", TESTDATA / "h2load_h1_1k.txt", 2000, 1024, "rps", "t",
                                            30_000_000, 0.04))
    assert rps == 4021.04 and server_us == 15.0 and client_us == 20.0


def test_h2load_parse_goodput_is_body_bytes_per_second_and_cpu_per_gib():
    goodput, server_ms, _ = numbers(lib("h2load_parse", TESTDATA / "h2load_h2c_1m.txt", 20, 1048576, "goodput", "t",
                                        10_000_000, 0.01))
    assert goodput == pytest.approx(20 * 1048576 * 228.32 / 20, abs=1)
    assert server_ms == pytest.approx(10 / (20 / 1024), abs=0.05)


def test_h2load_parse_fails_on_a_non_2xx_answer_and_on_short_bodies(tmp_path):
    bad = edited(tmp_path, "h2load_h1_1k.txt", "status codes: 2000 2xx, 0 3xx, 0 4xx", "status codes: 1990 2xx, 0 3xx, 10 4xx")
    result = lib("h2load_parse", bad, 2000, 1024, "rps", "t1k", 1, 1)
    assert result.returncode == 1 and "t1k: status codes: 1990 2xx, 0 3xx, 10 4xx" in result.stderr
    result = lib("h2load_parse", TESTDATA / "h2load_h1_1k.txt", 2000, 1025, "rps", "t1k", 1, 1)
    assert result.returncode == 1 and "data bytes 2048000 != 2000 x 1025" in result.stderr


def test_wrk_parse_gives_rate_and_cpu_per_completed_request():
    rps, server_us, client_us = numbers(lib("wrk_parse", TESTDATA / "wrk_h1_1k.txt", 1024, "t", 1_000_000_000, 1.0))
    requests = 10830  # the report's "N requests in"
    assert rps == 5365.23
    assert server_us == pytest.approx(1e3 * 1e3 / requests, abs=0.01)
    assert client_us == pytest.approx(1e6 / requests, abs=0.01)


@pytest.mark.parametrize("old, new, message", [
    ("Requests/sec:", "Non-2xx or 3xx responses: 7\nRequests/sec:", "7 responses outside 2xx/3xx"),
    ("Requests/sec:", "  Socket errors: connect 0, read 2, write 0, timeout 1\nRequests/sec:", "3 socket errors"),
    ("10830 requests in", "0 requests in", "no requests completed"),
])
def test_wrk_parse_fails_naming_what_is_wrong(tmp_path, old, new, message):
    result = lib("wrk_parse", edited(tmp_path, "wrk_h1_1k.txt", old, new), 1024, "w", 1, 1)
    assert result.returncode == 1 and f"w: {message}" in result.stderr.replace(" ;", ";")


def test_wrk_parse_fails_when_less_than_the_body_was_read():
    result = lib("wrk_parse", TESTDATA / "wrk_h1_1k.txt", 4096, "w", 1, 1)
    assert result.returncode == 1 and "under 10830 x 4096" in result.stderr


def test_perf_counting_share_sums_the_counting_code_of_the_counted_binary_only():
    report = (TESTDATA / "perf_report_h2c_1k.txt").read_text()
    result = subprocess.run(["bash", "-c", f'source "{HERE}/lib.sh"; perf_counting_share refserver-glibc'],
                            input=report, capture_output=True, text=True, timeout=30)
    # free, malloc, both operator delete rows, libc's malloc_usable_size, the charge scope and operator
    # new in the binary; not libstdc++'s operators, which the uncounted build runs too.
    assert result.stdout.strip() == ("3.80% of 2K samples: free 1.56%, heapshim_own_malloc 1.18%, operator delete 0.52%,"
                                     " __malloc_usable_size 0.40%, memgate::metrics::allocations_of::allocations_of 0.09%")


def test_median_of_an_even_count_is_the_mean_of_the_middle_two_and_the_paired_ratio_is_per_round():
    result = subprocess.run(["bash", "-c", f'source "{HERE}/lib.sh"; echo " 4 1 3 2" | median; ratio 3 4;'
                             ' echo; paired_ratio " 10 30 20" " 5 10 40"'], capture_output=True, text=True, timeout=30)
    assert result.stdout.split() == ["2.5", "0.750", "2.000"]  # the rounds' ratios: 2, 3, 0.5


def test_the_peers_script_parses():
    assert subprocess.run(["bash", "-n", HERE / "refserver_vs_peers.sh"], timeout=30).returncode == 0


@pytest.mark.e2e
def test_counting_cost_reports_each_case_with_ratios_of_its_medians():
    env = {**os.environ, "ROUNDS": "1", "WARMUP": "0", "PERF": "0", "SMALL_REQUESTS": "300", "BIG_REQUESTS": "4",
           "COUNTED": str(BIN / "refserver-glibc"), "UNCOUNTED": str(BIN / "refserver-glibc-uncounted")}
    result = subprocess.run(["bash", HERE / "counting_cost.sh"], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    raw = {key: (float(value), float(cost)) for key, value, cost in
           re.findall(r"^  ((?:un)?counted_\w+)\s+(\S+)\s+\|\s+(\S+)", result.stdout, re.M)}
    throughput, cpu = result.stdout.split("server CPU per unit of work")
    for case, key in [("h1 1KiB", "h1_small"), ("h2c 1KiB", "h2_small"), ("h1 1MiB", "h1_big"), ("h2c 1MiB", "h2_big")]:
        counted, uncounted = raw[f"counted_{key}"], raw[f"uncounted_{key}"]
        rows = [re.search(rf"^{re.escape(case)}\s+\|.*?\| (\d+\.\d{{3}})x\s+\|\s+([+-]\d+\.\d) %\s+\|\s+\S+\s+\|\s+"
                          rf"(\d+\.\d{{3}})x", table, re.M) for table in (throughput, cpu)]
        assert all(rows), result.stdout
        assert float(rows[0][1]) == pytest.approx(counted[0] / uncounted[0], abs=0.0006)
        assert float(rows[0][3]) == pytest.approx(counted[0] / uncounted[0], abs=0.0006)  # one round: the same
        assert float(rows[1][1]) == pytest.approx(uncounted[1] / counted[1], abs=0.0006)
        assert float(rows[0][2]) == pytest.approx((uncounted[0] / counted[0] - 1) * 100, abs=0.051)
        assert float(rows[1][2]) == pytest.approx((counted[1] / uncounted[1] - 1) * 100, abs=0.051)
