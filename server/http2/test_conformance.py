"""RFC 9113 error handling of the refserver's HTTP/2 side, frame by frame over raw sockets.

Each test sends one protocol violation after a valid handshake and asserts the
stream error (RST_STREAM code) or connection error (GOAWAY code) the RFC requires.
RFC 9113 section 5.4.1 lets an endpoint treat any stream error as a connection error,
so a stream-error test also accepts a GOAWAY carrying the same code; which of the two
the server chose is in the assertion message.
"""
import contextlib
import http.client
import os
import struct
import subprocess
import time
from pathlib import Path

import pytest

from harness.abuse.wire import (ACK, CONTINUATION, DATA, END_HEADERS, END_STREAM, ENABLE_PUSH, FLOW_CONTROL_ERROR,
                                FRAME_SIZE_ERROR, GOAWAY, HEADERS, INITIAL_WINDOW_SIZE, MAX_CONCURRENT_STREAMS,
                                MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE, NO_RFC7540_PRIORITIES, PING, PREFACE,
                                PROTOCOL_ERROR, REFUSED_STREAM, SETTINGS, STREAM_CLOSED, WINDOW_UPDATE, H2Client, error_name,
                                raw_frame, request_headers, settings_payload)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("MEMGATE_BUILD_DIR", ROOT / "build")) / "bin"


@contextlib.contextmanager
def serve(*flags):
    path = BIN / "refserver-glibc"
    if not path.exists():
        pytest.fail(f"{path} is missing: build with `bash ci/build.sh`")
    proc = subprocess.Popen([str(path), "--port", "0", "--threads", "1", *flags], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("listening on 127.0.0.1:"), first
        yield int(first.rsplit(":", 1)[1])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def port():
    with serve() as p:
        yield p


def healthz(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def client(port):
    c = H2Client(port, timeout=5)
    c.handshake()
    yield c
    c.close()
    # The server survived the violation and still serves a new connection.
    assert healthz(port) == (200, b'{"status":"ok"}')


def assert_connection_error(c, code, timeout=3.0):
    o = c.wait(timeout=timeout)
    assert o.goaway == code, (f"want GOAWAY {error_name(code)}, got {o.describe()}; "
                              f"frames {[(t, f, s) for t, f, s, _ in o.frames]}")
    # After a connection error the server closes the connection (RFC 9113 5.4.1).
    c.wait(timeout=timeout, until_goaway=False)
    assert c.outcome.closed, "server did not close after GOAWAY"


def assert_stream_error(c, stream_id, code, timeout=3.0):
    o = c.wait(stream_id=stream_id, timeout=timeout)
    if stream_id in o.resets:
        assert o.resets[stream_id] == code, f"want RST_STREAM {error_name(code)}, got {o.describe()}"
        return "stream"
    assert o.goaway == code, (f"want RST_STREAM (or GOAWAY) {error_name(code)} on stream {stream_id}, "
                              f"got {o.describe()}")
    return "connection"


# -- the server's SETTINGS --------------------------------------------------------

def test_server_settings_advertise_limits(port):
    c = H2Client(port)
    try:
        settings = c.handshake()
        assert settings.get(MAX_CONCURRENT_STREAMS) == 100, settings
        assert settings.get(MAX_HEADER_LIST_SIZE) == 65536, settings
        assert settings.get(NO_RFC7540_PRIORITIES) == 1, settings
        c.headers(1, request_headers("/healthz"))
        assert c.wait(stream_id=1).status.get(1) == 200
    finally:
        c.close()


# -- preface ------------------------------------------------------------------------

def test_preface_then_non_settings_frame_is_protocol_error(port):
    # RFC 9113 3.4: the preface's first frame MUST be SETTINGS; else connection error PROTOCOL_ERROR.
    c = H2Client(port)
    try:
        c.send(PREFACE + raw_frame(PING, 0, 0, b"\0" * 8))
        assert_connection_error(c, PROTOCOL_ERROR)
    finally:
        c.close()
    assert healthz(port)[0] == 200


def test_broken_preface_is_not_served_as_h2(port):
    # "PRI * HTTP/2.0" then garbage: not HTTP/2 (3.4: PROTOCOL_ERROR, GOAWAY optional), and with h1
    # fallback not a valid HTTP/1.1 request either: the server must answer 400 or close, never serve it.
    c = H2Client(port)
    try:
        c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + raw_frame(SETTINGS, 0, 0))
        got = b""
        while True:
            part = c._recv_exact(1, 3.0)
            if part is None:
                break
            got += part + c.buf
            c.buf = b""
        assert c.outcome.closed, f"server kept the connection open after {got[:80]!r}"
        assert got == b"" or got.startswith(b"HTTP/1.1 400") or got[3:4] == bytes([GOAWAY]), got[:80]
    finally:
        c.close()
    assert healthz(port)[0] == 200


# -- frames on the wrong stream -------------------------------------------------------

def test_data_on_stream_0(client):
    client.send(raw_frame(DATA, 0, 0, b"x"))       # 6.1: connection error PROTOCOL_ERROR
    assert_connection_error(client, PROTOCOL_ERROR)


def test_headers_on_stream_0(client):
    client.send(raw_frame(HEADERS, END_HEADERS | END_STREAM, 0, client.block(request_headers())))  # 6.2
    assert_connection_error(client, PROTOCOL_ERROR)


def test_settings_on_a_stream(client):
    client.send(raw_frame(SETTINGS, 0, 1, settings_payload({ENABLE_PUSH: 0})))  # 6.5
    assert_connection_error(client, PROTOCOL_ERROR)


def test_even_client_stream_id(client):
    client.headers(2, request_headers())           # 5.1.1: connection error PROTOCOL_ERROR
    assert_connection_error(client, PROTOCOL_ERROR)


def test_decreasing_stream_id(client):
    client.headers(5, request_headers())
    assert client.wait(stream_id=5).status.get(5) == 200
    client.headers(3, request_headers())           # 5.1.1: connection error PROTOCOL_ERROR
    assert_connection_error(client, PROTOCOL_ERROR)


def test_excess_stream_is_refused(client):
    # 5.1.2: a stream past the advertised (and ACKed) SETTINGS_MAX_CONCURRENT_STREAMS is refused on its own,
    # and the streams already open carry on: the 101st of 101 open uploads gets RST_STREAM REFUSED_STREAM.
    block = client.block(request_headers("/upload", "POST"))
    for i in range(101):
        client.send(raw_frame(HEADERS, END_HEADERS, 1 + 2 * i, block if i == 0 else client.block(
            request_headers("/upload", "POST"))))
    o = client.wait(stream_id=201, timeout=3)
    assert o.resets.get(201) == REFUSED_STREAM and o.goaway is None, o.describe()
    assert len(o.resets) == 1, o.describe()
    client.data(1, b"still served", end_stream=True)
    assert client.wait(stream_id=1, timeout=3).status.get(1) == 200, client.outcome.describe()


# -- flow control ------------------------------------------------------------------------

def test_connection_window_overflow(client):
    client.send(raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF)))  # 6.9.1
    assert_connection_error(client, FLOW_CONTROL_ERROR)


def test_stream_window_overflow(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)   # stream stays open
    client.send(raw_frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x7FFFFFFF)))  # 6.9.1: stream error
    assert_stream_error(client, 1, FLOW_CONTROL_ERROR)


def test_window_update_zero_on_stream(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    client.send(raw_frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0)))  # 6.9: stream error PROTOCOL_ERROR
    assert_stream_error(client, 1, PROTOCOL_ERROR)


def test_data_beyond_the_advertised_window(client):
    window = client.outcome.settings.get(INITIAL_WINDOW_SIZE, 65535)
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    chunk = b"\0" * 16384
    sent = 0
    while sent <= min(window, 1 << 20) + 16384:  # beyond the stream window (6.9.1: FLOW_CONTROL_ERROR)
        client.data(1, chunk)
        sent += len(chunk)
        if client.outcome.goaway is not None or 1 in client.outcome.resets:
            break
    # The server may have opened the window as it consumed: only a stream reset or GOAWAY here is an error.
    o = client.wait(stream_id=1, timeout=1.0)
    if o.goaway is not None or 1 in o.resets:
        code = o.goaway if o.goaway is not None else o.resets[1]
        assert code == FLOW_CONTROL_ERROR, o.describe()


# -- bad SETTINGS values --------------------------------------------------------------------

@pytest.mark.parametrize("setting,value,code", [
    (ENABLE_PUSH, 2, PROTOCOL_ERROR),                  # 6.5.2
    (INITIAL_WINDOW_SIZE, 0x80000000, FLOW_CONTROL_ERROR),
    (MAX_FRAME_SIZE, 16383, PROTOCOL_ERROR),
    (MAX_FRAME_SIZE, 1 << 24, PROTOCOL_ERROR),
], ids=["enable_push_2", "initial_window_2^31", "max_frame_16383", "max_frame_2^24"])
def test_bad_settings_value(client, setting, value, code):
    client.send(raw_frame(SETTINGS, 0, 0, settings_payload({setting: value})))
    assert_connection_error(client, code)


def test_settings_length_not_multiple_of_6(client):
    client.send(raw_frame(SETTINGS, 0, 0, b"\0" * 5))  # 6.5: connection error FRAME_SIZE_ERROR
    assert_connection_error(client, FRAME_SIZE_ERROR)


def test_settings_ack_with_payload(client):
    client.send(raw_frame(SETTINGS, ACK, 0, settings_payload({ENABLE_PUSH: 0})))  # 6.5: FRAME_SIZE_ERROR
    assert_connection_error(client, FRAME_SIZE_ERROR)


def test_ping_wrong_length(client):
    client.send(raw_frame(PING, 0, 0, b"\0" * 7))  # 6.7: connection error FRAME_SIZE_ERROR
    assert_connection_error(client, FRAME_SIZE_ERROR)


# -- malformed requests (8.1.1: stream error PROTOCOL_ERROR) -----------------------------------

MALFORMED = {
    "missing_path": [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1")],
    "missing_method": [(":scheme", "http"), (":path", "/healthz"), (":authority", "127.0.0.1")],
    "missing_scheme": [(":method", "GET"), (":path", "/healthz"), (":authority", "127.0.0.1")],
    "empty_path": [(":method", "GET"), (":scheme", "http"), (":path", ""), (":authority", "127.0.0.1")],
    "duplicated_method": [(":method", "GET"), (":method", "GET"), (":scheme", "http"), (":path", "/healthz"),
                          (":authority", "127.0.0.1")],
    "pseudo_after_regular": [(":method", "GET"), (":scheme", "http"), ("accept", "*/*"), (":path", "/healthz"),
                             (":authority", "127.0.0.1")],
    "unknown_pseudo": request_headers() + [(":foo", "bar")],
    "response_pseudo_in_request": request_headers() + [(":status", "200")],
    "uppercase_name": request_headers(extra=[("Accept", "*/*")]),
    "connection": request_headers(extra=[("connection", "keep-alive")]),
    "keep_alive": request_headers(extra=[("keep-alive", "timeout=5")]),
    "transfer_encoding": request_headers(extra=[("transfer-encoding", "chunked")]),
    "upgrade": request_headers(extra=[("upgrade", "h2c")]),
    "te_not_trailers": request_headers(extra=[("te", "gzip")]),
    "space_in_name": request_headers(extra=[("bad name", "x")]),
    "newline_in_value": request_headers(extra=[("x-a", "a\r\nx-b: b")]),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_request_is_stream_protocol_error(client, name):
    client.headers(1, MALFORMED[name])
    assert_stream_error(client, 1, PROTOCOL_ERROR)
    assert 1 not in client.outcome.status, f"server answered the malformed request: {client.outcome.describe()}"


def test_content_length_more_than_data(client):
    client.headers(1, request_headers("/upload", "POST", [("content-length", "10")]), end_stream=False)
    client.data(1, b"12345", end_stream=True)    # 8.1.1: malformed, stream error PROTOCOL_ERROR
    assert_stream_error(client, 1, PROTOCOL_ERROR)
    assert 1 not in client.outcome.status, client.outcome.describe()


def test_content_length_less_than_data(client):
    client.headers(1, request_headers("/upload", "POST", [("content-length", "3")]), end_stream=False)
    client.data(1, b"12345", end_stream=True)
    assert_stream_error(client, 1, PROTOCOL_ERROR)
    assert 1 not in client.outcome.status, client.outcome.describe()


# -- frames after END_STREAM --------------------------------------------------------------------

def stalled_stream(client):
    """A request whose response cannot finish: our stream window is 0, so the stream stays half-closed (remote)."""
    client.send(raw_frame(SETTINGS, 0, 0, settings_payload({INITIAL_WINDOW_SIZE: 0})))
    client.headers(1, request_headers("/bytes/1000000"))
    o = client.wait(stream_id=1, timeout=2)
    assert o.status.get(1) == 200, o.describe()


def test_data_after_end_stream(client):
    stalled_stream(client)
    client.data(1, b"late")                 # 5.1 half-closed (remote): stream error STREAM_CLOSED
    assert_stream_error(client, 1, STREAM_CLOSED)


def test_headers_after_end_stream(client):
    stalled_stream(client)
    client.headers(1, [("x-trailer", "late")])  # 5.1 half-closed (remote): stream error STREAM_CLOSED
    assert_stream_error(client, 1, STREAM_CLOSED)


# -- oversized frames (4.2) -------------------------------------------------------------------------

def test_oversized_headers_frame(client):
    block = client.encoder.encode(request_headers(extra=[("x-big", "a" * 20000)]), huffman=False)
    assert len(block) > 16384
    client.send(raw_frame(HEADERS, END_HEADERS | END_STREAM, 1, block))  # field block: connection error
    assert_connection_error(client, FRAME_SIZE_ERROR)


def test_oversized_data_frame(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    client.data(1, b"\0" * 16385)   # > SETTINGS_MAX_FRAME_SIZE (16384, the server's default)
    assert_stream_error(client, 1, FRAME_SIZE_ERROR)


def test_oversized_settings_frame(client):
    client.send(raw_frame(SETTINGS, 0, 0, settings_payload({ENABLE_PUSH: 0}) * 2731))  # 16386 bytes
    assert_connection_error(client, FRAME_SIZE_ERROR)


def test_continuation_without_headers(client):
    client.send(raw_frame(CONTINUATION, END_HEADERS, 1, client.block(request_headers())))  # 6.10
    assert_connection_error(client, PROTOCOL_ERROR)


def test_other_frame_inside_header_block(client):
    block = client.block(request_headers())
    client.send(raw_frame(HEADERS, END_STREAM, 1, block[:5]))
    client.send(raw_frame(PING, 0, 0, b"\0" * 8))    # 6.10: anything but CONTINUATION: PROTOCOL_ERROR
    assert_connection_error(client, PROTOCOL_ERROR)


# -- the server's own limits (config/limits.hpp), proven through the wire ----------------------------

@pytest.mark.parametrize("continuations,cut", [(8, False), (9, True)])
def test_continuation_limit(client, continuations, cut):
    # CVE-2024-28182: at most 8 CONTINUATION frames per header block (limits.h2_max_continuations).
    client.send(raw_frame(HEADERS, END_STREAM, 1, client.block(request_headers())))
    for i in range(continuations - 1):
        client.send(raw_frame(CONTINUATION, 0, 1, client.block([(f"x-c{i}", "v")])))
    client.send(raw_frame(CONTINUATION, END_HEADERS, 1, client.block([("x-end", "v")])))
    if cut:
        assert_connection_error(client, PROTOCOL_ERROR)
    else:
        o = client.wait(stream_id=1)
        assert o.status.get(1) == 200 and o.goaway is None, o.describe()


def test_idle_timeout_sends_goaway_before_close():
    # 6.8: endpoints SHOULD send GOAWAY (here NO_ERROR, with the last stream processed) before closing.
    # Activity moves the deadline: a request 0.6 s in pushes the GOAWAY to about 1 s after it.
    with serve("--idle-timeout-ms", "1000") as p:
        c = H2Client(p)
        try:
            c.handshake()
            time.sleep(0.6)
            c.headers(1, request_headers("/healthz"))
            assert c.wait(stream_id=1).status.get(1) == 200, c.outcome.describe()
            answered = time.monotonic()
            o = c.wait(timeout=4)
            assert o.goaway == 0, f"want GOAWAY NO_ERROR then close, got {o.describe()}"
            assert time.monotonic() - answered > 0.8, "GOAWAY came before the connection was idle for 1 s"
            c.wait(timeout=2, until_goaway=False)
            assert c.outcome.closed, "server did not close after the idle GOAWAY"
        finally:
            c.close()


def test_zero_window_peer_is_cut_by_send_timeout():
    with serve("--send-timeout-ms", "1000") as p:
        c = H2Client(p)
        try:
            c.handshake({INITIAL_WINDOW_SIZE: 0})
            c.headers(1, request_headers("/bytes/1048576"))
            o = c.wait(timeout=4)
            assert o.goaway is not None or 1 in o.resets or o.closed, f"not cut off after 4 s: {o.describe()}"
        finally:
            c.close()
