"""The loopback TCP limit: both measurement paths move real bytes."""

import shutil

import pytest

from harness.driver import loopback


def test_python_pair_measures_a_positive_rate():
    r = loopback._python_pair(0.3, None, None)
    assert r["bytes_per_s"] > 10 * 1024 * 1024  # far below any loopback, far above zero
    assert "Python" in r["method"]


@pytest.mark.skipif(not shutil.which("iperf3"), reason="iperf3 not installed (ci/setup.sh installs it)")
def test_iperf3_measures_with_one_stream_per_connection():
    r = loopback.measure(1.0, connections=3)
    assert r["bytes_per_s"] > 10 * 1024 * 1024
    assert r["method"].startswith("iperf3, 3 TCP connection(s)")
