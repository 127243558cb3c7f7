import copy
import json
import os

import pytest

from analysis import gate

DATA = os.path.join(os.path.dirname(__file__), "testdata")
MIB = 1 << 20


def load(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)


def failed_metrics(report):
    return sorted(c.metric for c in report.failures)


def test_clean_candidate_passes():
    r = gate.evaluate(load("baseline_writev.json"), load("candidate_writev.json"))
    assert r.exit_code == gate.EXIT_PASS and r.verdict == "PASS" and not r.failures
    assert {c.metric for c in r.checks} == {"live_heap_bytes_per_request", "rss_delta_bytes", "peak_rss_growth_bytes",
                                            "bytes_copied_per_response", "client_failures"}


def test_buffered_fails_on_peak_rss_and_copies():
    r = gate.evaluate(load("baseline_writev.json"), load("candidate_buffered.json"))
    assert r.exit_code == gate.EXIT_REGRESSION
    assert failed_metrics(r) == ["bytes_copied_per_response", "peak_rss_growth_bytes"]
    peak = next(c for c in r.failures if c.metric == "peak_rss_growth_bytes")
    assert peak.limit == 2 * MIB  # floor beats 2 x 230 KiB
    text = peak.long_repr()
    assert "4.2 MiB" in text and "230.0 KiB" in text and "limit 2.0 MiB" in text


def test_leak_fails_on_live_heap_only():
    r = gate.evaluate(load("baseline_writev.json"), load("candidate_leak.json"))
    assert failed_metrics(r) == ["live_heap_bytes_per_request"]
    c = r.failures[0]
    assert c.candidate == pytest.approx(72.015) and c.limit == 8
    assert "72.02 bytes/request" in c.long_repr() and "limit 8 bytes/request" in c.long_repr()


def test_client_failures_fail():
    r = gate.evaluate(load("baseline_writev.json"), load("candidate_failures.json"))
    assert failed_metrics(r) == ["client_failures"]


@pytest.mark.parametrize("which", ["baseline", "candidate"])
def test_failed_measurement_is_invalid(which):
    good, bad = load("baseline_writev.json"), load("failed.json")
    args = (bad, good) if which == "baseline" else (good, bad)
    r = gate.evaluate(*args)
    assert r.exit_code == gate.EXIT_INVALID and r.verdict == "INVALID"
    assert any(f"{which} is a failed measurement (server_died)" in p for p in r.invalid)


def test_missing_metric_is_not_judged_and_the_rest_is():
    cand = load("candidate_writev.json")
    del cand["metrics"]["peak_rss_growth_bytes"]
    r = gate.evaluate(load("baseline_writev.json"), cand)
    assert r.verdict == "PASS" and "peak_rss_growth_bytes" not in [c.metric for c in r.checks]
    assert r.not_judged[0] == "peak_rss_growth_bytes missing from the candidate"
    assert "not judged: peak_rss_growth_bytes" in " ".join(r.notes)


def test_rss_only_result_is_judged_on_rss_and_says_why_not_on_live_heap():
    base, cand = load("baseline_writev.json"), load("candidate_leak.json")
    for result in (base, cand):
        result["metrics"]["live_heap_bytes_per_request"] = result["metrics"]["live_heap_delta_bytes"] = None
        result["unjudged_reasons"] = {"live_heap_bytes_per_request": 'heap = "none": the target is measured by RSS only'}
    r = gate.evaluate(base, cand)
    assert r.exit_code != gate.EXIT_INVALID and "rss_delta_bytes" in [c.metric for c in r.checks]
    assert r.not_judged[0] == ("live_heap_bytes_per_request, live_heap_delta_bytes missing from the baseline: "
                               'heap = "none": the target is measured by RSS only')


def test_nothing_to_judge_is_invalid():
    base, cand = load("baseline_writev.json"), load("candidate_writev.json")
    cand["metrics"] = {"requests_completed": cand["metrics"]["requests_completed"]}
    r = gate.evaluate(base, cand)
    assert r.verdict == "INVALID" and r.invalid[0].startswith("nothing to judge: live_heap_bytes_per_request, live_heap_delta_bytes missing")


def test_relative_limit_uses_factor_and_noise():
    base = load("baseline_noisy.json")  # rss 2 MiB, range 3 MiB; peak 3 MiB, range 3 MiB
    cand = load("candidate_writev.json")
    cand["metrics"]["rss_delta_bytes"] = 14 * MIB
    cand["metrics"]["peak_rss_growth_bytes"] = 16 * MIB
    r = gate.evaluate(base, cand)
    rss = next(c for c in r.checks if c.metric == "rss_delta_bytes")
    peak = next(c for c in r.checks if c.metric == "peak_rss_growth_bytes")
    assert rss.limit == 3 * 2 * MIB + 3 * 3 * MIB  # 15 MiB > 8 MiB floor
    # 14 MiB is over 3 x baseline (6 MiB) and within the limit only thanks to the noise: too noisy to tell
    assert rss.outcome == gate.UNDECIDED and rss.strict_limit == 3 * 2 * MIB and rss not in r.failures
    assert peak.limit == 2 * 3 * MIB + 3 * 3 * MIB  # 15 MiB
    assert not peak.passed
    # without the noise, the same candidate fails RSS too
    base["noise"] = {}
    assert "rss_delta_bytes" in failed_metrics(gate.evaluate(base, cand))


def test_scenario_thresholds_override_defaults():
    base, cand = load("baseline_writev.json"), load("candidate_leak.json")
    base["config"]["thresholds"] = {"live_heap_bytes_per_request_max": 100}
    assert gate.evaluate(base, cand).exit_code == 0
    base["config"]["thresholds"] = {"bogus": 1}
    assert gate.evaluate(base, cand).exit_code == 2


def test_absolute_rss_floor_catches_big_growth_without_baseline_growth():
    base, cand = load("baseline_writev.json"), load("candidate_writev.json")
    cand["metrics"]["rss_delta_bytes"] = 9 * MIB
    assert failed_metrics(gate.evaluate(base, cand)) == ["rss_delta_bytes"]


def test_notes_when_configs_differ():
    base, cand = load("baseline_writev.json"), copy.deepcopy(load("candidate_writev.json"))
    cand["config"]["endpoint"] = "/bytes/10"
    assert any("endpoint" in n for n in gate.evaluate(base, cand).notes)


def _with_allocations(result, allocations, allocated_bytes):
    result = copy.deepcopy(result)
    result["metrics"]["allocations_per_request"] = allocations
    result["metrics"]["allocated_bytes_per_request"] = allocated_bytes
    return result


def test_allocation_churn_fails_the_gate_even_when_memory_is_flat():
    baseline = _with_allocations(load("baseline_writev.json"), 12.0, 3000.0)
    same = _with_allocations(load("candidate_writev.json"), 12.5, 3100.0)
    assert gate.evaluate(baseline, same).exit_code == gate.EXIT_PASS
    churn = _with_allocations(load("candidate_writev.json"), 30.0, 3100.0)
    assert failed_metrics(gate.evaluate(baseline, churn)) == ["allocations_per_request"]
    copies = _with_allocations(load("candidate_writev.json"), 12.0, 3000.0 + 262144)
    report = gate.evaluate(baseline, copies)
    assert failed_metrics(report) == ["allocated_bytes_per_request"]
    assert "allocated_bytes_per_request_factor 1.25 x baseline" in report.failures[0].long_repr()


def test_results_without_allocation_figures_are_noted_not_failed():
    r = gate.evaluate(load("baseline_writev.json"), load("candidate_writev.json"))
    assert any("allocations_per_request missing" in n for n in r.notes)


def test_live_heap_floor_forgives_bookkeeping_in_short_runs_but_not_a_leak():
    base = load("baseline_writev.json")
    cand = copy.deepcopy(load("candidate_writev.json"))
    cand["metrics"].update(requests_completed=32, live_heap_delta_bytes=440, live_heap_bytes_per_request=440 / 32)
    assert gate.evaluate(base, cand).exit_code == gate.EXIT_PASS
    cand["metrics"].update(live_heap_delta_bytes=32 * 4096, live_heap_bytes_per_request=4096)
    r = gate.evaluate(base, cand)
    assert failed_metrics(r) == ["live_heap_bytes_per_request"]
    assert "live_heap_delta_bytes_floor 64.0 KiB" in r.failures[0].long_repr()


def test_a_candidate_stopped_at_its_memory_ceiling_is_a_regression_not_invalid():
    base = load("baseline_writev.json")
    stopped = {"tool": "memgate", "status": "failed", "metrics": None,
               "failure": {"kind": "memory_ceiling", "rss_bytes": 300 * MIB, "limit_bytes": 256 * MIB,
                           "message": "server RSS reached 300 MiB, over the memory ceiling of 256 MiB"}}
    r = gate.evaluate(base, stopped)
    assert r.exit_code == gate.EXIT_REGRESSION
    assert [(c.metric, c.candidate, c.limit) for c in r.failures] == [("peak_rss_bytes", 300 * MIB, 256 * MIB)]
    assert "over the memory ceiling" in r.notes[0]
    # As the baseline, a stopped run measured nothing to compare with.
    assert gate.evaluate(stopped, base).exit_code == gate.EXIT_INVALID
