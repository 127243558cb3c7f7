"""A model of a GitHub runner for the composite action, for its tests (ci/action/test_*.py):
action.yml is parsed and its steps run in order, each `run:` under bash with the step's env,
GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and GITHUB_EVENT_PATH, `if:` and `${{ }}` evaluated for the
few forms the action uses, and `gh` a fake on PATH that records its calls and serves the PR's
existing comments. Steps that use another action are recorded with their `with:` inputs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import yaml

ACTION_DIR = os.path.dirname(os.path.abspath(__file__))
MARKER = "<!-- memgate-gate -->"
EVENT = {"pull_request": {"number": 17, "base": {"sha": "b" * 40}, "head": {"sha": "c" * 40}}}

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

    def __init__(self, tmp_path, action_dir: str, inputs: dict[str, str], event: dict | None, comments: list[list[dict]],
                 workspace=None, step_timeout: float = 120):
        """workspace: the job's checkout (default an empty directory); step_timeout bounds each step."""
        self.action = load_action()
        self.tmp = tmp_path
        self.action_dir = action_dir
        self.step_timeout = step_timeout
        self.workspace = workspace or tmp_path / "workspace"
        self.workspace.mkdir(exist_ok=True)
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
                               cwd=self.workspace, env=env, capture_output=True, text=True, timeout=self.step_timeout)
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
