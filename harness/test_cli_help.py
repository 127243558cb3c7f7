"""Every command's --help ends with an example; a usage error is one line that says where to look."""

import os
import subprocess

import pytest

from harness.cli import build_parser, main
from harness.cli_help import commands
from harness.driver.binaries import REPO_ROOT


@pytest.mark.parametrize("path,parser", commands(build_parser()), ids=lambda x: x if isinstance(x, str) else "")
def test_each_command_has_an_example_of_itself(path, parser):
    epilog = parser.epilog or ""
    assert epilog.startswith("example"), f"`memgate {path} --help` has no example"
    examples = [line.strip() for line in epilog.splitlines()[1:]]
    assert examples and all(e.startswith("memgate " + path) for e in examples), examples


def test_help_shows_the_examples_as_written():
    p = subprocess.run([os.path.join(REPO_ROOT, "memgate"), "matrix", "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    assert "examples:\n  memgate matrix scenarios/protocols.toml -o results/protocols" in p.stdout


@pytest.mark.parametrize("argv,problem", [
    (["run", "--repeat", "0"], "memgate run: argument --repeat: '0' must be at least 1"),
    (["compare", "a.json"], "memgate compare: the following arguments are required: CANDIDATE.json"),
    (["frob"], "memgate: argument COMMAND: invalid choice: 'frob'"),
    (["run", "--set", "requests"], "memgate run: argument --set:")])
def test_a_usage_error_is_one_line_naming_the_problem_and_the_help(argv, problem, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(problem), err
    assert err.rstrip().endswith(f"; see `{problem.split(':')[0]} --help`")
