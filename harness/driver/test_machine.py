import subprocess

from harness.driver import machine


def _commit(repo, message):
    subprocess.run(["git", "-C", repo, "commit", "-q", "--allow-empty", "-m", message], check=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})
    return subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_commit_is_the_measured_checkouts_when_memgate_source_dir_is_set(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    measured = _commit(str(tmp_path), "measured")
    monkeypatch.delenv("MEMGATE_SOURCE_DIR", raising=False)
    own = machine.commit_info()["id"]
    monkeypatch.setenv("MEMGATE_SOURCE_DIR", str(tmp_path))
    info = machine.commit_info()
    assert info["id"] == measured != own
    assert info["dirty"] is False
