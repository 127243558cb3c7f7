"""Shared helpers for the driver's tests: built binaries, and a /proc scan for stray children."""

import os
import subprocess

import pytest

from harness.driver import binaries
from harness.driver.processes import pids_with_environ
from harness.driver.runner import RUN_ID_ENV


def processes_with_run_id(run_id: str) -> list[tuple[int, str]]:
    """(pid, cmdline) of live processes whose environment carries MEMGATE_RUN_ID=run_id."""
    found = []
    for pid in pids_with_environ(RUN_ID_ENV, run_id):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found.append((pid, f.read().replace(b"\0", b" ").decode(errors="replace")))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def assert_no_strays(result_or_run_id) -> None:
    run_id = result_or_run_id if isinstance(result_or_run_id, str) else result_or_run_id["run_id"]
    strays = processes_with_run_id(run_id)
    assert not strays, f"stray processes after run {run_id}: {strays}"
    if not isinstance(result_or_run_id, str):
        for rep in result_or_run_id.get("replicates", []):
            pids = [rep["pids"]["server"], *rep["pids"]["loadgen"]]
            for pid in filter(None, pids):
                assert not os.path.exists(f"/proc/{pid}") or _is_other_process(pid, run_id), f"pid {pid} still exists"


def _is_other_process(pid: int, run_id: str) -> bool:
    return all(p != pid for p, _ in processes_with_run_id(run_id))


@pytest.fixture(scope="session")
def built():
    """The binaries the end-to-end tests need; a clear failure (not a skip) when they are missing."""
    try:
        return {"server": binaries.server_binary("glibc"), "loadgen": binaries.loadgen_binary()}
    except binaries.MissingBinary as e:
        message = str(e)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def verifying_loadgen(built):
    """loadgen with --verify, which servers other than refserver need (their bodies are not the pattern)."""
    usage = subprocess.run([built["loadgen"], "--help"], capture_output=True, text=True).stdout
    if "--verify" not in usage:
        pytest.skip("this loadgen has no --verify (it checks refserver's body pattern only)")
    return built["loadgen"]
