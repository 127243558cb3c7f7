"""The composite action, run as a runner would (ci/action/runner_model.py). ci/gate.sh is a fake
that writes a canned report, except in the one case that runs the real one with a bad ref;
test_action_own_server.py runs the real one on a repository with a server of its own.
"""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

from ci.action.runner_model import ACTION_DIR, EVENT, MARKER, Runner, load_action

ROOT = os.path.dirname(os.path.dirname(ACTION_DIR))

FAKE_GATE = r"""#!/usr/bin/env bash
# ci/gate.sh stand-in: records its arguments, writes a canned report with FAKE_VERDICT.
printf '%s\n' "$@" > "$FAKE_RECORD"
out=
while (($#)); do [[ $1 == -o ]] && out=$2; shift; done
mkdir -p "$out/base" "$out/head"
echo '{}' > "$out/base/index.json"
printf '# memgate report\n\nverdict: %s\n' "$FAKE_VERDICT" > "$out/report.md"
echo '<html></html>' > "$out/report.html"
code=0; [[ $FAKE_VERDICT == FAIL ]] && code=1; [[ $FAKE_VERDICT == UNDECIDED ]] && code=3
printf '{"summary": {"verdict": "%s", "exit_code": %d}}\n' "$FAKE_VERDICT" "$code" > "$out/report.json"
exit $code
"""


@pytest.fixture
def fake_action_dir(tmp_path):
    """A copy of ci/action beside a fake ci/gate.sh, as the action finds it: $GITHUB_ACTION_PATH/../gate.sh."""
    action_dir = tmp_path / "memgate" / "ci" / "action"
    shutil.copytree(ACTION_DIR, action_dir, ignore=shutil.ignore_patterns("test_*", "runner_model.py", "__pycache__"))
    gate = tmp_path / "memgate" / "ci" / "gate.sh"
    gate.write_text(FAKE_GATE)
    gate.chmod(0o755)
    return str(action_dir)


def run_action(tmp_path, action_dir, verdict="PASS", inputs=None, event=EVENT, comments=()):
    runner = Runner(tmp_path, action_dir, inputs or {}, event, list(comments))
    runner.env["FAKE_VERDICT"] = verdict
    return runner.run()


def test_a_pass_writes_the_summary_creates_one_comment_sets_outputs_and_passes(tmp_path, fake_action_dir):
    others = [[{"id": 1, "body": "looks good"}, {"id": 2, "body": "memgate gate (no marker)"}]]
    r = run_action(tmp_path, fake_action_dir, "PASS", comments=others)
    assert not r.failed, r.logs
    assert "# memgate report" in r.summary.read_text() and "verdict: PASS" in r.summary.read_text()
    assert r.gate_args()[:2] == ["b" * 40, "c" * 40]  # the pull request's base and head
    assert r.gate_args()[2:] == ["-o", "memgate-gate", "-r", "3", "--scenarios", "scenarios/ci-gate.toml",
                                 "--allocators", "glibc;jemalloc;mimalloc"]
    calls = r.gh()
    assert calls[0]["argv"] == ["api", "--paginate", "repos/octo/server/issues/17/comments"]
    assert [c["argv"][:3] for c in calls[1:]] == [["api", "-X", "POST"]]
    assert calls[1]["argv"][3] == "repos/octo/server/issues/17/comments"
    assert calls[1]["input"]["body"].startswith(MARKER + "\n# memgate report")
    assert r.outputs() == {"verdict": "PASS", "report": "memgate-gate/report.md",
                           "report-html": "memgate-gate/report.html", "exit-code": "0"}


def test_a_fail_updates_the_marked_comment_and_fails_the_job(tmp_path, fake_action_dir):
    pages = [[{"id": 5, "body": "first"}], [{"id": 99, "body": f"{MARKER}\nold report"}, {"id": 7, "body": "later"}]]
    r = run_action(tmp_path, fake_action_dir, "FAIL", comments=pages)
    assert r.failed
    calls = r.gh()
    assert [c["argv"][:4] for c in calls[1:]] == [["api", "-X", "PATCH", "repos/octo/server/issues/comments/99"]]
    assert "verdict: FAIL" in calls[1]["input"]["body"] and calls[1]["input"]["body"].startswith(MARKER)
    assert r.outputs()["verdict"] == "FAIL" and r.outputs()["exit-code"] == "1"
    assert "verdict: FAIL" in r.summary.read_text()
    assert "memgate gate: FAIL" in r.logs[-1]


def test_undecided_is_named_in_the_summary_and_the_comment_and_fails_the_job(tmp_path, fake_action_dir):
    r = run_action(tmp_path, fake_action_dir, "UNDECIDED")
    assert r.failed
    assert r.outputs()["verdict"] == "UNDECIDED" and r.outputs()["exit-code"] == "3"
    assert "verdict: UNDECIDED" in r.summary.read_text()
    assert "verdict: UNDECIDED" in r.gh()[-1]["input"]["body"]
    assert "memgate gate: UNDECIDED (ci/gate.sh exit 3" in r.logs[-1] and "3 undecided" in r.logs[-1]


def test_undecided_passes_with_a_warning_when_told_to_tolerate_it(tmp_path, fake_action_dir):
    r = run_action(tmp_path, fake_action_dir, "UNDECIDED", inputs={"fail-on-undecided": "false", "max-replicates": "7"})
    assert not r.failed, r.logs
    assert "::warning::memgate gate: UNDECIDED" in r.logs[-1]
    assert r.gate_args()[r.gate_args().index("--max-replicates") + 1] == "7"
    (tmp_path / "fail").mkdir()
    r = run_action(tmp_path / "fail", fake_action_dir, "FAIL", inputs={"fail-on-undecided": "false"})
    assert r.failed  # tolerating UNDECIDED does not tolerate a regression


def test_own_server_inputs_reach_gate_sh_as_a_repository_build_and_server(tmp_path, fake_action_dir):
    r = run_action(tmp_path, fake_action_dir, "PASS", inputs={
        "build-command": "make server", "server-path": "out/server\nout/helper\n",
        "server": "ci/memgate.toml\nci/memgate-h2.toml", "memgate-build-dir": "/opt/memgate-build"})
    assert not r.failed, r.logs
    args = r.gate_args()
    assert args[args.index("--scenarios"):] == [
        "--scenarios", "ci/memgate.toml", "--scenarios", "ci/memgate-h2.toml", "--repo", str(r.workspace),
        "--build", "make server", "--server", "out/server", "--server", "out/helper",
        "--memgate-build", "/opt/memgate-build"]  # no refserver allocators: refserver is not measured


def test_own_server_without_its_scenarios_is_refused_before_the_gate(tmp_path, fake_action_dir):
    r = run_action(tmp_path, fake_action_dir, "PASS", inputs={"build-command": "make", "server-path": "server"})
    assert r.failed
    assert not (tmp_path / "gate_args.txt").exists()  # ci/gate.sh never ran
    assert "::error::memgate gate: with build-command, server names your scenario file(s)" in r.logs[0]
    assert r.outputs()["verdict"] == "ERROR" and r.outputs()["exit-code"] == "2"
    assert "produced no report (ci/gate.sh exit 2" in r.summary.read_text()


def test_setup_runs_memgates_setup_only_when_asked(tmp_path, fake_action_dir):
    setup = os.path.join(os.path.dirname(fake_action_dir), "setup.sh")
    with open(setup, "w") as f:
        f.write('#!/bin/sh\necho setup ran >> "$FAKE_RECORD.setup"\n')
    r = run_action(tmp_path, fake_action_dir, "PASS", inputs={"setup": "true"})
    assert not r.failed, r.logs
    assert (tmp_path / "gate_args.txt.setup").read_text() == "setup ran\n"
    assert r.gate_args()[:2] == ["b" * 40, "c" * 40]  # the gate ran after it
    (tmp_path / "default").mkdir()
    run_action(tmp_path / "default", fake_action_dir, "PASS")
    assert not (tmp_path / "default" / "gate_args.txt.setup").exists()


def test_every_step_after_the_gate_runs_and_the_artifact_holds_the_output_dir(tmp_path, fake_action_dir):
    r = run_action(tmp_path, fake_action_dir, "FAIL", inputs={"output-dir": "out/gate"})
    assert r.uses == [("actions/upload-artifact@v4", {"name": "memgate-gate", "path": "out/gate",
                                                      "if-no-files-found": "warn"})]
    assert (r.workspace / "out" / "gate" / "report.html").exists()


def test_a_command_target_and_a_pinned_harness_reach_gate_sh(tmp_path, fake_action_dir):
    r = run_action(tmp_path, fake_action_dir, "PASS", inputs={
        "server": "scenarios/targets/go-memserver.toml", "harness": "v0.2.0", "replicates": "2", "allocators": "glibc",
        "matrix-args": "--set requests=5000 --set warmup_requests=500", "base-ref": "main", "head-ref": "topic"})
    assert not r.failed, r.logs
    assert r.gate_args() == ["main", "topic", "-o", "memgate-gate", "-r", "2",
                             "--scenarios", "scenarios/targets/go-memserver.toml", "--allocators", "glibc",
                             "--harness", "v0.2.0", "--", "--set", "requests=5000", "--set", "warmup_requests=500"]


def test_several_scenario_files_one_a_line(tmp_path, fake_action_dir):
    r = run_action(tmp_path, fake_action_dir, inputs={"scenarios": "scenarios/ci-gate.toml\nscenarios/protocols.toml\n"})
    args = r.gate_args()
    assert args[args.index("--scenarios"):args.index("--allocators")] == [
        "--scenarios", "scenarios/ci-gate.toml", "--scenarios", "scenarios/protocols.toml"]


def test_no_comment_outside_a_pull_request_or_when_switched_off(tmp_path, fake_action_dir):
    (tmp_path / "push").mkdir()
    r = run_action(tmp_path / "push", fake_action_dir, inputs={"base-ref": "a", "head-ref": "b"}, event={})
    assert not r.failed and r.gh() == []
    (tmp_path / "off").mkdir()
    r = run_action(tmp_path / "off", fake_action_dir, inputs={"comment": "false"})
    assert not r.failed and r.gh() == []


def test_a_refused_comment_warns_and_leaves_the_verdict_to_decide(tmp_path, fake_action_dir):
    gh = tmp_path / "bin-broken" / "gh"
    gh.parent.mkdir()
    gh.write_text("#!/bin/sh\necho 'HTTP 403: Resource not accessible by integration' >&2\nexit 1\n")
    gh.chmod(0o755)
    runner = Runner(tmp_path, fake_action_dir, {}, EVENT, [])
    runner.env["PATH"] = f"{gh.parent}:{runner.env['PATH']}"
    runner.env["FAKE_VERDICT"] = "PASS"
    r = runner.run()
    assert not r.failed
    assert any("::warning::" in log and "403" in log for log in r.logs)


def test_the_real_gate_sh_with_a_bad_ref_reports_an_error_and_fails(tmp_path):
    r = run_action(tmp_path, ACTION_DIR, inputs={"base-ref": "no-such-ref-xyz", "head-ref": "HEAD"})
    assert r.failed
    assert r.outputs()["verdict"] == "ERROR" and r.outputs()["exit-code"] == "2"
    assert "produced no report (ci/gate.sh exit 2" in r.summary.read_text()
    assert "BASE_REF 'no-such-ref-xyz' is not a commit" in r.logs[0]
    posted = r.gh()[-1]
    assert posted["argv"][2] == "POST" and "produced no report" in posted["input"]["body"]


def test_the_workflow_uses_the_action_from_the_base_ref():
    with open(os.path.join(ROOT, ".github", "workflows", "memgate-gate.yml")) as f:
        workflow = yaml.safe_load(f)
    steps = workflow["jobs"]["gate"]["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    gate = next(s for s in steps if s.get("uses", "").endswith("/ci/action"))
    base_tree = gate["uses"][2:-len("/ci/action")]
    assert any(base_tree in s.get("run", "") and "pull_request.base.sha" in s.get("run", "") + str(s.get("env", ""))
               for s in steps), "the action must come from a worktree of the base commit"
    assert set(gate.get("with", {})) <= set(load_action()["inputs"])
    assert workflow["permissions"]["pull-requests"] == "write"
