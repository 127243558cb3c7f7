"""The gate's statistics on synthetic replicates: one test per blind spot the gate used to have
(each passed a real regression before), then the three-way verdict and the rerun loop."""

import json
import random
import statistics

import pytest

from analysis import calibration, gate, rerun
from analysis.metrics import compute_metrics, median_metrics, noise

KIB, MIB, PAGE = 1024, 1 << 20, 4096
START_RSS, START_HEAP = 8 * MIB, 7000


def replicate(seed, *, requests=100_000, leak=0.0, held=0.0, rss_leak=0.0, rss_wobble_pages=0, peak=104 * KIB,
              allocated=2030.0, copied=0.0, heap=True, protocol="h2c"):
    """One replicate's samples through the registry, like a run: `leak` live-heap bytes/request kept at the
    end, `held` bytes/request held while connections are open, `rss_leak` RSS bytes/request kept, `peak`
    a transient RSS rise under load."""
    rng = random.Random(seed)
    start = {"rss_bytes": START_RSS, "rss_anon_bytes": 2 * MIB, "requests": {"h1": 0, "h2": 0}, "allocations": 0,
             "allocated_bytes": 0, "write_calls": 0, "bytes_copied": 0, "bytes_written": 0, "leaked_bytes": 0}
    timeline = []
    for k in range(21):
        done = requests * k // 20
        point = {"t_s": k * 0.5, "requests": done,
                 "rss_bytes": START_RSS + (peak if k else 0) + int((held + rss_leak) * done)}
        if heap:
            point["live_heap_bytes"] = START_HEAP + int((leak + held) * done) + rng.randint(0, 200)
        timeline.append(point)
    end_rss = START_RSS + int(rss_leak * requests) + rng.randint(0, rss_wobble_pages) * PAGE
    served = {"h1": requests if protocol == "h1" else 0, "h2": 0 if protocol == "h1" else requests}
    end = {"rss_bytes": end_rss, "rss_before_trim_bytes": end_rss, "rss_anon_bytes": 2 * MIB, "requests": served,
           "allocations": 9 * requests, "allocated_bytes": int(allocated * requests), "write_calls": requests,
           "bytes_copied": int(copied * requests), "bytes_written": 65536 * requests, "leaked_bytes": 0}
    if heap:
        start["live_heap_bytes"] = START_HEAP
        end["live_heap_bytes"] = START_HEAP + int(leak * requests) + rng.randint(0, 300)
    report = {"requests_completed": requests, "requests_failed": 0, "elapsed_s": 10.0, "bytes_received": 0,
              "bytes_sent": 0, "requests_per_s": requests / 10, "latency_us": {"p50": 100, "p99": 1000}}
    metrics = compute_metrics(start, end, timeline, report, config(protocol))
    return {"index": seed, "status": "ok", "metrics": metrics, "start_sample": start, "timeline": timeline,
            "end_sample": end}


def config(protocol="h2c", thresholds=None):
    return {"name": "synthetic", "protocol": protocol, "connections": 4, "streams": 10, "pipeline": 1,
            "endpoint": "/bytes/64" if protocol == "h1" else "/bytes/65536", "method": "GET",
            "thresholds": thresholds or {}}


def result(reps, protocol="h2c", thresholds=None):
    ok = [r["metrics"] for r in reps]
    out = {"schema_version": 1, "tool": "memgate", "status": "ok", "failure": None, "scenario": {"name": "synthetic"},
           "config": {**config(protocol, thresholds), "repeat": len(reps)}, "metrics": median_metrics(ok),
           "noise": noise(ok), "replicates": reps}
    if reps[0]["metrics"]["live_heap_delta_bytes"] is None:
        out["unjudged_reasons"] = {"live_heap_bytes_per_request": 'heap = "none": the target is measured by RSS only'}
    return out


def clean(seeds=(1, 2, 3), **kw):
    return result([replicate(s, **kw) for s in seeds], kw.get("protocol", "h2c"))


def failed(report):
    return sorted(c.metric for c in report.failures)


def test_clean_replicates_pass_on_every_check():
    r = gate.evaluate(clean(), clean((4, 5, 6)))
    assert r.verdict == "PASS", [c.long_repr() for c in r.checks if not c.passed]
    assert {"live_heap_slope_bytes_per_request", "rss_slope_bytes_per_request"} <= {c.metric for c in r.checks}
    assert any("range over the baseline's 3 replicates" in n for n in r.notes)


# -- blind spots (each of these passed the gate before) -----------------------------------------
def test_a_leak_in_one_replicate_of_three_fails():
    cand = result([replicate(4), replicate(5), replicate(6, leak=24.0)])  # malloc(16): 24 B usable per request
    r = gate.evaluate(clean(), cand)
    assert r.exit_code == gate.EXIT_REGRESSION and "live_heap_bytes_per_request" in failed(r)
    check = next(c for c in r.failures if c.metric == "live_heap_bytes_per_request")
    assert check.candidate == pytest.approx(24, abs=0.01) and "1 of 3 candidate replicates over the limit" in check.long_repr()


def test_a_noisy_candidate_does_not_widen_its_own_limit():
    cand = result([replicate(4, peak=200 * KIB), replicate(5, peak=3 * MIB), replicate(6, peak=9 * MIB)])
    r = gate.evaluate(clean(), cand)
    assert "peak_rss_growth_bytes" in failed(r)
    peak = next(c for c in r.checks if c.metric == "peak_rss_growth_bytes")
    assert peak.limit < 1 * MIB  # the baseline's tight spread, not the candidate's 9 MiB range


def test_growth_held_per_connection_fails_while_connections_are_open():
    base = result([replicate(1, requests=50_000)])
    cand = result([replicate(2, requests=50_000, held=24.0)])  # 1.2 MB held until close: under the 2 MiB peak floor
    r = gate.evaluate(base, cand)
    assert failed(r) == ["live_heap_slope_bytes_per_request"]
    assert next(c for c in r.checks if c.metric == "peak_rss_growth_bytes").passed


@pytest.mark.parametrize("leak", [24.0, 40.0])
def test_a_short_run_with_a_small_per_request_leak_fails(leak):
    base = clean(requests=2000)
    r = gate.evaluate(base, result([replicate(s, requests=2000, leak=leak) for s in (4, 5, 6)]))
    assert "live_heap_bytes_per_request" in failed(r)
    heap = next(c for c in r.failures if c.metric == "live_heap_bytes_per_request")
    assert "grew by at most 4.0 KiB" in heap.rule  # 64 KiB at 100,000 requests, scaled to 2,000
    assert gate.evaluate(base, clean((4, 5, 6), requests=2000)).verdict == "PASS"


def test_a_threefold_allocated_bytes_increase_fails():
    r = gate.evaluate(clean(), result([replicate(s, allocated=3 * 2030.0) for s in (4, 5, 6)]))
    assert failed(r) == ["allocated_bytes_per_request"]


def test_copying_every_small_body_fails():
    base = clean(protocol="h1")
    cand = result([replicate(s, copied=64.0, protocol="h1") for s in (4, 5, 6)], "h1")
    assert failed(gate.evaluate(base, cand)) == ["bytes_copied_per_response"]


def test_a_candidate_that_relaxes_its_own_threshold_and_leaks_still_fails():
    cand = result([replicate(s, leak=72.0) for s in (4, 5, 6)], thresholds={"live_heap_bytes_per_request_max": 100})
    r = gate.evaluate(clean(), cand)
    assert "live_heap_bytes_per_request" in failed(r) and r.thresholds["live_heap_bytes_per_request_max"] == 8
    assert any("candidate's [thresholds] are ignored" in n and "live_heap_bytes_per_request_max = 100" in n
               for n in r.notes)


def test_an_rss_only_leak_fails_when_the_baselines_rss_is_tight_and_clean_runs_pass():
    rss_only = dict(heap=False, peak=4 * MIB, rss_wobble_pages=1)
    base = clean(**rss_only)
    leaky = result([replicate(s, rss_leak=32.0, **rss_only) for s in (4, 5, 6)])  # malloc(16): 32 B chunks, ~3.1 MiB
    assert statistics.median(r["metrics"]["rss_delta_bytes"] for r in leaky["replicates"]) < 3.2 * MIB
    r = gate.evaluate(base, leaky)
    assert "rss_delta_bytes" in failed(r)
    assert "live_heap_bytes_per_request" in " ".join(r.not_judged)
    assert gate.evaluate(base, clean((4, 5, 6), **rss_only)).verdict == "PASS"


def test_rss_floors_come_from_a_calibration_when_the_baseline_has_one_replicate(tmp_path):
    rss_only = dict(heap=False, peak=4 * MIB, rss_wobble_pages=1)
    base, leaky = result([replicate(1, **rss_only)]), result([replicate(4, rss_leak=32.0, **rss_only)])
    assert "rss_delta_bytes" not in failed(gate.evaluate(base, leaky))  # nothing known: the fixed 8 MiB floor
    cal = calibration.load(write_calibration(tmp_path, {"rss_delta_bytes": 8 * KIB, "peak_rss_growth_bytes": 8 * KIB,
                                                        "rss_slope_bytes_per_request": 0.5}))
    r = gate.evaluate(base, leaky, calibration=cal)
    assert "rss_delta_bytes" in failed(r) and any("calibration's A/A spread" in n for n in r.notes)
    rss = next(c for c in r.checks if c.metric == "rss_delta_bytes")
    assert rss.limit == 64 * PAGE  # 3 x 8 KiB is under the page minimum


def write_calibration(tmp_path, spreads):
    metrics = {name: {"unit": "bytes", "aa_differences": [0.0, spread], "aa_spread": spread, "false_alarms": 0,
                      "minimum_detectable": 3 * spread, "ladder": [], "smallest_caught": None}
               for name, spread in spreads.items()}
    path = tmp_path / "synthetic.calibration.json"
    path.write_text(json.dumps({"schema": calibration.SCHEMA, "scenario": "synthetic", "case": None,
                                "created": "2026-12-01T12:00:00Z", "machine": {}, "commit": None, "target": {},
                                "pairs": 2, "metrics": metrics}))
    return path


# -- three-way verdict and reruns ----------------------------------------------------------------
def noisy_baseline():
    return result([replicate(s, allocated=a) for s, a in zip((1, 2, 3), (2000.0, 2030.0, 2100.0))])


def test_a_replicate_within_the_limit_only_thanks_to_the_noise_is_undecided():
    cand = result([replicate(4), replicate(5), replicate(6, allocated=2700.0)])
    r = gate.evaluate(noisy_baseline(), cand)
    check = next(c for c in r.checks if c.metric == "allocated_bytes_per_request")
    assert check.strict_limit == pytest.approx(1.25 * 2030) and check.limit == pytest.approx(1.25 * 2030 + 300)
    assert r.verdict == "UNDECIDED" and r.exit_code == gate.EXIT_UNDECIDED and not r.failures
    assert "UNDECIDED: allocated_bytes_per_request" in check.long_repr()


@pytest.mark.parametrize("more, verdict", [(2030.0, "PASS"), (2700.0, "FAIL")])
def test_decide_runs_replicates_until_the_majority_decides(more, verdict):
    cand = result([replicate(4), replicate(5), replicate(6, allocated=2700.0)])
    seeds = iter(range(10, 20))
    r = rerun.decide(noisy_baseline(), cand, lambda: result([replicate(next(seeds), allocated=more)]))
    assert r.verdict == verdict and r.reruns == 2 and r.replicates == {"baseline": 3, "candidate": 5}
    assert f"{verdict} after 2 more replicate(s)" in r.notes[-1]


def test_decide_stops_at_the_replicate_and_time_bounds():
    cand = result([replicate(4), replicate(5), replicate(6, allocated=2700.0)])
    def clean_one():
        return result([replicate(9)])

    r = rerun.decide(noisy_baseline(), cand, clean_one, max_replicates=4)
    assert r.verdict == "UNDECIDED" and r.replicates["candidate"] == 4 and "most allowed" in " ".join(r.notes)
    ticks = iter(range(0, 10_000, 100))
    r = rerun.decide(noisy_baseline(), cand, clean_one, max_seconds=150, clock=lambda: next(ticks))
    assert r.verdict == "UNDECIDED" and r.reruns == 1 and "150 s allowed" in " ".join(r.notes)


def test_decide_reports_a_failed_rerun_as_invalid():
    cand = result([replicate(4), replicate(5), replicate(6, allocated=2700.0)])
    broken = {"status": "failed", "failure": {"kind": "server_died", "message": "boom"}, "metrics": None}
    assert rerun.decide(noisy_baseline(), cand, lambda: broken).verdict == "INVALID"


def test_with_replicates_recomputes_medians_and_spread():
    a, b = result([replicate(1, allocated=2000.0)]), result([replicate(2, allocated=2100.0), replicate(3)])
    merged = rerun.with_replicates(a, b)
    assert [r["index"] for r in merged["replicates"]] == [0, 1, 2] and merged["config"]["repeat"] == 3
    assert merged["metrics"]["allocated_bytes_per_request"] == pytest.approx(2030)
    assert merged["noise"]["allocated_bytes_per_request"]["range"] == pytest.approx(100)
