"""Fixtures of the HTTP/1.1 conformance suite: one refserver for the suite, and the write
mode (one write, or byte by byte) every test runs in."""
import os
import subprocess
from pathlib import Path

import pytest

from h1_wire import WRITES

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("MEMGATE_BUILD_DIR", ROOT / "build")) / "bin"


@pytest.fixture(scope="session")
def port():
    binary = BIN / "refserver-glibc"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: build with `bash ci/build.sh`")
    process = subprocess.Popen([binary, "--port", "0", "--threads", "1"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    first = process.stdout.readline()
    assert first.startswith("listening on 127.0.0.1:"), first
    yield int(first.rsplit(":", 1)[1])
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(params=WRITES)
def write(request):
    return request.param
