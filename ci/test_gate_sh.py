"""ci/gate.sh argument and ref checks (the full two-ref build is run by hand, not here)."""

import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GATE = os.path.join(ROOT, "ci", "gate.sh")


def gate(*args, env=None):
    return subprocess.run(["bash", GATE, *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def worktrees():
    return subprocess.run(["git", "-C", ROOT, "worktree", "list"], capture_output=True, text=True).stdout


@pytest.mark.parametrize("args,which", [
    (("no-such-ref-xyz", "HEAD"), "BASE_REF 'no-such-ref-xyz'"),
    (("HEAD", "no-such-ref-xyz"), "HEAD_REF 'no-such-ref-xyz'"),
    (("HEAD", "0000000000000000000000000000000000000000"), "HEAD_REF '0000000000000000000000000000000000000000'"),
    (("HEAD", "HEAD:README.md"), "HEAD_REF 'HEAD:README.md'"),  # a blob, not a commit
])
def test_bad_refs_exit_2_naming_the_ref(tmp_path, args, which):
    before = worktrees()
    p = gate(*args, "-o", str(tmp_path / "out"))
    assert p.returncode == 2, p.stdout + p.stderr
    assert which in p.stderr and "is not a commit" in p.stderr
    assert "== build" not in p.stdout  # refused before building anything
    assert worktrees() == before


@pytest.mark.parametrize("args,message", [
    ((), "expected two refs"),
    (("HEAD",), "expected two refs"),
    (("HEAD", "HEAD", "--bogus"), "unknown argument '--bogus'"),
    (("HEAD", "HEAD", "-o"), "-o needs a directory"),
])
def test_bad_arguments_exit_2_with_usage(args, message):
    p = gate(*args)
    assert p.returncode == 2 and message in p.stderr and "usage: ci/gate.sh BASE_REF HEAD_REF" in p.stderr


def test_workflows_call_the_scripts():
    with open(os.path.join(ROOT, ".github", "workflows", "memgate-gate.yml")) as f:
        gate_yml = f.read()
    assert "pull_request" in gate_yml and "bash ci/gate.sh" in gate_yml and "GITHUB_STEP_SUMMARY" in gate_yml
    assert "upload-artifact" in gate_yml and "fetch-depth: 0" in gate_yml
    with open(os.path.join(ROOT, ".github", "workflows", "memgate-matrix.yml")) as f:
        matrix_yml = f.read()
    assert "--shard ${{ matrix.shard }}/$SHARDS" in matrix_yml and "./memgate merge" in matrix_yml
    assert "./memgate report" in matrix_yml
