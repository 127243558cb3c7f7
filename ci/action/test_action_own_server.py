"""The action gating another repository's own server, with the real ci/gate.sh: a throwaway
repository holds a tiny C server (harness/testservers/leaky_server.c), a build command and a
scenario whose command [target] starts the built server from {bin}. Its base is clean; one head
adds a 64 B/request leak, one changes nothing that matters, one adds the leak and relaxes the
scenario's thresholds. loadgen, the heap shim and the driver are this checkout's memgate (the
harness a `uses:` line pins), never the repository's.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ci.action.runner_model import ACTION_DIR, EVENT, MARKER, Runner
from ci.test_gate_sh import RELAXED_THRESHOLDS
from harness.driver import binaries, heapshim

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(ACTION_DIR))
BUILD = "mkdir -p out && cc -O2 -o out/tiny-server server.c"
# Small counts: 4,000 requests show a 64 B/request leak through the shim many times over its floor.
SCENARIO = """name = "tiny-server"
description = "The tiny server's memory gate: keep-alive GETs over one connection."
protocol = "h1"
endpoint = "/"
connections = 1
warmup_requests = 200
requests = 4000
sample_interval_ms = 50
time_limit_s = 60

[target]
kind = "command"
argv = ["{bin}/tiny-server", "--port", "{port}"]
heap = "shim"
"""
CLEAN_DEFAULT = "long long leak_bytes = 0;"
LEAKY_DEFAULT = "long long leak_bytes = 64;"


def git(repo, *args) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def memgate_build():
    try:
        binaries.binary("loadgen")
        binaries.binary(heapshim.LIBRARY_NAME)
    except binaries.MissingBinary as e:
        pytest.fail(str(e), pytrace=False)
    return binaries.build_dir()


@pytest.fixture(scope="module")
def server_repo(tmp_path_factory):
    """The repository and its commits: base, and the heads "leak", "clean" and "relaxed-leak"."""
    repo = tmp_path_factory.mktemp("own-server") / "origin"
    git(repo.parent, "init", "-q", str(repo))
    with open(os.path.join(ROOT, "harness", "testservers", "leaky_server.c")) as f:
        source = f.read()
    assert CLEAN_DEFAULT in source, "the heads below change leaky_server.c's default leak"
    (repo / "server.c").write_text(source)
    (repo / "memgate").mkdir()
    (repo / "memgate" / "gate.toml").write_text(SCENARIO)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a tiny server and its memory gate")
    commits = {"base": git(repo, "rev-parse", "HEAD")}

    def head(name, server=source, scenario=SCENARIO, readme=None):
        git(repo, "checkout", "-q", "--detach", commits["base"])
        (repo / "server.c").write_text(server)
        (repo / "memgate" / "gate.toml").write_text(scenario)
        if readme:
            (repo / "README").write_text(readme)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", name)
        commits[name] = git(repo, "rev-parse", "HEAD")

    leaky = source.replace(CLEAN_DEFAULT, LEAKY_DEFAULT)
    head("leak", server=leaky)
    head("clean", readme="A tiny server.\n")
    head("relaxed-leak", server=leaky, scenario=SCENARIO + RELAXED_THRESHOLDS)
    return repo, commits


def run_gate_action(tmp_path, repo, commits, head, memgate_build, comments=()):
    """The action in a fresh clone of the repository (actions/checkout with fetch-depth: 0)."""
    workspace = tmp_path / "workspace"
    subprocess.run(["git", "clone", "-q", str(repo), str(workspace)], check=True)
    runner = Runner(tmp_path, ACTION_DIR, {
        "base-ref": commits["base"], "head-ref": commits[head], "build-command": BUILD,
        "server-path": "out/tiny-server", "server": "memgate/gate.toml", "replicates": "2",
        "memgate-build-dir": memgate_build, "output-dir": "gate-out"}, EVENT, list(comments),
        workspace=workspace, step_timeout=600)
    return runner.run()


def results(r, side: str) -> dict:
    with open(r.workspace / "gate-out" / side / "tiny-server.json") as f:
        return json.load(f)


def test_a_leak_in_the_head_fails_posts_the_comment_and_uploads_the_results(tmp_path, server_repo, memgate_build):
    repo, commits = server_repo
    r = run_gate_action(tmp_path, repo, commits, "leak", memgate_build)
    assert r.failed
    assert r.outputs()["verdict"] == "FAIL" and r.outputs()["exit-code"] == "1", r.logs[0]
    summary = r.summary.read_text()
    assert "live_heap_bytes_per_request" in summary
    assert f"Run order: A B B A (A = base {commits['base'][:12]}, B = head {commits['leak'][:12]})" in summary
    calls = r.gh()
    assert [c["argv"][:3] for c in calls[1:]] == [["api", "-X", "POST"]]
    assert calls[1]["input"]["body"].startswith(MARKER + "\n") and "live_heap_bytes_per_request" in calls[1]["input"]["body"]
    assert r.uses == [("actions/upload-artifact@v4", {"name": "memgate-gate", "path": "gate-out",
                                                      "if-no-files-found": "warn"})]
    assert (r.workspace / "gate-out" / "report.html").exists()
    head, base = results(r, "head"), results(r, "base")
    assert head["commit_info"]["id"] == commits["leak"] and base["commit_info"]["id"] == commits["base"]
    assert head["metrics"]["live_heap_bytes_per_request"] >= 64
    assert base["metrics"]["allocations_per_request"] < 0.05  # the clean server allocates nothing per request
    assert len(git(r.workspace, "worktree", "list").splitlines()) == 1


def test_a_clean_head_passes_and_updates_the_one_comment(tmp_path, server_repo, memgate_build):
    repo, commits = server_repo
    r = run_gate_action(tmp_path, repo, commits, "clean", memgate_build,
                        comments=[[{"id": 41, "body": f"{MARKER}\nthe last push's report"}]])
    assert not r.failed, r.logs
    assert r.outputs()["verdict"] == "PASS" and r.outputs()["exit-code"] == "0"
    calls = r.gh()
    assert [c["argv"][:4] for c in calls[1:]] == [["api", "-X", "PATCH", "repos/octo/server/issues/comments/41"]]
    assert (r.workspace / "gate-out" / "report.md").read_text() in r.summary.read_text()


def test_a_head_that_relaxes_its_scenario_and_leaks_still_fails(tmp_path, server_repo, memgate_build):
    repo, commits = server_repo
    r = run_gate_action(tmp_path, repo, commits, "relaxed-leak", memgate_build)
    assert r.failed
    assert r.outputs()["verdict"] == "FAIL", r.logs[0]
    head = results(r, "head")
    assert head["commit_info"]["id"] == commits["relaxed-leak"]
    assert not head["config"]["thresholds"]  # the base's scenario ran, not the head's relaxed one
