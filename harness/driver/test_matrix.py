"""memgate matrix / merge: expansion into results, resume, shards, merge; fakes first, then the real binaries."""

import io
import json
import os
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from harness.driver import identity, matrix
from harness.driver.binaries import REPO_ROOT
from harness.driver.conftest import assert_no_strays
from harness.driver.runner import RUN_ID_ENV
from harness.results import files as result_files, index as matrix_index

MEMGATE = os.path.join(REPO_ROOT, "memgate")

MATRIX = """
description = "test matrix"
warmup_requests = 0
[matrix]
protocol = ["h1", "h2c", "h2-tls"]
copy = ["writev", "buffered"]
exclude = [{ protocol = "h2-tls", copy = "buffered" }]
"""


def fake_result(scenario, status="ok"):
    return {"schema_version": 1, "tool": "memgate", "status": status, "run_id": uuid.uuid4().hex, "wall_s": 0.01,
            "failure": None if status == "ok" else {"kind": "server_died", "message": "boom"},
            "scenario": {"name": scenario.name}, "config": scenario.config,
            "metrics": {"requests_per_s": 1000.0} if status == "ok" else None, "replicates": []}


class Recorder:
    def __init__(self, interrupt_at=None, fail=()):
        self.ran = []
        self.interrupt_at = interrupt_at
        self.fail = set(fail)

    def __call__(self, scenario):
        if self.interrupt_at is not None and len(self.ran) == self.interrupt_at:
            raise KeyboardInterrupt
        self.ran.append(scenario.name)
        return fake_result(scenario, "failed" if scenario.name in self.fail else "ok")


@pytest.fixture
def cases(tmp_path):
    path = tmp_path / "mx.toml"
    path.write_text(MATRIX)
    return str(path), matrix.collect([str(path)])


def test_expanded_cases_are_run_and_indexed(tmp_path, cases):
    path, cs = cases
    out = tmp_path / "out"
    rec = Recorder()
    progress = io.StringIO()
    index = matrix.run_matrix(cs, [path], str(out), runner=rec, progress=progress)
    assert len(cs) == 5 and rec.ran == [c.name for c in cs]
    assert "mx.protocol-h2-tls.copy-buffered" not in rec.ran
    on_disk = json.loads((out / "index.json").read_text())
    assert on_disk == index and index["total_cases"] == 5
    assert [e["status"] for e in index["cases"]] == ["ok"] * 5
    assert all(set(e) == {*matrix_index.CASE_KEYS, matrix_index.RERUN_REASON} for e in index["cases"])
    for e in index["cases"]:
        r = result_files.load(str(out / e["result"]))
        assert r["matrix"]["digest"] == e["digest"] and r["matrix"]["params"] == e["params"]
    text = progress.getvalue()
    assert "[1/5] mx.protocol-h1.copy-writev: running" in text and "[5/5]" in text
    assert "req/s" in text and "elapsed" in text and "estimated remaining" in text
    assert not [f for f in os.listdir(out) if f.startswith(".tmp-")]


def test_interrupted_matrix_resumes_without_rerunning_finished_cases(tmp_path, cases):
    path, cs = cases
    out = str(tmp_path / "out")
    first = Recorder(interrupt_at=2)
    with pytest.raises(KeyboardInterrupt):
        matrix.run_matrix(cs, [path], out, runner=first, progress=io.StringIO())
    index = json.loads(open(os.path.join(out, "index.json")).read())
    assert [e["status"] for e in index["cases"]] == ["ok", "ok", "pending", "pending", "pending"]
    run_ids = {e["name"]: e["run_id"] for e in index["cases"][:2]}
    second = Recorder()
    progress = io.StringIO()
    index = matrix.run_matrix(cs, [path], out, runner=second, progress=progress)
    assert second.ran == [c.name for c in cs[2:]]
    assert "2 already done, 3 to run" in progress.getvalue()
    assert [e["status"] for e in index["cases"]] == ["ok"] * 5
    assert {e["name"]: e["run_id"] for e in index["cases"][:2]} == run_ids
    # failed cases and cases whose config changed are run again
    third = Recorder(fail={cs[0].name})
    matrix.run_matrix(cs, [path], out, runner=third, progress=io.StringIO())
    assert third.ran == []
    changed = matrix.collect([path], [("requests", 77)])
    fourth = Recorder(fail={cs[1].name})
    index = matrix.run_matrix(changed, [path], out, runner=fourth, progress=io.StringIO())
    assert fourth.ran == [c.name for c in cs]
    assert index["cases"][1]["status"] == "failed"
    fifth = Recorder()
    matrix.run_matrix(changed, [path], out, runner=fifth, progress=io.StringIO())
    assert fifth.ran == [cs[1].name]


ALLOCATORS = """
description = "two builds"
[matrix]
allocator = ["glibc", "jemalloc"]
"""


def fake_build(directory, contents):
    """A build dir whose bin/ holds the named files (not ELF: identified by their sha256)."""
    os.makedirs(directory / "bin", exist_ok=True)
    for name, text in contents.items():
        path = directory / "bin" / name
        path.write_text(text)
        path.chmod(0o755)
    return str(directory)


def test_resume_reruns_only_the_case_whose_binary_changed(tmp_path, monkeypatch):
    path = tmp_path / "alloc.toml"
    path.write_text(ALLOCATORS)
    files = {"refserver-glibc": "glibc v1", "refserver-jemalloc": "jemalloc v1", "loadgen": "loadgen v1"}
    monkeypatch.setenv("MEMGATE_BUILD_DIR", fake_build(tmp_path / "build", files))
    out = str(tmp_path / "out")
    cs = matrix.collect([str(path)])
    matrix.run_matrix(cs, [str(path)], out, runner=Recorder(), progress=io.StringIO())
    glibc, jemalloc = (result_files.load(os.path.join(out, f"{c.name}.json")) for c in cs)
    assert set(glibc["matrix"]["binaries"]) == {"refserver-glibc", "loadgen"}
    # a rebuild changed one file; the copy of the build dir it came from is untouched
    rebuilt = fake_build(tmp_path / "rebuilt", {**files, "refserver-jemalloc": "jemalloc v2"})
    monkeypatch.setenv("MEMGATE_BUILD_DIR", rebuilt)
    again, progress = Recorder(), io.StringIO()
    index = matrix.run_matrix(matrix.collect([str(path)]), [str(path)], out, runner=again, progress=progress)
    assert again.ran == [cs[1].name]
    assert [e["rerun_reason"] for e in index["cases"]] == [None, "stale: refserver-jemalloc changed"]
    assert "1 already done, 1 to run" in progress.getvalue() and "stale: refserver-jemalloc changed" in progress.getvalue()
    assert index["cases"][0]["run_id"] == glibc["run_id"] and index["cases"][1]["run_id"] != jemalloc["run_id"]
    assert index["matrix_id"] == json.loads(open(os.path.join(out, "index.json")).read())["matrix_id"]
    # loadgen serves both cases: a new one makes both stale
    monkeypatch.setenv("MEMGATE_BUILD_DIR", fake_build(tmp_path / "rebuilt", {"loadgen": "loadgen v2"}))
    index = matrix.run_matrix(matrix.collect([str(path)]), [str(path)], out, runner=Recorder(), progress=io.StringIO())
    assert [e["rerun_reason"] for e in index["cases"]] == ["stale: loadgen changed"] * 2


@pytest.mark.parametrize("count", [2, 3, 5])
def test_shards_partition_the_matrix_and_merge_to_the_unsharded_index(tmp_path, cases, count):
    path, cs = cases
    whole = matrix.run_matrix(cs, [path], str(tmp_path / "whole"), runner=Recorder(), progress=io.StringIO())
    ran, dirs = [], []
    for i in range(1, count + 1):
        rec = Recorder()
        d = str(tmp_path / f"shard{i}")
        idx = matrix.run_matrix(cs, [path], d, shard=(i, count), runner=rec, progress=io.StringIO())
        assert idx["shard"] == {"index": i, "count": count}
        assert {e["name"] for e in idx["cases"] if e["status"] == "ok"} == set(rec.ran)
        ran += rec.ran
        dirs.append(d)
    assert sorted(ran) == sorted(c.name for c in cs)  # every case exactly once
    # deterministic: the same slice every time
    again = Recorder()
    matrix.run_matrix(cs, [path], str(tmp_path / "again"), shard=(1, count), runner=again, progress=io.StringIO())
    assert again.ran == [c.name for c in cs if c.ordinal % count == 0]
    merged, problems = matrix_index.merge(dirs[::-1], str(tmp_path / "merged"))
    assert problems == []
    assert _shape(merged) == _shape(whole)
    assert sorted(f for f in os.listdir(tmp_path / "merged")) == sorted(os.listdir(tmp_path / "whole"))


def _shape(index):
    """An index without the per-run values (run ids, timings)."""
    volatile = {"wall_s", "requests_per_s", "run_id"}
    return {**{k: v for k, v in index.items() if k != "cases"},
            "cases": [{k: v for k, v in e.items() if k not in volatile} for e in index["cases"]]}


def test_merge_reports_missing_shards_and_refuses_foreign_ones(tmp_path, cases):
    path, cs = cases
    d1 = str(tmp_path / "s1")
    matrix.run_matrix(cs, [path], d1, shard=(1, 2), runner=Recorder(), progress=io.StringIO())
    merged, problems = matrix_index.merge([d1], str(tmp_path / "m"))
    assert len(problems) == 2 and all("in none of the directories" in p for p in problems)
    assert [e["status"] for e in merged["cases"]].count("pending") == 2
    other = matrix.collect([path], [("requests", 5)])
    d2 = str(tmp_path / "s2")
    matrix.run_matrix(other, [path], d2, shard=(2, 2), runner=Recorder(), progress=io.StringIO())
    with pytest.raises(matrix_index.MatrixError, match="another matrix"):
        matrix_index.merge([d1, d2], str(tmp_path / "m2"))
    with pytest.raises(matrix_index.MatrixError, match="no index.json"):
        matrix_index.merge([str(tmp_path)], str(tmp_path / "m3"))


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_shard_is_rejected_quoting_it(text):
    p = subprocess.run([MEMGATE, "matrix", "scenarios/ci-gate.toml", "--shard", text], capture_output=True, text=True,
                       cwd=REPO_ROOT, timeout=60)
    assert p.returncode == 2 and repr(text) in p.stderr


# -- end to end, real refserver and loadgen -------------------------------------------------------
E2E = """
description = "e2e matrix"
warmup_requests = 100
requests = 1500
connections = 2
streams = 4
endpoint = "/bytes/16384"
sample_interval_ms = 50
[matrix]
protocol = ["h2c", "h1"]
exclude = [{ protocol = "h1" }]
include = [{ protocol = "h1", streams = 1 }, { name = "mix", endpoints = [{ path = "/bytes/64", weight = 3 }, { path = "/json?items=3", weight = 1 }] }]
"""


def _memgate(*args, env=None, timeout=180):
    return subprocess.run([MEMGATE, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
                          env={**os.environ, **(env or {})})


@pytest.mark.e2e
def test_e2e_sharded_matrix_merges_to_the_unsharded_index(built, tmp_path):
    path = tmp_path / "e2e.toml"
    path.write_text(E2E)
    p = _memgate("matrix", str(path), "-o", str(tmp_path / "whole"))
    assert p.returncode == 0, p.stderr
    assert "[3/3] e2e.mix: ok" in p.stderr and "req/s" in p.stderr
    whole = matrix_index.load_index(str(tmp_path / "whole"))
    mix = result_files.load(str(tmp_path / "whole" / "e2e.mix.json"))
    assert mix["metrics"]["requests_completed"] == 1500 and mix["config"]["endpoints"][1]["path"] == "/json?items=3"
    assert "--weights" in mix["replicates"][0]["loadgen"]["argv"]
    for i in (1, 2):
        p = _memgate("matrix", str(path), "--shard", f"{i}/2", "-o", str(tmp_path / f"s{i}"))
        assert p.returncode == 0, p.stderr
    p = _memgate("merge", str(tmp_path / "s1"), str(tmp_path / "s2"), "-o", str(tmp_path / "merged"))
    assert p.returncode == 0, p.stderr
    merged = matrix_index.load_index(str(tmp_path / "merged"))
    assert _shape(merged) == _shape(whole)
    for e in merged["cases"]:
        assert result_files.load(str(tmp_path / "merged" / e["result"]))["status"] == "ok"


@pytest.mark.e2e
def test_e2e_interrupted_matrix_resumes(built, tmp_path):
    path = tmp_path / "e2e.toml"
    path.write_text(E2E)
    out = tmp_path / "out"
    run_id = uuid.uuid4().hex
    proc = subprocess.Popen([MEMGATE, "matrix", str(path), "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO_ROOT, env={**os.environ, RUN_ID_ENV: run_id})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            idx = json.loads((out / "index.json").read_text())
            if idx["cases"][0]["status"] == "ok":
                break
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the first case never finished")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "run the same command again to resume" in err
    assert_no_strays(run_id)
    idx = matrix_index.load_index(str(out))
    done = [e for e in idx["cases"] if e["status"] == "ok"]
    assert 1 <= len(done) < 3
    p = _memgate("matrix", str(path), "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert f"{len(done)} already done, {3 - len(done)} to run" in p.stderr
    final = matrix_index.load_index(str(out))
    assert [e["status"] for e in final["cases"]] == ["ok"] * 3
    assert [e["run_id"] for e in final["cases"][:len(done)]] == [e["run_id"] for e in done]


@pytest.mark.e2e
def test_e2e_resume_after_a_rebuild_reruns_the_case_on_the_new_binary(built, tmp_path):
    """A copy of the build dir where one binary has another GNU build id (what a rebuild gives)."""
    path = tmp_path / "alloc.toml"
    path.write_text(ALLOCATORS.replace("[matrix]", "requests = 1000\nwarmup_requests = 100\n[matrix]"))
    build = tmp_path / "build"
    os.makedirs(build / "bin")
    for name in ("refserver-glibc", "refserver-jemalloc", "loadgen"):
        shutil.copy2(os.path.join(os.path.dirname(built["loadgen"]), name), build / "bin" / name)
    env = {"MEMGATE_BUILD_DIR": str(build)}
    out = str(tmp_path / "out")
    p = _memgate("matrix", str(path), "-o", out, env=env)
    assert p.returncode == 0, p.stderr
    first = matrix_index.load_index(out)
    jemalloc = build / "bin" / "refserver-jemalloc"
    old_id = identity.gnu_build_id(str(jemalloc))
    data = jemalloc.read_bytes()
    at = data.index(bytes.fromhex(old_id))
    jemalloc.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:])
    assert identity.gnu_build_id(str(jemalloc)) not in (None, old_id)
    p = _memgate("matrix", str(path), "-o", out, env=env)
    assert p.returncode == 0, p.stderr
    assert "1 already done, 1 to run" in p.stderr and "stale: refserver-jemalloc changed" in p.stderr
    index = matrix_index.load_index(out)
    assert [e["rerun_reason"] for e in index["cases"]] == [None, "stale: refserver-jemalloc changed"]
    assert index["cases"][0]["run_id"] == first["cases"][0]["run_id"] != index["cases"][1]["run_id"]
    rerun = result_files.load(os.path.join(out, index["cases"][1]["result"]))
    assert rerun["status"] == "ok"
    assert rerun["matrix"]["binaries"]["refserver-jemalloc"] == f"build-id:{identity.gnu_build_id(str(jemalloc))}"
