"""RFC 9112 9.3 (persistence, HTTP/1.0 keep-alive), 9.3.2 (pipelining), 9.6 (Connection:
close) and 6.1 (no chunked response to HTTP/1.0)."""
import pytest

from h1_wire import LAST, connect, exchange, read_reply, request, send

from server.conformance_table import case


@case("RFC 9112 9.3", "an HTTP/1.1 connection persists: a second request after the first response is served")
def test_http11_persists_by_default(port, write):
    with connect(port) as sock:
        send(sock, request("/bytes/3"), write)
        first = read_reply(sock, 0.5)
        assert not first.closed and first.statuses() == [200], first.data[:200]
        assert first.responses()[0].get("connection") is None
        send(sock, LAST, write)
        second = read_reply(sock, 3)
        assert second.statuses() == [200] and second.closed, second.data[:200]


@pytest.mark.parametrize("value", ["close", "keep-alive, close", "Close", "foo, CLOSE"])
@case("RFC 9112 9.6", "a request with Connection: close gets Connection: close and the server closes after that "
      "response: requests after it are not answered")
def test_connection_close_closes_after_the_response(port, value, write):
    reply = exchange(port, request("/bytes/3", fields=(("Host", "x"), ("Connection", value))) + request("/bytes/5"),
                     write)
    responses = reply.responses()
    assert [r.status for r in responses] == [200], reply.data[:300]
    assert responses[0].get("connection") == "close"
    assert responses[0].body == bytes(range(3))
    assert reply.closed


@case("RFC 9112 9.3", "an HTTP/1.0 request without keep-alive is answered and the connection closed")
def test_http10_closes_by_default(port, write):
    reply = exchange(port, request("/bytes/3", version="1.0", fields=()) + request("/bytes/5", version="1.0", fields=()),
                     write)
    assert reply.statuses() == [200], reply.data[:300]
    assert reply.data.startswith(b"HTTP/1.0 200 ") or reply.data.startswith(b"HTTP/1.1 200 ")
    assert reply.closed


@case("RFC 9112 9.3", "an HTTP/1.0 request with Connection: keep-alive gets Connection: keep-alive and the "
      "connection persists")
def test_http10_keep_alive_persists(port, write):
    keep = (("Connection", "keep-alive"),)
    reply = exchange(port, request("/bytes/3", version="1.0", fields=keep) + request("/bytes/5", version="1.0"), write)
    responses = reply.responses()
    assert [r.status for r in responses] == [200, 200], reply.data[:300]
    assert responses[0].get("connection") == "keep-alive"
    assert responses[1].get("connection") is None
    assert [r.body for r in responses] == [bytes(range(3)), bytes(range(5))]
    assert reply.closed


@case("RFC 9112 9.3.2", "pipelined requests are answered in the order they were sent")
def test_pipelined_requests_are_answered_in_order(port, write):
    targets = ["/bytes/3", "/healthz", "/stream/4", "/bytes/1"]
    pipeline = b"".join(request(t) for t in targets) + LAST
    responses = exchange(port, pipeline, write).responses()
    assert [r.status for r in responses] == [200] * 5
    assert responses[0].body == bytes(range(3)) and responses[2].body == bytes(range(4))
    assert responses[3].body == bytes(range(1)) and b"ok" in responses[1].body


@pytest.mark.parametrize("target,length", [("/stream/10", 10), ("/stream/0", 0)])
@case("RFC 9112 6.1", "a response of unknown length to HTTP/1.0 has no Transfer-Encoding: the close ends its body")
def test_no_chunked_response_to_http10(port, target, length, write):
    reply = exchange(port, request(target, version="1.0", fields=(("Connection", "keep-alive"),)), write)
    responses = reply.responses()
    assert [r.status for r in responses] == [200], reply.data[:300]
    assert responses[0].get("transfer-encoding") is None, reply.data[:300]
    assert responses[0].body == bytes(range(length))
    assert reply.closed
