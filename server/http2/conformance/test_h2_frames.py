"""RFC 9113 4.1-4.3 (frame format, size, field blocks), 5.5 (extensions), 6.1 (DATA), 6.2 (HEADERS),
6.10 (CONTINUATION), and the server's CONTINUATION limit (10.5)."""
import pytest

from h2_checks import assert_connection_error, assert_stream_error
from harness.abuse.wire import (CONTINUATION, DATA, END_HEADERS, END_STREAM, ENABLE_PUSH, FRAME_SIZE_ERROR, HEADERS,
                                PADDED, PING, PROTOCOL_ERROR, PUSH_PROMISE, SETTINGS, raw_frame, request_headers,
                                settings_payload)

from server.conformance_table import case


@case("RFC 9113 5.5", "a frame of an unknown type is ignored")
def test_unknown_frame_type_is_ignored(client):
    client.send(raw_frame(0xFA, 0xFF, 0, b"whatever"))
    client.headers(1, request_headers())
    o = client.wait(stream_id=1)
    assert o.status.get(1) == 200 and o.goaway is None, o.describe()


@case("RFC 9113 4.1", "unknown flags on a known frame are ignored")
def test_unknown_flags_are_ignored(client):
    client.send(raw_frame(PING, 0xFE, 0, b"\0" * 8))
    client.headers(1, request_headers())
    o = client.wait(stream_id=1)
    assert o.status.get(1) == 200 and o.goaway is None, o.describe()


@case("RFC 9113 6.1", "DATA on stream 0 is a connection error PROTOCOL_ERROR")
def test_data_on_stream_0(client):
    client.send(raw_frame(DATA, 0, 0, b"x"))
    assert_connection_error(client, PROTOCOL_ERROR)


@pytest.mark.parametrize("path", ["/upload", "/"], ids=["upload", "not_found"])
@case("RFC 9113 6.1", "a DATA pad length not below the payload length is a connection error PROTOCOL_ERROR")
def test_data_invalid_pad_length(client, path):
    client.headers(1, request_headers(path, "POST"), end_stream=False)
    client.send(raw_frame(DATA, PADDED | END_STREAM, 1, bytes([5]) + b"abcd"))
    assert_connection_error(client, PROTOCOL_ERROR)
    assert 1 not in client.outcome.status, client.outcome.describe()


@case("RFC 9113 6.1", "padded DATA is served: padding is not part of the body")
def test_padded_data_is_accepted(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    client.send(raw_frame(DATA, PADDED | END_STREAM, 1, bytes([3]) + b"abcd" + b"\0" * 3))
    o = client.wait(stream_id=1)
    assert o.status.get(1) == 200, o.describe()


@case("RFC 9113 6.2", "HEADERS on stream 0 is a connection error PROTOCOL_ERROR")
def test_headers_on_stream_0(client):
    client.send(raw_frame(HEADERS, END_HEADERS | END_STREAM, 0, client.block(request_headers())))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 6.2", "a HEADERS pad length not below the payload length is a connection error PROTOCOL_ERROR")
def test_headers_invalid_pad_length(client):
    block = client.block(request_headers())
    client.send(raw_frame(HEADERS, END_HEADERS | END_STREAM | PADDED, 1, bytes([len(block) + 1]) + block))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 8.4", "PUSH_PROMISE from a client is a connection error PROTOCOL_ERROR")
def test_push_promise_from_client(client):
    client.send(raw_frame(PUSH_PROMISE, END_HEADERS, 1, b"\0\0\0\2" + client.block(request_headers())))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 4.2", "a field block frame above SETTINGS_MAX_FRAME_SIZE is a connection error FRAME_SIZE_ERROR")
def test_oversized_headers_frame(client):
    block = client.encoder.encode(request_headers(extra=[("x-big", "a" * 20000)]), huffman=False)
    assert len(block) > 16384
    client.send(raw_frame(HEADERS, END_HEADERS | END_STREAM, 1, block))
    assert_connection_error(client, FRAME_SIZE_ERROR)


@case("RFC 9113 4.2", "a DATA frame above SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR")
def test_oversized_data_frame(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    client.data(1, b"\0" * 16385)
    assert_stream_error(client, 1, FRAME_SIZE_ERROR)


@case("RFC 9113 4.2", "a SETTINGS frame above SETTINGS_MAX_FRAME_SIZE is a connection error FRAME_SIZE_ERROR")
def test_oversized_settings_frame(client):
    client.send(raw_frame(SETTINGS, 0, 0, settings_payload({ENABLE_PUSH: 0}) * 2731))  # 16386 bytes
    assert_connection_error(client, FRAME_SIZE_ERROR)


@case("RFC 9113 6.10", "CONTINUATION not after HEADERS or CONTINUATION is a connection error PROTOCOL_ERROR")
def test_continuation_without_headers(client):
    client.send(raw_frame(CONTINUATION, END_HEADERS, 1, client.block(request_headers())))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 4.3", "a frame other than CONTINUATION inside a field block is a connection error PROTOCOL_ERROR")
def test_other_frame_inside_header_block(client):
    block = client.block(request_headers())
    client.send(raw_frame(HEADERS, END_STREAM, 1, block[:5]))
    client.send(raw_frame(PING, 0, 0, b"\0" * 8))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 6.10", "CONTINUATION on another stream than its HEADERS is a connection error PROTOCOL_ERROR")
def test_continuation_on_another_stream(client):
    block = client.block(request_headers())
    client.send(raw_frame(HEADERS, END_STREAM, 1, block[:5]))
    client.send(raw_frame(CONTINUATION, END_HEADERS, 3, block[5:]))
    assert_connection_error(client, PROTOCOL_ERROR)


@case("RFC 9113 4.3", "a field block split over CONTINUATION frames is served")
def test_header_block_over_continuation(client):
    block = client.block(request_headers())
    client.send(raw_frame(HEADERS, END_STREAM, 1, block[:3]))
    client.send(raw_frame(CONTINUATION, END_HEADERS, 1, block[3:]))
    o = client.wait(stream_id=1)
    assert o.status.get(1) == 200 and o.goaway is None, o.describe()


@pytest.mark.parametrize("continuations,cut", [(8, False), (9, True)])
@case("RFC 9113 10.5", "at most 8 CONTINUATION frames per field block (CVE-2024-28182); more is a connection error")
def test_continuation_limit(client, continuations, cut):
    client.send(raw_frame(HEADERS, END_STREAM, 1, client.block(request_headers())))
    for i in range(continuations - 1):
        client.send(raw_frame(CONTINUATION, 0, 1, client.block([(f"x-c{i}", "v")])))
    client.send(raw_frame(CONTINUATION, END_HEADERS, 1, client.block([("x-end", "v")])))
    if cut:
        assert_connection_error(client, PROTOCOL_ERROR)
    else:
        o = client.wait(stream_id=1)
        assert o.status.get(1) == 200 and o.goaway is None, o.describe()
