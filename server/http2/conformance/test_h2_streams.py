"""RFC 9113 5.1 (stream states), 5.1.1 (identifiers), 5.1.2 (concurrency), 5.3 and 6.3 (PRIORITY),
6.4 (RST_STREAM)."""
import struct

from h2_checks import assert_connection_error, assert_stream_error
from harness.abuse.wire import (DATA, END_HEADERS, END_STREAM, HEADERS, PRIORITY_FLAG, INITIAL_WINDOW_SIZE, PRIORITY, PROTOCOL_ERROR,
                                REFUSED_STREAM, RST_STREAM, SETTINGS, STREAM_CLOSED, CANCEL, FRAME_SIZE_ERROR,
                                raw_frame, request_headers, settings_payload)

from server.conformance_table import case


def stalled_stream(client):
    """A request whose response cannot finish: our stream window is 0, so the stream stays half-closed (remote)."""
    client.send(raw_frame(SETTINGS, 0, 0, settings_payload({INITIAL_WINDOW_SIZE: 0})))
    client.headers(1, request_headers("/bytes/1000000"))
    o = client.wait(stream_id=1, timeout=2)
    assert o.status.get(1) == 200, o.describe()


def answered_stream(client):
    """A request answered in full: the stream is closed after the client's END_STREAM."""
    client.headers(1, request_headers("/bytes/10"))
    o = client.wait(stream_id=1, timeout=2)
    assert o.status.get(1) == 200, o.describe()
    while not any(f.type == DATA and f.stream_id == 1 and f.flags & 1 for f in o.frames):
        assert client.read_frame(2) is not None, o.describe()


@case("RFC 9113 5.1.1", "a client-initiated stream with an even id is a connection error PROTOCOL_ERROR")
def test_even_client_stream_id(client):
    client.headers(2, request_headers())
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 5.1.1", "a new stream id below one already used is a connection error PROTOCOL_ERROR")
def test_decreasing_stream_id(client):
    client.headers(5, request_headers())
    assert client.wait(stream_id=5).status.get(5) == 200
    client.headers(3, request_headers())
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 5.1.2", "a stream past SETTINGS_MAX_CONCURRENT_STREAMS is refused alone (RST_STREAM "
      "REFUSED_STREAM); the open streams carry on")
def test_excess_stream_is_refused(client):
    for i in range(101):
        client.send(raw_frame(HEADERS, END_HEADERS, 1 + 2 * i, client.block(request_headers("/upload", "POST"))))
    o = client.wait(stream_id=201, timeout=3)
    assert o.resets.get(201) == REFUSED_STREAM and o.goaway is None, o.describe()
    assert len(o.resets) == 1, o.describe()
    client.data(1, b"still served", end_stream=True)
    assert client.wait(stream_id=1, timeout=3).status.get(1) == 200, client.outcome.describe()


@case("RFC 9113 5.1", "DATA on a half-closed (remote) stream is a STREAM_CLOSED error")
def test_data_after_end_stream(client):
    stalled_stream(client)
    client.data(1, b"late")
    assert_stream_error(client, 1, STREAM_CLOSED)


@case("RFC 9113 5.1", "HEADERS on a half-closed (remote) stream is a STREAM_CLOSED error")
def test_headers_after_end_stream(client):
    stalled_stream(client)
    client.headers(1, [("x-trailer", "late")])
    assert_stream_error(client, 1, STREAM_CLOSED)


@case("RFC 9113 5.1", "DATA on a stream closed after the client's END_STREAM is a connection error STREAM_CLOSED")
def test_data_on_closed_stream(client):
    answered_stream(client)
    client.data(1, b"late", end_stream=True)
    assert_connection_error(client, STREAM_CLOSED)


@case("RFC 9113 6.1", "DATA on a stream the client reset is a stream error STREAM_CLOSED")
def test_data_after_client_reset(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    client.send(raw_frame(RST_STREAM, 0, 1, struct.pack(">I", CANCEL)))
    client.data(1, b"late", end_stream=True)
    assert_stream_error(client, 1, STREAM_CLOSED, connection_allowed=False)


@case("RFC 9113 5.1", "DATA on an idle stream is a connection error PROTOCOL_ERROR")
def test_data_on_idle_stream(client):
    client.data(1, b"no headers yet", end_stream=True)
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 6.4", "RST_STREAM on stream 0 is a connection error PROTOCOL_ERROR")
def test_rst_stream_on_stream_0(client):
    client.send(raw_frame(RST_STREAM, 0, 0, struct.pack(">I", CANCEL)))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 6.4", "RST_STREAM on an idle stream is a connection error PROTOCOL_ERROR")
def test_rst_stream_on_idle_stream(client):
    client.send(raw_frame(RST_STREAM, 0, 1, struct.pack(">I", CANCEL)))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 6.4", "an RST_STREAM whose length is not 4 is a connection error FRAME_SIZE_ERROR")
def test_rst_stream_wrong_length(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    client.send(raw_frame(RST_STREAM, 0, 1, b"\0" * 3))
    assert_connection_error(client, FRAME_SIZE_ERROR)


@case("RFC 9113 6.3", "PRIORITY on stream 0 is a connection error PROTOCOL_ERROR")
def test_priority_on_stream_0(client):
    client.send(raw_frame(PRIORITY, 0, 0, struct.pack(">IB", 1, 16)))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 5.3.1", "a PRIORITY frame making a stream depend on itself is a stream error PROTOCOL_ERROR")
def test_priority_self_dependency(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    client.send(raw_frame(PRIORITY, 0, 1, struct.pack(">IB", 1, 16)))
    assert_stream_error(client, 1, PROTOCOL_ERROR)


@case("RFC 9113 5.3.1", "HEADERS whose priority block makes the stream depend on itself is a PROTOCOL_ERROR "
      "(libnghttp2: a connection error)")
def test_headers_priority_self_dependency(client):
    block = struct.pack(">IB", 1, 16) + client.block(request_headers())
    client.send(raw_frame(HEADERS, END_HEADERS | END_STREAM | PRIORITY_FLAG, 1, block))
    assert_stream_error(client, 1, PROTOCOL_ERROR)
    assert 1 not in client.outcome.status, client.outcome.describe()


@case("RFC 9113 6.3", "a PRIORITY frame whose length is not 5 is a stream error FRAME_SIZE_ERROR")
def test_priority_wrong_length(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    client.send(raw_frame(PRIORITY, 0, 1, b"\0" * 4))
    assert_stream_error(client, 1, FRAME_SIZE_ERROR)


@case("RFC 9113 5.3.2", "PRIORITY on an idle stream is allowed and opens nothing: a request on it is served")
def test_priority_on_idle_stream_is_ignored(client):
    client.send(raw_frame(PRIORITY, 0, 3, struct.pack(">IB", 0, 16)))
    client.headers(3, request_headers())
    o = client.wait(stream_id=3)
    assert o.status.get(3) == 200 and o.goaway is None, o.describe()
