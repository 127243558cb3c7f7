"""What a connection holds while it waits for its next request, and what an HTTP/1.1 request
over TLS allocates in steady state, read from a running refserver's /mem: bytes and counts,
not times, so the bounds hold on a loaded machine. A connection with nothing unparsed waits
for readability with no read buffer of its own (pooled_read.hpp) and, over TLS, without
OpenSSL's record buffers (record_buffers.hpp)."""

import json
import socket
import time

import pytest

from server.test_refserver import Server, h2_frame, read_h2_until_stream_ends, start_tls_server, tls_connect

HELD = 100
# Live heap per idle connection, measured at this size: h1 4,078 B with the input buffer it
# kept between requests, 3,856 B without; h2c 45,768 B with the 16 KiB read buffer every
# connection held, 31,501 B without. Over TLS the figures move by several KiB from run to run
# (OpenSSL's session state): the bounds there catch record buffers kept while idle (two of
# about 17 KiB and the 16 KiB staging buffer), on top of Asio's engine (two 17 KiB buffers)
# and OpenSSL's state that every TLS connection holds.
IDLE_LIVE_HEAP_MAX_BYTES = {"h1": 3968, "h2c": 36 * 1024, "h1-tls": 112 * 1024, "h2-tls": 144 * 1024}
# OpenSSL's record buffers went and came back with every record while Asio's engine had them
# released after each: 13 allocations per request at 1 KiB, 26 at 64 KiB. Now they are kept for
# a request and its response and go only while the connection waits for the next: 7 and 19,
# the rest being OpenSSL's small blocks and Asio's handler memory for each record's write.
H1_TLS_MAX_ALLOCATIONS_PER_REQUEST = {1024: 8, 65536: 20}
H1_TLS_REQUESTS = 300

H2_GET = h2_frame(1, 0x05, 1, b"\x82\x87\x44\x09/bytes/10\x41\x01x")  # as test_refserver.py's, on stream 1
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b"")


def mem(server) -> dict:
    if not server.tls:
        status, body = server.get("/mem?trim=0")
        assert status == 200
        return json.loads(body)
    with tls_connect(server.port, ["http/1.1"]) as tls:
        return json.loads(h1_get(tls, b"/mem?trim=0"))


def settled(server) -> dict:
    """/mem once the connections closed before are gone (a closing one lingers a while)."""
    deadline = time.monotonic() + 10
    while (sample := mem(server))["connections"]["open"] > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    return sample


def h1_get(sock, target: bytes) -> bytes:
    """One keep-alive GET; returns the body (the response must carry Content-Length)."""
    sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    return h1_response_bodies(sock, 1)[0]


def h1_response_bodies(sock, count: int) -> list[bytes]:
    """The bodies of the next `count` responses (each with Content-Length), read in order."""
    received, bodies = b"", []
    while len(bodies) < count:
        header_end = received.find(b"\r\n\r\n")
        if header_end >= 0:
            header = received[:header_end]
            assert header.startswith(b"HTTP/1.1 200 "), header
            length = int(header.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
            if len(received) >= header_end + 4 + length:
                bodies.append(received[header_end + 4:header_end + 4 + length])
                received = received[header_end + 4 + length:]
                continue
        chunk = sock.recv(65536)
        assert chunk, "the server closed before the response ended"
        received += chunk
    assert not received, "more than the responses asked for"
    return bodies


def open_idle(kind: str, port: int):
    """A connection that served one request and now waits for the next."""
    if kind.endswith("-tls"):
        sock = tls_connect(port, ["h2" if kind.startswith("h2") else "http/1.1"])
    else:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if kind.startswith("h2"):
        sock.sendall(H2_PREFACE + H2_GET)
        read_h2_until_stream_ends(sock)
    else:
        assert len(h1_get(sock, b"/bytes/64")) == 64
    return sock


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    started = {"plain": Server("glibc"), "tls": start_tls_server(tmp_path_factory.mktemp("tls"))}
    for kind, server in started.items():
        server.tls = kind == "tls"
    yield started
    for server in started.values():
        assert server.stop() == 0


@pytest.mark.parametrize("kind", list(IDLE_LIVE_HEAP_MAX_BYTES))
def test_an_idle_connection_holds_no_read_buffer(servers, kind):
    server = servers["tls" if kind.endswith("-tls") else "plain"]
    for sock in [open_idle(kind, server.port) for _ in range(8)]:  # the threads' buffers and pools exist
        sock.close()
    start = settled(server)["live_heap_bytes"]
    held = [open_idle(kind, server.port) for _ in range(HELD)]
    try:
        per_connection = (mem(server)["live_heap_bytes"] - start) / HELD
    finally:
        for sock in held:
            sock.close()
    assert 0 < per_connection <= IDLE_LIVE_HEAP_MAX_BYTES[kind], per_connection


@pytest.mark.parametrize("body_bytes", list(H1_TLS_MAX_ALLOCATIONS_PER_REQUEST))
def test_h1_over_tls_keeps_its_record_buffers_for_a_request(servers, body_bytes):
    server = servers["tls"]
    target = b"/bytes/%d" % body_bytes
    with tls_connect(server.port, ["http/1.1"]) as tls:
        for _ in range(100):
            h1_get(tls, target)
        first = mem(server)["allocations"]
        probe = mem(server)["allocations"] - first  # what one /mem costs, taken out below
        for _ in range(H1_TLS_REQUESTS):
            assert len(h1_get(tls, target)) == body_bytes
        per_request = (mem(server)["allocations"] - first - 2 * probe) / H1_TLS_REQUESTS
    assert per_request <= H1_TLS_MAX_ALLOCATIONS_PER_REQUEST[body_bytes], per_request


@pytest.mark.parametrize("kind", ["h1", "h1-tls"])
def test_a_request_that_arrives_during_a_response_is_answered(servers, kind):
    """A wait for readability reports only input that arrives while it waits: the next request,
    sent while the server still writes a response too large for the socket buffers, is read
    before the connection waits."""
    server = servers["tls" if kind.endswith("-tls") else "plain"]
    with open_idle(kind, server.port) as sock:
        sock.sendall(b"GET /bytes/4194304 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)  # the client reads nothing yet: the server's write waits for room
        sock.sendall(b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        assert [len(body) for body in h1_response_bodies(sock, 2)] == [4194304, 10]


@pytest.mark.parametrize("kind", ["h1", "h1-tls"])
def test_a_body_larger_than_one_read_is_read_whole(servers, kind):
    """The socket still holds what one 64 KiB read left, and no more is coming: the next read
    must find it without waiting for readability, which only new input would signal."""
    server = servers["tls" if kind.endswith("-tls") else "plain"]
    body = bytes(256 * 1024)
    with open_idle(kind, server.port) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        assert json.loads(h1_response_bodies(sock, 1)[0])
