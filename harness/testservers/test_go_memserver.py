"""go-memserver: a per-request leak in a garbage-collected heap shows in /mem's live_heap_bytes
(trimmed samples: after a full collection), over HTTP/1.1 keep-alive and h2c."""

import http.client
import json

import pytest

from harness.driver import binaries
from harness.testservers.launch import launcher

REQUESTS = 200
LEAK_BYTES = 10000


@pytest.fixture
def start():
    try:
        program = binaries.binary("go-memserver")
    except binaries.MissingBinary as e:
        pytest.fail(f"{e} (go-memserver needs golang-go and golang-golang-x-net-dev: bash ci/setup.sh)", pytrace=False)
    with launcher() as launch:
        yield lambda *args: launch([program, "--port", "0", *args]).wait_listening()


def mem(conn: http.client.HTTPConnection) -> dict:
    conn.request("GET", "/mem")
    return json.loads(conn.getresponse().read())


def live_heap_growth(server, requests: int) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        before = mem(conn)
        for i in range(requests):
            conn.request("GET", f"/bytes/{100 + i}")
            response = conn.getresponse()
            assert response.status == 200 and len(response.read()) == 100 + i
        after = mem(conn)
    finally:
        conn.close()
    assert after["requests"]["h1"] - before["requests"]["h1"] == requests
    return after["live_heap_bytes"] - before["live_heap_bytes"], after


def test_the_leak_per_request_shows_in_live_heap(start):
    growth, after = live_heap_growth(start("--leak-bytes", str(LEAK_BYTES)), REQUESTS)
    assert after["leaked_bytes"] == REQUESTS * LEAK_BYTES
    # Go rounds a 10000-byte object up to its 10240-byte size class; the runtime's own upkeep is small.
    assert REQUESTS * LEAK_BYTES <= growth <= REQUESTS * 10240 + 256 * 1024


def test_without_the_leak_live_heap_stays_flat(start):
    growth, after = live_heap_growth(start(), REQUESTS)
    assert after["leaked_bytes"] == 0
    assert abs(growth) <= 256 * 1024, growth
