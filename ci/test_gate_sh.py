"""ci/gate.sh: argument and ref checks, and the trusted gate end to end on a throwaway repository
whose head commit loosens its own gate and leaks."""

import json
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GATE = os.path.join(ROOT, "ci", "gate.sh")


def gate(*args, env=None):
    return subprocess.run(["bash", GATE, *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def worktrees():
    """ci/gate.sh's own worktrees (under its memgate-gate.* scratch dir): other worktrees of this repository
    may come and go meanwhile."""
    listed = subprocess.run(["git", "-C", ROOT, "worktree", "list", "--porcelain"], capture_output=True, text=True)
    return {line for line in listed.stdout.splitlines() if line.startswith("worktree ") and "/memgate-gate." in line}


@pytest.mark.parametrize("args,which", [
    (("no-such-ref-xyz", "HEAD"), "BASE_REF 'no-such-ref-xyz'"),
    (("HEAD", "no-such-ref-xyz"), "HEAD_REF 'no-such-ref-xyz'"),
    (("HEAD", "0000000000000000000000000000000000000000"), "HEAD_REF '0000000000000000000000000000000000000000'"),
    (("HEAD", "HEAD:README.md"), "HEAD_REF 'HEAD:README.md'"),  # a blob, not a commit
    (("HEAD", "HEAD", "--harness", "no-such-ref-xyz"), "HARNESS 'no-such-ref-xyz'"),
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
    (("HEAD", "HEAD", "-r", "0"), "-r needs a positive replicate count"),
    (("HEAD", "HEAD", "--scenarios"), "--scenarios needs a file"),
    (("HEAD", "HEAD", "--harness"), "--harness needs a memgate commit or checkout directory"),
])
def test_bad_arguments_exit_2_with_usage(args, message):
    p = gate(*args)
    assert p.returncode == 2 and message in p.stderr and "usage: ci/gate.sh BASE_REF HEAD_REF" in p.stderr


def test_workflows_call_the_scripts():
    with open(os.path.join(ROOT, ".github", "workflows", "memgate-gate.yml")) as f:
        gate_yml = f.read()
    assert "pull_request" in gate_yml and "/ci/action" in gate_yml and "fetch-depth: 0" in gate_yml
    action = {}
    for name in ("action.yml", "run_gate.sh", "write_summary.sh"):
        with open(os.path.join(ROOT, "ci", "action", name)) as f:
            action[name] = f.read()
    assert '/gate.sh' in action["run_gate.sh"] and "GITHUB_STEP_SUMMARY" in action["write_summary.sh"]
    assert "upload-artifact" in action["action.yml"]
    with open(os.path.join(ROOT, ".github", "workflows", "memgate-matrix.yml")) as f:
        matrix_yml = f.read()
    assert "--shard ${{ matrix.shard }}/$SHARDS" in matrix_yml and "./memgate merge" in matrix_yml
    assert "./memgate report" in matrix_yml


# The base's gate: one small-request h1 case, where a per-request leak is cheapest to see.
ONE_CASE_GATE = """name = "ci-gate"
description = "One h1 case: the trusted-gate test's base."
protocol = "h1"
endpoint = "/bytes/64"
connections = 4
warmup_requests = 500
requests = 3000
sample_interval_ms = 50
time_limit_s = 60
"""
# What a pull request that wants its leak through would add: every limit out of reach.
RELAXED_THRESHOLDS = """
[thresholds]
live_heap_bytes_per_request_max = 1e9
live_heap_delta_bytes_floor = 1e12
rss_delta_bytes_max = 1e12
peak_rss_growth_bytes_min = 1e12
allocations_per_request_factor = 1e6
allocated_bytes_per_request_factor = 1e6
"""
RELAXED_GATE_PY = """

# A pull request loosening the gate that judges it: every limit a thousand times wider.
_strict_thresholds_for = thresholds_for


def thresholds_for(*args, **kwargs):
    return {k: v * 1000 for k, v in _strict_thresholds_for(*args, **kwargs).items()}
"""
LEAK_DEFAULT = ('("inject-leak", po::value(&config.inject_leak_bytes)->default_value(0)',
                '("inject-leak", po::value(&config.inject_leak_bytes)->default_value(256)')


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def loosening_pr(tmp_path_factory):
    """A throwaway repository: base = this checkout's files with a one-case gate; head = the base plus
    a relaxed ci-gate.toml, a relaxed analysis/gate.py and a 256 B/request leak in refserver's C++."""
    repo = tmp_path_factory.mktemp("pr") / "repo"
    listed = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            check=True, capture_output=True, text=True).stdout.split("\0")
    for rel in filter(None, listed):
        src = os.path.join(ROOT, rel)
        if os.path.isfile(src):
            os.makedirs(repo / os.path.dirname(rel), exist_ok=True)
            shutil.copy2(src, repo / rel)
    (repo / "scenarios" / "ci-gate.toml").write_text(ONE_CASE_GATE)
    git(repo.parent, "init", "-q", str(repo))
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    (repo / "scenarios" / "ci-gate.toml").write_text(ONE_CASE_GATE + RELAXED_THRESHOLDS)
    gate_py = (repo / "analysis" / "gate.py").read_text()
    assert "def thresholds_for(" in gate_py, "the relaxation below wraps analysis/gate.py's thresholds_for"
    (repo / "analysis" / "gate.py").write_text(gate_py + RELAXED_GATE_PY)
    config_cpp = repo / "server" / "config" / "config.cpp"
    assert LEAK_DEFAULT[0] in config_cpp.read_text()
    config_cpp.write_text(config_cpp.read_text().replace(*LEAK_DEFAULT))
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "relax the gate and leak")
    return repo, base, git(repo, "rev-parse", "HEAD")


def test_a_head_that_loosens_its_own_gate_and_leaks_still_fails(loosening_pr, tmp_path):
    repo, base, head = loosening_pr
    out = tmp_path / "out"
    p = subprocess.run(["bash", str(repo / "ci" / "gate.sh"), base, head, "-o", str(out), "-r", "2",
                        "--allocators", "glibc"], capture_output=True, text=True, timeout=1800, cwd=repo)
    assert p.returncode == 1, p.stdout + p.stderr
    order = f"Run order: A B B A (A = base {base[:12]}, B = head {head[:12]})"
    assert order in p.stdout and order in (out / "report.md").read_text()
    assert "FAIL" in (out / "report.md").read_text()
    with open(out / "head" / "ci-gate.json") as f:
        measured_head = json.load(f)
    with open(out / "base" / "ci-gate.json") as f:
        measured_base = json.load(f)
    assert measured_head["commit_info"]["id"] == head  # the head's server was measured
    assert measured_base["commit_info"]["id"] == base
    assert not measured_head["config"]["thresholds"]  # with the base's scenario, not the relaxed one
    assert measured_head["config"] == measured_base["config"]
    assert len(measured_head["replicates"]) == 2 and measured_head["config"]["repeat"] == 2
    # The head's own analysis would have let its leak through: the loosening was real.
    worktree = tmp_path / "head-src"
    git(repo, "worktree", "add", "--detach", "-q", str(worktree), head)
    try:
        own = subprocess.run(["./memgate", "report", str(out / "base"), str(out / "head"), "-o", str(tmp_path / "own")],
                             capture_output=True, text=True, timeout=120, cwd=worktree)
    finally:
        git(repo, "worktree", "remove", "--force", str(worktree))
    assert own.returncode == 0, own.stdout + own.stderr


# A stand-in memgate driver for the replicate loop: matrix writes one case, merge counts the steps it
# joins, gate answers UNDECIDED while the candidate has fewer than $FAKE_DECIDES_AT replicates,
# report finds no regression (as `memgate report` does for a case within its limits thanks to noise).
FAKE_DRIVER = r"""#!/usr/bin/env bash
out=; for ((i = 1; i <= $#; i++)); do [[ ${!i} == -o ]] && { j=$((i + 1)); out=${!j}; }; done
case $1 in
  merge)
    [[ $2 == --help ]] && { echo "--replicates"; exit 0; }
    mkdir -p "$out"; echo '{}' > "$out/index.json"; echo "{\"replicates\": $(($# - 4))}" > "$out/case-a.json" ;;
  matrix) mkdir -p "$out"; echo '{}' > "$out/case-a.json" ;;
  gate)
    have=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["replicates"])' "$3")
    if ((have < FAKE_DECIDES_AT)); then
      printf 'gate UNDECIDED\n  UNDECIDED: live_heap_bytes_per_request candidate 3 B/request vs baseline 0 B/request\n'
      exit 3
    fi
    echo "gate PASS" ;;
  report)
    mkdir -p "$out"; printf '# memgate report\n\nno regressions\n' > "$out/report.md"
    echo '{"summary": {"verdict": "PASS", "exit_code": 0}}' > "$out/report.json" ;;
esac
"""


@pytest.fixture
def fake_own_server(tmp_path):
    """(repo, base, head, gate args): a repository with a server of its own, a fake memgate build and
    the fake driver above as the harness."""
    harness = tmp_path / "harness"
    harness.mkdir()
    (harness / "memgate").write_text(FAKE_DRIVER)
    (harness / "memgate").chmod(0o755)
    (harness / "ci").mkdir()
    (harness / "ci" / "build.sh").write_text(  # records its arguments, makes a loadgen
        'mkdir -p "$MEMGATE_BUILD_DIR/bin" && printf "#!/bin/sh\\n" > "$MEMGATE_BUILD_DIR/bin/loadgen" && '
        'chmod +x "$MEMGATE_BUILD_DIR/bin/loadgen" && echo "$@" > "$FAKE_BUILD_RECORD"\n')
    (tmp_path / "memgate-build" / "bin").mkdir(parents=True)
    (tmp_path / "memgate-build" / "bin" / "loadgen").write_text("#!/bin/sh\n")
    (tmp_path / "memgate-build" / "bin" / "loadgen").chmod(0o755)
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    (repo / "gate.toml").write_text("name = 'own'\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "head")
    args = [base, "HEAD", "--repo", str(repo), "--build", "printf '#!/bin/sh\\n' > srv && chmod +x srv",
            "--server", "srv", "--memgate-build", str(tmp_path / "memgate-build"), "--harness", str(harness),
            "--scenarios", "gate.toml", "-o", str(tmp_path / "out")]
    return repo, base, git(repo, "rev-parse", "HEAD"), args


def test_an_undecided_case_gets_more_replicates_then_reports_undecided_and_exits_3(fake_own_server, tmp_path):
    repo, base, head, args = fake_own_server
    p = gate(*args, "-r", "2", "--max-replicates", "3", env={"FAKE_DECIDES_AT": "99"})
    assert p.returncode == 3, p.stdout + p.stderr
    assert "== undecided, one more replicate per side:" in p.stdout
    report = (tmp_path / "out" / "report.md").read_text()
    assert report.startswith("**memgate gate: UNDECIDED.** Too noisy to tell after 3 replicates per side")
    assert "- case-a: UNDECIDED: live_heap_bytes_per_request candidate 3 B/request" in report
    assert f"Run order: A B B A A B (A = base {base[:12]}, B = head {head[:12]})" in report
    with open(tmp_path / "out" / "report.json") as f:
        summary = json.load(f)["summary"]
    assert summary["verdict"] == "UNDECIDED" and summary["exit_code"] == 3 and len(summary["undecided"]) == 1
    assert len(git(repo, "worktree", "list").splitlines()) == 1  # the temp worktrees are gone


def test_extra_replicates_that_decide_leave_a_plain_verdict(fake_own_server, tmp_path):
    _, _, _, args = fake_own_server
    p = gate(*args, "-r", "2", env={"FAKE_DECIDES_AT": "4"})
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count("== undecided, one more replicate per side:") == 2
    report = (tmp_path / "out" / "report.md").read_text()
    assert "UNDECIDED" not in report and "Run order: A B B A A B B A (" in report
    assert "this runner (2 more per side than asked, while a case was undecided);" in report


@pytest.mark.parametrize("args,message", [
    (("--repo", "."), "--repo needs --build (how to build the server) and --server (the file it makes)"),
    (("--build", "make"), "--build, --server and --memgate-build go with --repo"),
    (("--repo", "/nonexistent-dir"), "--repo needs the server's repository directory"),
])
def test_own_server_arguments_go_together(args, message):
    p = gate("HEAD", "HEAD", *args)
    assert p.returncode == 2 and message in p.stderr, p.stderr


def test_without_a_memgate_build_the_harness_is_built_once_without_tests_or_allocators(fake_own_server, tmp_path):
    _, _, _, args = fake_own_server
    without = args[:args.index("--memgate-build")] + args[args.index("--memgate-build") + 2:]
    record = tmp_path / "build-args"
    p = gate(*without, env={"FAKE_DECIDES_AT": "0", "FAKE_BUILD_RECORD": str(record)})
    assert p.returncode == 0, p.stdout + p.stderr
    assert "== build the harness memgate" in p.stdout
    assert record.read_text() == "-DMEMGATE_BUILD_TESTS=OFF -DMEMGATE_ALLOCATORS=glibc\n"


def test_own_server_refs_and_failed_build_are_named(fake_own_server, tmp_path):
    repo, base, _, args = fake_own_server
    p = gate("no-such-ref-xyz", *args[1:])
    assert p.returncode == 2 and f"BASE_REF 'no-such-ref-xyz' is not a commit in {repo}" in p.stderr
    broken = args[:args.index("--build") + 1] + ["echo cc: error: server.c >&2; false"] + args[args.index("--build") + 2:]
    p = gate(*broken)
    assert p.returncode == 2 and "cc: error: server.c" in p.stderr and f"building BASE_REF ({base})" in p.stderr
    missing = args[:args.index("--server") + 1] + ["out/none"] + args[args.index("--server") + 2:]
    p = gate(*missing)
    assert p.returncode == 2 and "made no executable out/none" in p.stderr
    assert len(git(repo, "worktree", "list").splitlines()) == 1
