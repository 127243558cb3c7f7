"""HTTP/1.1 conformance of refserver (RFC 9112, RFC 9110), over raw loopback sockets.

Each case sends its bytes in one write and byte-split (one write per few bytes), so the
answer cannot depend on how the request arrives.
"""
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("MEMGATE_BUILD_DIR", ROOT / "build")) / "bin"


@pytest.fixture(scope="module")
def port():
    binary = BIN / "refserver-glibc"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: build with `bash ci/build.sh`")
    process = subprocess.Popen([binary, "--port", "0", "--threads", "1"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    first = process.stdout.readline()
    assert first.startswith("listening on 127.0.0.1:"), first + process.stderr.read()
    yield int(first.rsplit(":", 1)[1])
    process.terminate()
    process.wait(timeout=10)


def exchange(port, request, split, timeout=2.0):
    """Sends `request` (bytes), in 3-byte writes when `split`; returns all bytes until close or `timeout`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pieces = [request[i:i + 3] for i in range(0, len(request), 3)] if split else [request]
        for piece in pieces:
            sock.sendall(piece)
            if split:
                time.sleep(0.001)
        return read_until_close(sock, timeout)


def read_until_close(sock, timeout):
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        received += chunk
    return received


def statuses(reply):
    return [int(line.split(b" ")[1]) for line in reply.split(b"\r\n") if line.startswith(b"HTTP/1.")]


split_or_not = pytest.mark.parametrize("split", [False, True], ids=["one-write", "split"])


@split_or_not
@pytest.mark.parametrize("request_bytes", [
    b"GET /bytes/10 HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET /bytes/10 HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
    b"GET /bytes/10 HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
], ids=["no-host", "two-hosts", "two-hosts-http10"])
def test_rfc9112_3_2_a_request_without_exactly_one_host_gets_400(port, request_bytes, split):
    reply = exchange(port, request_bytes, split)
    assert statuses(reply) == [400], reply[:200]


@split_or_not
def test_rfc9112_3_2_http10_without_host_is_served(port, split):
    reply = exchange(port, b"GET /bytes/10 HTTP/1.0\r\n\r\n", split)
    assert statuses(reply) == [200], reply[:200]


@split_or_not
def test_rfc9112_3_2_2_absolute_form_targets_are_accepted(port, split):
    reply = exchange(port, b"GET http://127.0.0.1/bytes/10 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                     split)
    assert statuses(reply) == [200], reply[:200]
    assert reply.endswith(bytes(range(10)))


@split_or_not
@pytest.mark.parametrize("target,length", [("/bytes/1000", 1000), ("/healthz", None), ("/json", None)])
def test_rfc9110_9_3_2_head_answers_the_get_header_without_a_body(port, target, length, split):
    get = exchange(port, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(), False)
    get_header, _, get_body = get.partition(b"\r\n\r\n")
    head = exchange(port, f"HEAD {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(), split)
    head_header, _, head_body = head.partition(b"\r\n\r\n")
    assert statuses(head) == [200], head[:200]
    assert head_body == b""
    expected = length if length is not None else len(get_body)
    assert f"Content-Length: {expected}".encode() in head_header
    assert head_header == get_header


@split_or_not
def test_rfc9110_9_3_2_head_then_get_on_one_connection(port, split):
    reply = exchange(port, b"HEAD /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\n"
                           b"GET /bytes/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", split)
    assert statuses(reply) == [200, 200], reply
    assert reply.endswith(b"\r\n\r\n" + bytes(range(5)))
    assert reply.count(bytes(range(5))) == 1


@split_or_not
def test_rfc9110_10_1_1_expect_100_continue_is_answered_before_the_body(port, split):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        header = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        for piece in ([header[i:i + 3] for i in range(0, len(header), 3)] if split else [header]):
            sock.sendall(piece)
        sock.settimeout(0.5)  # curl waits 1 s for it before sending the body anyway
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        sock.settimeout(2)
        final = sock.recv(65536)
        assert statuses(final) == [200], final
        assert b'"bytes":5' in final.replace(b" ", b"")


def test_rfc9110_10_1_1_expect_in_http10_is_ignored(port):
    reply = exchange(port, b"POST /upload HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello", False)
    assert statuses(reply) == [200], reply
