"""docs/MEM_PROTOCOL.md as checks, held against the two servers that implement it: refserver and
go-memserver, over HTTP/1.1 and h2c."""

import http.client
import json
import subprocess

import pytest

from harness.driver import binaries, mem_protocol
from harness.testservers.launch import launcher

CONFORMING = {"trimmed": True, "live_heap_bytes": 10, "rss_bytes": 4096, "requests": {"h1": 1, "h2": 0}}


@pytest.fixture(scope="module", params=["refserver-glibc", "go-memserver"])
def server(request):
    try:
        argv = [binaries.binary(request.param), "--port", "0"]
    except binaries.MissingBinary as e:
        pytest.fail(str(e), pytrace=False)
    with launcher() as start:
        yield start(argv).wait_listening()


def get(port: int, path: str, method: str = "GET") -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def get_h2c(port: int, path: str) -> dict:
    out = subprocess.run(["curl", "-sS", "--fail", "--http2-prior-knowledge", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=10, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("path, trimmed", [("/mem", True), ("/mem?trim=1", True), ("/mem?trim=0", False)])
def test_the_server_answers_mem_as_the_contract_says(server, path, trimmed):
    status, sample = get(server.port, path)
    assert status == 200
    assert mem_protocol.problems(sample, trimmed=trimmed) == []


def bytes_status(port: int, size: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", f"/bytes/{size}")
        response = conn.getresponse()
        return response.status if len(response.read()) == size else -1
    finally:
        conn.close()


def test_mem_over_h2c_conforms_and_counts_by_protocol_not_mem_itself(server):
    _, before = get(server.port, "/mem?trim=0")
    assert bytes_status(server.port, 100) == 200
    sample = get_h2c(server.port, "/mem")
    assert mem_protocol.problems(sample, trimmed=True) == []
    assert mem_protocol.regressions(before, sample) == []
    assert sample["requests"]["h1"] == before["requests"]["h1"] + 1  # /bytes/100; neither /mem
    assert sample["requests"]["h2"] == before["requests"]["h2"]


@pytest.mark.parametrize("path, method, status", [("/mem?trim=2", "GET", 400), ("/mem?trim=yes", "GET", 400),
                                                  ("/mem", "POST", 405)])
def test_a_bad_mem_request_is_refused_with_a_json_error(server, path, method, status):
    answered, body = get(server.port, path, method)
    assert answered == status and "error" in body


@pytest.mark.parametrize("change, problem", [
    ({"live_heap_bytes": None}, "missing required field live_heap_bytes"),
    ({"trimmed": 1}, "trimmed must be a JSON boolean, not 1"),
    ({"rss_bytes": 4096.0}, "rss_bytes must be an integer"),
    ({"rss_bytes": True}, "rss_bytes must be an integer"),
    ({"live_heap_bytes": -1}, "live_heap_bytes must not be negative"),
    ({"requests": {"h1": 3}}, "requests lacks h2"),
    ({"requests": {"h1": "3", "h2": 0}}, "requests.h1 must be an integer"),
    ({"allocator_native": []}, "allocator_native must be a JSON object"),
])
def test_problems_name_what_a_reply_gets_wrong(change, problem):
    sample = {**CONFORMING, **change}
    sample = {k: v for k, v in sample.items() if v is not None}
    (found,) = mem_protocol.problems(sample)
    assert found.startswith(problem)


def test_problems_check_trimmed_against_the_request_and_the_reply_shape():
    assert mem_protocol.problems(CONFORMING, trimmed=True) == []
    assert mem_protocol.problems(CONFORMING, trimmed=False) == ["trimmed is true for a request that asked for no trim"]
    assert mem_protocol.problems([1]) == ["the reply must be a JSON object, not list"]


def test_regressions_name_a_counter_that_went_down():
    later = {**CONFORMING, "allocations": 5, "requests": {"h1": 0, "h2": 0}}
    earlier = {**CONFORMING, "allocations": 7}
    assert mem_protocol.regressions(earlier, later) == ["allocations went down from 7 to 5",
                                                        "requests.h1 went down from 1 to 0"]
    assert mem_protocol.regressions(earlier, earlier) == []
