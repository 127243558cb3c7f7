"""Binary identities for matrix resume: the GNU build id as readelf reads it, else the file's sha256."""

import hashlib
import os
import shutil
import subprocess

import pytest

from harness.driver import identity, scenario
from harness.driver.binaries import REPO_ROOT


def test_the_build_id_is_the_one_readelf_reads(built):
    notes = subprocess.run(["readelf", "-n", built["server"]], capture_output=True, text=True).stdout
    assert f"build-id:{notes.split('Build ID:')[1].split()[0]}" == identity.identity(built["server"])


def test_a_file_without_a_build_id_is_identified_by_its_sha256(tmp_path):
    script = tmp_path / "server.sh"
    script.write_text("#!/bin/sh\nexec sleep 1\n")
    assert identity.gnu_build_id(str(script)) is None
    assert identity.identity(str(script)) == "sha256:" + hashlib.sha256(script.read_bytes()).hexdigest()


@pytest.mark.skipif(not shutil.which("nginx"), reason="no nginx")
def test_a_command_target_is_identified_by_its_resolved_program(built):
    config = scenario.load(os.path.join(REPO_ROOT, "scenarios", "targets", "nginx-static.toml")).config
    found = identity.case_binaries(config)
    assert set(found) == {"loadgen", "libmemgate_heapshim.so", "nginx"}
    assert found["nginx"] == identity.identity(shutil.which("nginx")) and found["nginx"].startswith("build-id:")
