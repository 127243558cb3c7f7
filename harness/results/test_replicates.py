import json
import os
import statistics

import pytest

from harness.results import replicates
from harness.results.index import MatrixError, header, load_index, write_index
from harness.results.schema import SCHEMA_VERSION


def summarize(metrics):
    values = [m["live_heap_delta_bytes"] for m in metrics]
    return {"live_heap_delta_bytes": statistics.median(values)}, {"live_heap_delta_bytes": {"range": max(values) - min(values)}}


def step_dir(path, matrix_id, heaps, status="ok"):
    """A matrix directory of one case whose result holds one replicate per value in heaps."""
    os.makedirs(path)
    reps = [{"index": i, "status": status, "metrics": {"live_heap_delta_bytes": h}} for i, h in enumerate(heaps)]
    result = {"tool": "memgate", "schema_version": SCHEMA_VERSION, "status": status, "run_id": os.path.basename(path),
              "failure": None if status == "ok" else {"kind": "server_died", "message": "x"},
              "config": {"repeat": len(heaps)}, "wall_s": 1.5, "warnings": [f"w-{os.path.basename(path)}"],
              "metrics": {"live_heap_delta_bytes": heaps[0]}, "noise": {}, "replicates": reps}
    with open(os.path.join(path, "c.json"), "w") as f:
        json.dump(result, f)
    case = {"ordinal": 0, "name": "c", "file": "s.toml", "params": {}, "digest": "d", "shard": None, "result": "c.json",
            "status": status, "failure_kind": None, "wall_s": 1.5, "requests_per_s": None, "run_id": None}
    write_index(str(path), {**header(matrix_id, ["s.toml"], 1, None), "cases": [case]})
    return str(path)


def test_join_keeps_every_replicate_in_step_order_and_recomputes_the_metrics(tmp_path):
    dirs = [step_dir(tmp_path / "a0", "m", [100]), step_dir(tmp_path / "a1", "m", [900]),
            step_dir(tmp_path / "a2", "m", [300, 200])]
    index = replicates.join_dirs(dirs, str(tmp_path / "joined"), summarize)
    assert load_index(str(tmp_path / "joined")) == index and index["cases"][0]["status"] == "ok"
    with open(tmp_path / "joined" / "c.json") as f:
        joined = json.load(f)
    assert [r["metrics"]["live_heap_delta_bytes"] for r in joined["replicates"]] == [100, 900, 300, 200]
    assert [r["index"] for r in joined["replicates"]] == [0, 1, 2, 3]
    assert [r["joined_from"] for r in joined["replicates"]] == [dirs[0], dirs[1], dirs[2], dirs[2]]
    assert joined["metrics"] == {"live_heap_delta_bytes": 250} and joined["noise"]["live_heap_delta_bytes"]["range"] == 800
    assert joined["config"]["repeat"] == 4 and joined["wall_s"] == 4.5
    assert joined["warnings"] == ["w-a0", "w-a1", "w-a2"]


def test_a_failed_step_fails_the_joined_case_naming_its_directory(tmp_path):
    dirs = [step_dir(tmp_path / "a0", "m", [100]), step_dir(tmp_path / "a1", "m", [5], status="failed")]
    index = replicates.join_dirs(dirs, str(tmp_path / "joined"), summarize)
    assert index["cases"][0]["status"] == "failed" and index["cases"][0]["failure_kind"] == "server_died"
    with open(tmp_path / "joined" / "c.json") as f:
        joined = json.load(f)
    assert joined["failure"]["joined_from"] == dirs[1] and joined["metrics"] == {"live_heap_delta_bytes": 100}


def test_directories_of_different_matrices_do_not_join(tmp_path):
    dirs = [step_dir(tmp_path / "a0", "m1", [1]), step_dir(tmp_path / "a1", "m2", [1])]
    with pytest.raises(MatrixError, match="another matrix"):
        replicates.join_dirs(dirs, str(tmp_path / "joined"), summarize)
