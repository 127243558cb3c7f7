"""RFC 9113 6.9 (WINDOW_UPDATE), 6.9.1 (the flow-control window)."""
import struct

import pytest

from h2_checks import assert_connection_error, assert_stream_error
from harness.abuse.wire import (FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, INITIAL_WINDOW_SIZE, PROTOCOL_ERROR,
                                WINDOW_UPDATE, raw_frame, request_headers)

from server.conformance_table import case

# A request kept open: an upload, and a path the server refuses (404), which must not be
# answered before END_STREAM either.
OPEN_REQUESTS = {"upload": ("/upload", "POST"), "not_found": ("/", "GET")}


@case("RFC 9113 5.1", "WINDOW_UPDATE on an idle stream is a connection error PROTOCOL_ERROR")
def test_window_update_on_idle_stream(client):
    client.send(raw_frame(WINDOW_UPDATE, 0, 5, struct.pack(">I", 100)))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 5.1", "WINDOW_UPDATE on a half-closed (remote) stream is allowed: the response still comes")
def test_window_update_on_half_closed_stream(client):
    client.headers(1, request_headers("/bytes/100"))
    client.send(raw_frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 100)))
    o = client.wait(stream_id=1)
    assert o.status.get(1) == 200 and 1 not in o.resets and o.goaway is None, o.describe()


@case("RFC 9113 6.9.1", "WINDOW_UPDATE pushing the connection window above 2^31-1 is a connection error "
      "FLOW_CONTROL_ERROR")
def test_connection_window_overflow(client):
    client.send(raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7FFFFFFF)))
    assert_connection_error(client, FLOW_CONTROL_ERROR)


@pytest.mark.parametrize("request_kind", sorted(OPEN_REQUESTS))
@case("RFC 9113 6.9.1", "WINDOW_UPDATE pushing a stream window above 2^31-1 is RST_STREAM FLOW_CONTROL_ERROR")
def test_stream_window_overflow(client, request_kind):
    client.headers(1, request_headers(*OPEN_REQUESTS[request_kind]), end_stream=False)
    client.send(raw_frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0x7FFFFFFF)))
    assert_stream_error(client, 1, FLOW_CONTROL_ERROR, connection_allowed=False)
    assert 1 not in client.outcome.status, client.outcome.describe()


@case("RFC 9113 6.9", "WINDOW_UPDATE with increment 0 on stream 0 is a connection error PROTOCOL_ERROR")
def test_window_update_zero_on_connection(client):
    client.send(raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0)))
    assert_connection_error(client, PROTOCOL_ERROR)


@pytest.mark.parametrize("request_kind", sorted(OPEN_REQUESTS))
@case("RFC 9113 6.9", "WINDOW_UPDATE with increment 0 on a stream is a stream error PROTOCOL_ERROR, "
      "before any response")
def test_window_update_zero_on_stream(client, request_kind):
    client.headers(1, request_headers(*OPEN_REQUESTS[request_kind]), end_stream=False)
    client.send(raw_frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0)))
    assert_stream_error(client, 1, PROTOCOL_ERROR)
    assert 1 not in client.outcome.status, client.outcome.describe()


@case("RFC 9113 6.9", "a WINDOW_UPDATE whose length is not 4 is a connection error FRAME_SIZE_ERROR")
def test_window_update_wrong_length(client):
    client.send(raw_frame(WINDOW_UPDATE, 0, 0, b"\0\0\0"))
    assert_connection_error(client, FRAME_SIZE_ERROR)


@case("RFC 9113 6.9.1", "DATA beyond the advertised window is a FLOW_CONTROL_ERROR (if the server does not "
      "open the window as it reads)")
def test_data_beyond_the_advertised_window(client):
    window = client.outcome.settings.get(INITIAL_WINDOW_SIZE, 65535)
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    chunk = b"\0" * 16384
    sent = 0
    while sent <= min(window, 1 << 20) + 16384:
        client.data(1, chunk)
        sent += len(chunk)
    o = client.wait(stream_id=1, timeout=1.0)
    if o.goaway is not None or 1 in o.resets:
        code = o.goaway if o.goaway is not None else o.resets[1]
        assert code == FLOW_CONTROL_ERROR, o.describe()
