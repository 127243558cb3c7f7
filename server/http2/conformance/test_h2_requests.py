"""RFC 9113 8.1 (request framing: complete at END_STREAM), 8.1.1 (malformed requests),
8.2 (fields), 8.3 (pseudo-header fields), Date (RFC 9110 6.6.1) and HEAD (RFC 9110 9.3.2) over HTTP/2."""
import re
import time
from email.utils import parsedate_to_datetime

import pytest

from h2_checks import assert_stream_error
from harness.abuse.wire import DATA, END_HEADERS, HEADERS, PROTOCOL_ERROR, raw_frame, request_headers

from server.conformance_table import case

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

# Requests kept open past their HEADERS: an upload, and a path refused with 404, whose answer
# must wait for END_STREAM like any other.
OPEN_REQUESTS = {"upload": ("/upload", "POST"), "not_found": ("/", "POST")}


@pytest.mark.parametrize("name", sorted(MALFORMED))
@case("RFC 9113 8.1.1", "a malformed request (pseudo-header rules 8.3, field rules 8.2, connection-specific "
      "fields 8.2.2) is a stream error PROTOCOL_ERROR, never answered")
def test_malformed_request_is_stream_protocol_error(client, name):
    client.headers(1, MALFORMED[name])
    assert_stream_error(client, 1, PROTOCOL_ERROR)
    assert 1 not in client.outcome.status, f"server answered the malformed request: {client.outcome.describe()}"


@pytest.mark.parametrize("request_kind", sorted(OPEN_REQUESTS))
@pytest.mark.parametrize("declared,frames", [("10", [b"12345"]), ("3", [b"12345"]), ("10", [b"123", b"45"]),
                                             ("4", [b"123", b"45"])],
                         ids=["more_one_frame", "less_one_frame", "more_two_frames", "less_two_frames"])
@case("RFC 9113 8.1.1", "a content-length that disagrees with the DATA received, in one frame or several, is a "
      "stream error PROTOCOL_ERROR before any response")
def test_content_length_mismatch(client, request_kind, declared, frames):
    path, method = OPEN_REQUESTS[request_kind]
    client.headers(1, request_headers(path, method, [("content-length", declared)]), end_stream=False)
    for i, payload in enumerate(frames):
        client.data(1, payload, end_stream=i == len(frames) - 1)
    assert_stream_error(client, 1, PROTOCOL_ERROR)
    assert 1 not in client.outcome.status, client.outcome.describe()


@case("RFC 9113 8.1", "a request is answered only once its END_STREAM arrives")
def test_no_answer_before_end_stream(client):
    client.headers(1, request_headers("/", "POST"), end_stream=False)
    client.data(1, b"body")
    o = client.wait(stream_id=1, timeout=0.5)
    assert 1 not in o.status and 1 not in o.resets, f"answered before END_STREAM: {o.describe()}"
    client.data(1, b"", end_stream=True)
    assert client.wait(stream_id=1).status.get(1) == 404, client.outcome.describe()


@case("RFC 9113 8.1", "trailers (HEADERS with END_STREAM after DATA) complete a request")
def test_trailers_complete_the_request(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    client.data(1, b"abc")
    client.headers(1, [("x-checksum", "whatever")], end_stream=True)
    assert client.wait(stream_id=1).status.get(1) == 200, client.outcome.describe()


@case("RFC 9113 8.1", "trailers with a pseudo-header field are malformed: stream error PROTOCOL_ERROR")
def test_pseudo_header_in_trailers(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    client.data(1, b"abc")
    client.headers(1, [(":path", "/other")], end_stream=True)
    assert_stream_error(client, 1, PROTOCOL_ERROR)
    assert 1 not in client.outcome.status, client.outcome.describe()


@case("RFC 9113 8.1", "trailers without END_STREAM are malformed: stream error PROTOCOL_ERROR")
def test_trailers_without_end_stream(client):
    client.headers(1, request_headers("/upload", "POST"), end_stream=False)
    client.data(1, b"abc")
    client.send(raw_frame(HEADERS, END_HEADERS, 1, client.block([("x-trailer", "v")])))
    assert_stream_error(client, 1, PROTOCOL_ERROR)


@pytest.mark.parametrize("path,length", [("/bytes/10", "10"), ("/healthz", "15"), ("/stream/1000", None)],
                         ids=["bytes", "healthz", "stream"])
@case("RFC 9110 9.3.2", "HEAD is answered wherever GET is: the same status and content-length, no body")
def test_head_is_get_without_a_body(client, path, length):
    client.headers(1, request_headers(path, "HEAD"))
    o = client.wait(stream_id=1)
    assert o.status.get(1) == 200, o.describe()
    assert dict(o.headers[1]).get("content-length") == length, o.headers[1]
    response = next(f for f in o.frames if f.type == HEADERS and f.stream_id == 1)
    assert response.flags & 1, "HEAD response did not end the stream on its HEADERS"
    client.headers(3, request_headers())
    client.wait(stream_id=3)
    assert not [f for f in client.outcome.frames if f.type == DATA and f.stream_id == 1], "HEAD got a body"


IMF_FIXDATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                         r"\d{4} \d\d:\d\d:\d\d GMT")


@case("RFC 9110 6.6.1", "every response carries one date field, an IMF-fixdate of the current time: 2xx, 4xx, "
      "HEAD, a /stream of unknown length, and every stream of the connection")
def test_every_response_carries_the_date(client):
    requests = {1: ("/bytes/10", "GET", 200), 3: ("/nothing", "GET", 404), 5: ("/bytes/5", "HEAD", 200),
                7: ("/stream/5", "GET", 200), 9: ("/bytes/10", "GET", 200)}
    started = time.time()
    for stream_id, (path, method, _) in requests.items():
        client.headers(stream_id, request_headers(path, method))
        client.wait(stream_id=stream_id)
    finished = time.time()
    for stream_id, (_, _, status) in requests.items():
        assert client.outcome.status.get(stream_id) == status, client.outcome.describe()
        dates = [value for name, value in client.outcome.headers[stream_id] if name == "date"]
        assert len(dates) == 1 and IMF_FIXDATE.fullmatch(dates[0]), client.outcome.headers[stream_id]
        assert int(started) - 1 <= parsedate_to_datetime(dates[0]).timestamp() <= finished + 1, dates[0]
