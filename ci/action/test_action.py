"""The composite action, run as a runner would: action.yml is parsed and its steps run in order,
each `run:` under bash with the step's env, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and
GITHUB_EVENT_PATH, `if:` and `${{ }}` evaluated for the few forms the action uses, and `gh` a fake
on PATH that records its calls and serves the PR's existing comments. ci/gate.sh is a fake that
writes a canned report, except in the one case that runs the real one with a bad ref.
Steps that use another action are checked for their `with:` inputs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACTION_DIR = os.path.join(ROOT, "ci", "action")
MARKER = "<!-- memgate-gate -->"
EVENT = {"pull_request": {"number": 17, "base": {"sha": "b" * 40}, "head": {"sha": "c" * 40}}}

FAKE_GATE = r"""#!/usr/bin/env bash
# ci/gate.sh stand-in: records its arguments, writes a canned report with FAKE_VERDICT.
printf '%s\n' "$@" > "$FAKE_RECORD"
out=
while (($#)); do [[ $1 == -o ]] && out=$2; shift; done
mkdir -p "$out/base" "$out/head"
echo '{}' > "$out/base/index.json"
printf '# memgate report\n\nverdict: %s\n' "$FAKE_VERDICT" > "$out/report.md"
echo '<html></html>' > "$out/report.html"
code=0; [[ $FAKE_VERDICT == FAIL ]] && code=1
printf '{"summary": {"verdict": "%s", "exit_code": %d}}\n' "$FAKE_VERDICT" "$code" > "$out/report.json"
exit $code
"""

FAKE_GH = r"""#!/usr/bin/python3
# gh stand-in: appends {"argv", "input"} to $FAKE_GH_CALLS; a GET of comments serves $FAKE_GH_COMMENTS
# (a list of pages) the way `gh api --paginate` prints them, one JSON array after another.
import json, os, sys
argv = sys.argv[1:]
record = {"argv": argv, "input": None}
if "--input" in argv:
    with open(argv[argv.index("--input") + 1]) as f:
        record["input"] = json.load(f)
with open(os.environ["FAKE_GH_CALLS"], "a") as f:
    f.write(json.dumps(record) + "\n")
if "-X" not in argv:
    with open(os.environ["FAKE_GH_COMMENTS"]) as f:
        for page in json.load(f):
            print(json.dumps(page))
"""


def load_action() -> dict:
    with open(os.path.join(ACTION_DIR, "action.yml")) as f:
        return yaml.safe_load(f)


class Runner:
    """Runs the action's steps the way a runner does for a composite action."""

    def __init__(self, tmp_path, action_dir: str, inputs: dict[str, str], event: dict | None, comments: list[list[dict]]):
        self.action = load_action()
        self.tmp = tmp_path
        self.action_dir = action_dir
        self.workspace = tmp_path / "workspace"
        self.workspace.mkdir()
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "gh").write_text(FAKE_GH)
        (bin_dir / "gh").chmod(0o755)
        event_path = tmp_path / "event.json"
        event_path.write_text(json.dumps(event or {}))
        (tmp_path / "comments.json").write_text(json.dumps(comments))
        self.summary = tmp_path / "summary.md"
        self.summary.write_text("")
        self.gh_calls = tmp_path / "gh_calls.jsonl"
        self.github = {"token": "t0ken", "event": event or {}, "action_path": action_dir}
        unknown = set(inputs) - set(self.action["inputs"])
        assert not unknown, f"not inputs of action.yml: {unknown}"
        self.inputs = {name: self.expand(str(spec.get("default", ""))) for name, spec in self.action["inputs"].items()}
        self.inputs.update(inputs)
        self.env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), "GITHUB_ACTION_PATH": action_dir,
                    "GITHUB_STEP_SUMMARY": str(self.summary), "GITHUB_EVENT_PATH": str(event_path),
                    "GITHUB_WORKSPACE": str(self.workspace), "GITHUB_REPOSITORY": "octo/server",
                    "FAKE_GH_CALLS": str(self.gh_calls), "FAKE_GH_COMMENTS": str(tmp_path / "comments.json"),
                    "FAKE_RECORD": str(tmp_path / "gate_args.txt"), "TMPDIR": str(tmp_path)}
        self.steps: dict[str, dict] = {}
        self.uses: list[tuple[str, dict]] = []
        self.failed = False
        self.logs: list[str] = []

    def lookup(self, ref: str):
        parts = ref.strip().split(".")
        if parts[0] == "inputs":
            return self.inputs[parts[1]]
        if parts[0] == "steps":
            return self.steps.get(parts[1], {}).get("outputs", {}).get(parts[3], "")
        if parts[0] == "github":
            value = self.github
            for p in parts[1:]:
                value = value.get(p, "") if isinstance(value, dict) else ""
            return value
        raise AssertionError(f"action.yml uses a context this test does not model: {ref}")

    def expand(self, text: str) -> str:
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(self.lookup(m.group(1))), text)

    def condition(self, expr: str | None) -> bool:
        if expr is None:
            return not self.failed  # success(), a runner's default
        result = True
        for term in (t.strip() for t in expr.split("&&")):
            if term == "always()":
                continue
            m = re.fullmatch(r"([\w.-]+) == '([^']*)'", term)
            assert m, f"if: term this test does not model: {term}"
            result = result and str(self.lookup(m.group(1))) == m.group(2)
        return result

    def run(self) -> "Runner":
        for step in self.action["runs"]["steps"]:
            if not self.condition(step.get("if")):
                continue
            if "uses" in step:
                self.uses.append((step["uses"], {k: self.expand(str(v)) for k, v in step.get("with", {}).items()}))
                continue
            assert step["shell"] == "bash", step
            output = self.tmp / f"output-{len(self.logs)}"
            output.write_text("")
            env = {**self.env, **{k: self.expand(str(v)) for k, v in step.get("env", {}).items()},
                   "GITHUB_OUTPUT": str(output)}
            p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", self.expand(step["run"])],
                               cwd=self.workspace, env=env, capture_output=True, text=True, timeout=120)
            self.logs.append(p.stdout + p.stderr)
            outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
            if "id" in step:
                self.steps[step["id"]] = {"outputs": outputs}
            if p.returncode != 0:
                self.failed = True
        return self

    def outputs(self) -> dict[str, str]:
        return {name: self.expand(spec["value"]) for name, spec in self.action["outputs"].items()}

    def gh(self) -> list[dict]:
        if not self.gh_calls.exists():
            return []
        return [json.loads(line) for line in self.gh_calls.read_text().splitlines()]

    def gate_args(self) -> list[str]:
        return (self.tmp / "gate_args.txt").read_text().splitlines()


@pytest.fixture
def fake_action_dir(tmp_path):
    """A copy of ci/action beside a fake ci/gate.sh, as the action finds it: $GITHUB_ACTION_PATH/../gate.sh."""
    action_dir = tmp_path / "memgate" / "ci" / "action"
    shutil.copytree(ACTION_DIR, action_dir, ignore=shutil.ignore_patterns("test_*", "__pycache__"))
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
