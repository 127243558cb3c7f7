"""RFC 9113 3.4 (the preface), 6.5 (SETTINGS), 6.7 (PING), 6.8 (GOAWAY): connection-level rules."""
import time

from h2_checks import assert_connection_error, connect, healthz, serve
from harness.abuse.wire import (ACK, ENABLE_PUSH, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, GOAWAY, INITIAL_WINDOW_SIZE,
                                MAX_CONCURRENT_STREAMS, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE, NO_RFC7540_PRIORITIES,
                                PING, PREFACE, PROTOCOL_ERROR, SETTINGS, raw_frame, request_headers, settings_payload)
import pytest

from server.conformance_table import case


@case("RFC 9113 6.5.2", "the server's SETTINGS advertise its stream and header-list limits and turn RFC 7540 "
      "priorities off")
def test_server_settings_advertise_limits(server):
    port, transport, _ = server
    c = connect(port, transport)
    try:
        settings = c.handshake()
        assert settings.get(MAX_CONCURRENT_STREAMS) == 100, settings
        assert settings.get(MAX_HEADER_LIST_SIZE) == 65536, settings
        assert settings.get(NO_RFC7540_PRIORITIES) == 1, settings
        c.headers(1, request_headers("/healthz"))
        assert c.wait(stream_id=1).status.get(1) == 200
    finally:
        c.close()


@case("RFC 9113 3.4", "a preface not followed by SETTINGS is a connection error PROTOCOL_ERROR")
def test_preface_then_non_settings_frame_is_protocol_error(server, write):
    port, transport, _ = server
    c = connect(port, transport, write)
    try:
        c.send(PREFACE + raw_frame(PING, 0, 0, b"\0" * 8))
        assert_connection_error(c, PROTOCOL_ERROR)
    finally:
        c.close()
    assert healthz(port, transport) == 200


@case("RFC 9113 3.4", "a client that starts with `PRI * HTTP/2.0` but breaks the preface gets GOAWAY "
      "PROTOCOL_ERROR and a close, not the HTTP/1.1 parser")
def test_broken_preface_is_goaway_protocol_error(server, write):
    port, transport, _ = server
    c = connect(port, transport, write)
    try:
        c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + raw_frame(SETTINGS, 0, 0))
        assert_connection_error(c, PROTOCOL_ERROR)
        assert GOAWAY in [f.type for f in c.outcome.frames], c.outcome.describe()
    finally:
        c.close()
    assert healthz(port, transport) == 200


@pytest.mark.parametrize("setting,value,code", [
    (ENABLE_PUSH, 2, PROTOCOL_ERROR),
    (INITIAL_WINDOW_SIZE, 0x80000000, FLOW_CONTROL_ERROR),
    (MAX_FRAME_SIZE, 16383, PROTOCOL_ERROR),
    (MAX_FRAME_SIZE, 1 << 24, PROTOCOL_ERROR),
], ids=["enable_push_2", "initial_window_2^31", "max_frame_16383", "max_frame_2^24"])
@case("RFC 9113 6.5.2", "ENABLE_PUSH other than 0/1, MAX_FRAME_SIZE outside 2^14..2^24-1 are PROTOCOL_ERROR, "
      "INITIAL_WINDOW_SIZE above 2^31-1 is FLOW_CONTROL_ERROR (connection errors)")
def test_bad_settings_value(client, setting, value, code):
    client.send(raw_frame(SETTINGS, 0, 0, settings_payload({setting: value})))
    assert_connection_error(client, code)


@case("RFC 9113 6.5", "SETTINGS on a stream other than 0 is a connection error PROTOCOL_ERROR")
def test_settings_on_a_stream(client):
    client.send(raw_frame(SETTINGS, 0, 1, settings_payload({ENABLE_PUSH: 0})))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 6.5", "a SETTINGS length that is not a multiple of 6 is a connection error FRAME_SIZE_ERROR")
def test_settings_length_not_multiple_of_6(client):
    client.send(raw_frame(SETTINGS, 0, 0, b"\0" * 5))
    assert_connection_error(client, FRAME_SIZE_ERROR)


@case("RFC 9113 6.5", "a SETTINGS ACK with a payload is a connection error FRAME_SIZE_ERROR")
def test_settings_ack_with_payload(client):
    client.send(raw_frame(SETTINGS, ACK, 0, settings_payload({ENABLE_PUSH: 0})))
    assert_connection_error(client, FRAME_SIZE_ERROR)


@case("RFC 9113 6.5.3", "a SETTINGS frame is acknowledged with an empty SETTINGS ACK")
def test_settings_are_acknowledged(client):
    client.send(raw_frame(SETTINGS, 0, 0, settings_payload({ENABLE_PUSH: 0})))
    client.send(raw_frame(PING, 0, 0, b"settled!"))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not any(f.type == PING and f.flags & ACK for f in client.outcome.frames):
        assert client.read_frame(3) is not None, client.outcome.describe()
    acks = [f for f in client.outcome.frames if f.type == SETTINGS and f.flags & ACK]
    assert acks and all(f.payload == b"" and f.stream_id == 0 for f in acks), client.outcome.frames


@case("RFC 9113 6.7", "PING is answered with a PING ACK carrying the same 8 bytes")
def test_ping_is_answered(client):
    client.send(raw_frame(PING, 0, 0, b"12345678"))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        frame = client.read_frame(3)
        assert frame is not None, client.outcome.describe()
        if frame.type == PING:
            assert (frame.flags, frame.stream_id, frame.payload) == (ACK, 0, b"12345678")
            return
    pytest.fail("no PING ACK")


@case("RFC 9113 6.7", "a PING whose length is not 8 is a connection error FRAME_SIZE_ERROR")
def test_ping_wrong_length(client):
    client.send(raw_frame(PING, 0, 0, b"\0" * 7))
    assert_connection_error(client, FRAME_SIZE_ERROR)


@case("RFC 9113 6.7", "PING on a stream other than 0 is a connection error PROTOCOL_ERROR")
def test_ping_on_a_stream(client):
    client.send(raw_frame(PING, 0, 1, b"\0" * 8))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 6.8", "GOAWAY on a stream other than 0 is a connection error PROTOCOL_ERROR")
def test_goaway_on_a_stream(client):
    client.send(raw_frame(GOAWAY, 0, 1, b"\0" * 8))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 6.8", "an idle connection is closed with GOAWAY NO_ERROR naming the last stream processed")
def test_idle_timeout_sends_goaway_before_close(transport, certificate):
    # Activity moves the deadline: a request 0.6 s in pushes the GOAWAY to about 1 s after it.
    with serve(transport, certificate, "--idle-timeout-ms", "1000") as p:
        c = connect(p, transport)
        try:
            c.handshake()
            time.sleep(0.6)
            c.headers(1, request_headers("/healthz"))
            assert c.wait(stream_id=1).status.get(1) == 200, c.outcome.describe()
            answered = time.monotonic()
            o = c.wait(timeout=4)
            assert o.goaway == 0 and o.goaway_last_stream == 1, f"want GOAWAY NO_ERROR then close, got {o.describe()}"
            assert time.monotonic() - answered > 0.8, "GOAWAY came before the connection was idle for 1 s"
            c.wait(timeout=2, until_goaway=False)
            assert c.outcome.closed, "server did not close after the idle GOAWAY"
        finally:
            c.close()


@case("RFC 9113 10.5", "a peer that keeps its window at 0 is cut off by the send timeout, not held forever")
def test_zero_window_peer_is_cut_by_send_timeout(transport, certificate):
    with serve(transport, certificate, "--send-timeout-ms", "1000") as p:
        c = connect(p, transport)
        try:
            c.handshake({INITIAL_WINDOW_SIZE: 0})
            c.headers(1, request_headers("/bytes/1048576"))
            o = c.wait(timeout=4)
            assert o.goaway is not None or 1 in o.resets or o.closed, f"not cut off after 4 s: {o.describe()}"
        finally:
            c.close()


@case("RFC 9113 6.5.2", "a SETTINGS identifier the server does not know is ignored: acknowledged, and the "
      "connection serves on")
def test_unknown_setting_is_ignored(client):
    client.send(raw_frame(SETTINGS, 0, 0, settings_payload({0x7A7A: 12345})))
    client.headers(1, request_headers("/healthz"))
    o = client.wait(stream_id=1)
    assert o.status.get(1) == 200 and o.goaway is None, o.describe()
    assert (SETTINGS, ACK, 0) in [(f.type, f.flags, f.stream_id) for f in o.frames], o.describe()


@case("RFC 9113 6.7", "a PING ACK is not answered")
def test_ping_ack_is_not_answered(client):
    client.send(raw_frame(PING, ACK, 0, b"87654321"))
    client.headers(1, request_headers("/healthz"))  # its answer bounds the wait
    o = client.wait(stream_id=1)
    assert o.status.get(1) == 200 and o.goaway is None, o.describe()
    assert not [f for f in o.frames if f.type == PING], "the server answered a PING ACK"
