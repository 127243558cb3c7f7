"""`./memgate profile` end to end through the CLI, the runner's profiler hooks, and --against inputs."""

import json
import os
import subprocess

import pytest

from harness import cli
from harness.driver import scenario as scenario_mod
from harness.driver.binaries import REPO_ROOT
from harness.driver.conftest import assert_no_strays
from harness.driver.runner import Hooks, run_scenario
from harness.profile.against import load_against
from harness.profile.run import ProfileError
from harness.profile.test_heaptrack import expected_buffer_site

SMALL = ["--set", "endpoint=/bytes/262144", "--set", "requests=1000", "--set", "warmup_requests=200",
         "--set", "sample_interval_ms=200"]


def test_runner_hooks_wrap_the_server_only_and_mark_the_phases(built):
    seen = {"phases": []}

    def wrap(argv, env):
        seen["argv"] = list(argv)
        env = dict(env, MEMGATE_PROFILE_TEST="1")
        return ["/usr/bin/env", "MEMGATE_WRAPPED=1", *argv], env

    def on_phase(name, server):
        seen["phases"].append(name)
        with open(f"/proc/{server.pid}/environ", "rb") as f:
            environ = f.read().split(b"\0")
        seen.setdefault("env", environ)

    sc = scenario_mod.load(None, [("requests", 200), ("warmup_requests", 50), ("endpoint", "/bytes/64")])
    result = run_scenario(sc, hooks=Hooks(wrap_server=wrap, on_phase=on_phase))
    assert result["status"] == "ok", result["failure"]
    assert seen["phases"] == ["measure_start", "measure_end"]
    assert seen["argv"][0].endswith("refserver-glibc")
    assert b"MEMGATE_WRAPPED=1" in seen["env"] and b"MEMGATE_PROFILE_TEST=1" in seen["env"]  # the pid is the server's
    assert result["replicates"][0]["server"]["argv"][0] == "/usr/bin/env"
    assert_no_strays(result)
    # no hooks: unchanged behaviour
    plain = run_scenario(sc)
    assert plain["status"] == "ok" and plain["replicates"][0]["server"]["argv"][0].endswith("refserver-glibc")


def test_profile_command_against_a_profile(built, tmp_path, capsys):
    base, cand = tmp_path / "writev", tmp_path / "buffered"
    assert cli.main(["profile", *SMALL, "--set", "copy=writev", "--set", "name=pw", "--overhead-runs", "2",
                     "-o", str(base)]) == 0
    prof = json.loads((base / "profile.json").read_text())
    assert prof["profiler"]["name"] == "heaptrack" and "sampling" in prof["profiler"]
    assert prof["overhead"]["ratio"] > 0 and prof["overhead"]["plain_rps"] > 0  # one small run each: noisy
    assert cli.main(["profile", *SMALL, "--set", "copy=buffered", "--set", "name=pb", "--against", str(base),
                     "--no-overhead", "-o", str(cand)]) == 0
    out = capsys.readouterr().out
    data = json.loads((cand / "profile.json").read_text())
    site = expected_buffer_site(data, "h2c")
    assert "Top 5 by bytes allocated per request" in out and site in out
    md = (cand / "profile.md").read_text()
    grew = md.split("### Sites that grew: bytes allocated per request", 1)[1]
    first_row = [ln for ln in grew.splitlines() if ln.startswith("| 1 |")][0]
    assert site in first_row
    assert data["against"]["grew_bytes_per_request"][0]["site"].startswith(site)
    assert os.path.exists(cand / "heaptrack.pb.gz")
    # report.md: the short ranked table; report.html: the same rows and the icicle views
    report_md = (cand / "report.md").read_text()
    assert [ln for ln in report_md.splitlines() if ln.startswith("| 1 |")][0].startswith(f"| 1 | `{site}")
    page = (cand / "report.html").read_text()
    assert '<table class="growth">' in page and 'class="icicle"' in page and "<script" not in page
    assert f"profile: {cand / 'profile.md'}" in out and str(cand / "report.html") in out


def test_profile_command_bad_input(tmp_path, capsys):
    assert cli.main(["profile", "--set", "protocol=h9", "-o", str(tmp_path / "x")]) == 2
    assert "bad scenario" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("[1]")
    assert cli.main(["profile", "--against", str(tmp_path / "junk.json"), "-o", str(tmp_path / "y")]) == 2


def test_load_against_takes_a_result_files_config(tmp_path):
    sc = scenario_mod.load(None, [("copy", "writev"), ("endpoints", [{"path": "/bytes/64", "weight": 2}])])
    (tmp_path / "r.json").write_text(json.dumps({"status": "ok", "config": sc.config}))
    kind, value = load_against(str(tmp_path / "r.json"))
    assert kind == "scenario" and value.config["copy"] == "writev" and value.config["endpoint"] == "/bytes/64"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "profile.json").write_text(json.dumps({"kind": "memgate-profile", "sites": []}))
    assert load_against(str(tmp_path / "d"))[0] == "profile"
    with pytest.raises(ProfileError):
        load_against(str(tmp_path / "missing.json"))


def ref_worktrees() -> set[str]:
    """The worktrees profile --against makes for a ref: other worktrees of this repository may come and go meanwhile."""
    listed = subprocess.run(["git", "-C", REPO_ROOT, "worktree", "list", "--porcelain"], capture_output=True, text=True)
    return {line for line in listed.stdout.splitlines() if line.startswith("worktree ") and "memgate-profile-ref." in line}


def test_profile_against_a_git_ref_profiles_that_refs_build(built, tmp_path, capsys):
    before = ref_worktrees()
    head = subprocess.run(["git", "-C", REPO_ROOT, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = tmp_path / "vs-head"
    assert cli.main(["profile", *SMALL, "--set", "copy=buffered", "--set", "name=pref", "--against", "HEAD",
                     "--no-overhead", "-o", str(out)]) == 0
    baseline = json.loads((out / "baseline" / "profile.json").read_text())
    assert baseline["ref"] == {"ref": "HEAD", "commit": head}
    assert "memgate-profile-ref." in baseline["binary"]  # HEAD's own build, not this checkout's
    assert baseline["label"] == f"baseline HEAD ({head[:12]})"
    data = json.loads((out / "profile.json").read_text())
    # The same code on both sides: the body-sized buffer is allocated on both, so it did not grow.
    site = expected_buffer_site(data, "h2c")
    assert any(r["site"].startswith(site) for r in baseline["sites"])
    assert not any(r["site"].startswith(site) for r in data["against"]["grew_bytes_per_request"])
    assert (out / "report.html").exists()
    assert ref_worktrees() == before  # the ref's worktree is gone


def test_profile_against_neither_a_file_nor_a_commit(tmp_path, capsys):
    before = ref_worktrees()
    assert cli.main(["profile", "--against", "no-such-ref-or-file", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--against no-such-ref-or-file: no such file, and REF 'no-such-ref-or-file' is not a commit" in err
    assert ref_worktrees() == before
