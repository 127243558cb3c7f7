"""End to end: refserver measured from outside, its process tree in every sample, its own memory cgroup."""

import os
import subprocess

import pytest

from analysis.metrics import METRICS
from harness.driver import scenario as sc
from harness.driver.binaries import REPO_ROOT
from harness.driver.cgroup import CgroupUnavailable, find_memory_hierarchy
from harness.driver.conftest import assert_no_strays
from harness.driver.runner import run_scenario
from harness.results.atomic import write_json

pytestmark = pytest.mark.e2e

SMALL = {"requests": 10000, "warmup_requests": 1000, "time_limit_s": 60, "sample_interval_ms": 25}
TREE = ("tree_processes", "tree_rss_bytes", "tree_rss_anon_bytes", "tree_pss_bytes", "tree_syscalls_read",
        "tree_syscalls_write", "tree_context_switches", "tree_cpu_s")


def cgroup_possible() -> bool:
    try:
        find_memory_hierarchy()
    except CgroupUnavailable:
        return False
    return os.geteuid() == 0


@pytest.fixture(scope="module")
def result(built):
    r = run_scenario(sc.from_dict({"name": "outside", **SMALL}, source="test"))
    assert_no_strays(r)
    assert r["status"] == "ok", r["failure"]
    return r


def test_every_sample_holds_the_process_tree(result):
    rep = result["replicates"][0]
    for point in [rep["start_sample"], *rep["timeline"], rep["end_sample"]]:
        assert all(point.get(k) is not None for k in TREE), point
        assert point["tree_processes"] == 1  # refserver does not fork
    # One process: its tree RSS is the sampler's own smaps_rollup reading, taken moments apart under load.
    assert all(abs(p["tree_rss_bytes"] - p["rss_bytes"]) <= 1 << 20 for p in rep["timeline"])
    counters = [p["tree_context_switches"] for p in rep["timeline"]]
    assert counters == sorted(counters) and counters[-1] > counters[0]
    assert rep["end_sample"]["tree_cpu_s"] > rep["start_sample"]["tree_cpu_s"]


def test_the_result_keeps_per_process_figures(result):
    rep = result["replicates"][0]
    (server,) = rep["processes"]
    assert server["pid"] == rep["server"]["pid"] and server["comm"].startswith("refserver")
    assert server["rss_bytes"] == rep["end_sample"]["tree_rss_bytes"] and server["cpu_s"] > 0


def test_outside_metrics_are_present(result):
    m = result["metrics"]
    assert m["tree_processes"] == 1 and isinstance(m["tree_rss_delta_bytes"], int)
    assert m["syscalls_read_per_request"] >= 0 and m["context_switches_per_request"] > 0
    assert 0 < m["cpu_us_per_request"] < 10000
    assert [x.name for x in METRICS] == list(result["replicates"][0]["metrics"])


@pytest.mark.skipif(not cgroup_possible(), reason="no memory cgroup can be made here (not root, or no controller)")
def test_the_server_ran_in_its_own_cgroup_which_is_gone(result):
    rep = result["replicates"][0]
    assert "path" in rep["cgroup"], rep["cgroup"]
    assert not os.path.exists(rep["cgroup"]["path"])
    end = rep["end_sample"]
    assert 0 < end["cgroup_anon_bytes"] <= end["cgroup_usage_bytes"] <= end["cgroup_peak_bytes"]
    m = result["metrics"]
    explained = m["rss_explained"]
    assert explained["anon_bytes"] == end["cgroup_anon_bytes"]
    assert explained["allocator_kept_bytes"] == end["cgroup_anon_bytes"] - end["live_heap_bytes"]
    assert m["cgroup_peak_bytes"] >= end["cgroup_usage_bytes"]
    assert m["cgroup_sock_peak_bytes"] > 0  # responses queued in socket buffers under load, charged to the server
    assert not any("cgroup" in w for w in result["warnings"])


def test_the_stored_baseline_still_compares(result, tmp_path):
    new = tmp_path / "new.json"
    write_json(str(new), result)
    p = subprocess.run([os.path.join(REPO_ROOT, "memgate"), "compare", os.path.join(REPO_ROOT, "ci/baselines/default.json"),
                        str(new)], capture_output=True, text=True, timeout=60)
    assert p.returncode in (0, 1), p.stderr
    assert "sources: " in p.stdout and "verdict" in p.stdout
