"""RFC 9112 3.2 (Host), 3.2.2 (absolute-form), RFC 9110 6.6.1 (Date), 9.3.2 (HEAD) and 10.1.1 (Expect)."""
import re
import time
from email.utils import parsedate_to_datetime

import pytest

from h1_wire import connect, exchange, request, send

from server.conformance_table import case


@pytest.mark.parametrize("request_bytes", [
    b"GET /bytes/10 HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET /bytes/10 HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
    b"GET /bytes/10 HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
], ids=["no-host", "two-hosts", "two-hosts-http10"])
@case("RFC 9112 3.2", "an HTTP/1.1 request without Host, or any request with two, gets 400")
def test_a_request_without_exactly_one_host_gets_400(port, request_bytes, write):
    reply = exchange(port, request_bytes, write)
    assert reply.statuses() == [400], reply.data[:200]


@pytest.mark.parametrize("host", ["a b", "a/b", "a@b", "x:8o", "[::1", "[zz]:80", "a,b\"c"])
@case("RFC 9112 3.2", "a Host whose value is not uri-host [ \":\" port ] gets 400")
def test_an_invalid_host_gets_400(port, host, write):
    reply = exchange(port, request("/bytes/10", fields=(("Host", host), ("Connection", "close"))), write)
    assert reply.statuses() == [400], reply.data[:200]


@pytest.mark.parametrize("host", ["", "127.0.0.1", "127.0.0.1:8080", "[::1]:80", "ex-ample.org.", "a%20b"])
@case("RFC 9112 3.2", "a valid Host (a name, an IPv4 or IPv6 literal, with or without port, or empty) is served")
def test_a_valid_host_is_served(port, host, write):
    reply = exchange(port, request("/bytes/10", fields=(("Host", host), ("Connection", "close"))), write)
    assert reply.statuses() == [200], reply.data[:200]


@case("RFC 9112 3.2", "an HTTP/1.0 request without Host is served")
def test_http10_without_host_is_served(port, write):
    reply = exchange(port, b"GET /bytes/10 HTTP/1.0\r\n\r\n", write)
    assert reply.statuses() == [200], reply.data[:200]


@case("RFC 9112 3.2.2", "an absolute-form request target is accepted and routed by its path")
def test_absolute_form_targets_are_accepted(port, write):
    reply = exchange(port, b"GET http://127.0.0.1/bytes/10 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                     write)
    assert reply.statuses() == [200], reply.data[:200]
    assert reply.data.endswith(bytes(range(10)))


@pytest.mark.parametrize("target,length", [("/bytes/1000", 1000), ("/healthz", None), ("/json", None)])
@case("RFC 9110 9.3.2", "HEAD is answered wherever GET is: the same header, Content-Length included, and no body")
def test_head_answers_the_get_header_without_a_body(port, target, length, write):
    get = exchange(port, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    get_header, _, get_body = get.data.partition(b"\r\n\r\n")
    head = exchange(port, f"HEAD {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(), write)
    head_header, _, head_body = head.data.partition(b"\r\n\r\n")
    assert head.statuses(heads=[True]) == [200], head.data[:200]
    assert head_body == b""
    expected = length if length is not None else len(get_body)
    assert f"Content-Length: {expected}".encode() in head_header
    # The two may straddle a second: their Date fields may differ by one.
    assert without_date(head_header) == without_date(get_header)


def without_date(header):
    return re.sub(rb"\r\nDate: [^\r]*", b"", header)


IMF_FIXDATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                         r"\d{4} \d\d:\d\d:\d\d GMT")


@case("RFC 9110 6.6.1", "every final response carries one Date field, an IMF-fixdate of the current time: "
      "2xx, 4xx, HEAD, chunked, and on every response of a persistent connection")
def test_every_response_carries_the_date(port, write):
    pipeline = (request("/bytes/10") + request("/nothing") + b"HEAD /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\n"
                + request("/stream/5") + request("/bytes/10") + b"GET /bytes/1 HTTP/1.1\r\nConnection: close\r\n\r\n")
    started = time.time()
    responses = exchange(port, pipeline, write).responses(heads=[False, False, True])
    finished = time.time()
    assert [r.status for r in responses] == [200, 404, 200, 200, 200, 400]
    for response in responses:
        date = response.get("date")
        assert isinstance(date, str) and IMF_FIXDATE.fullmatch(date), response.fields
        assert int(started) - 1 <= parsedate_to_datetime(date).timestamp() <= finished + 1, date


@case("RFC 9110 9.3.2", "a HEAD response has no body: the next response on the connection follows its header")
def test_head_then_get_on_one_connection(port, write):
    reply = exchange(port, b"HEAD /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\n"
                           b"GET /bytes/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", write)
    assert reply.statuses(heads=[True, False]) == [200, 200], reply.data
    assert reply.data.endswith(b"\r\n\r\n" + bytes(range(5)))
    assert reply.data.count(bytes(range(5))) == 1


@case("RFC 9110 10.1.1", "Expect: 100-continue on an upload gets 100 Continue at once, before the body is sent")
def test_expect_100_continue_is_answered_before_the_body(port, write):
    with connect(port) as sock:
        send(sock, b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", write)
        sock.settimeout(0.5)  # curl waits 1 s for it before sending the body anyway
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        sock.settimeout(2)
        final = sock.recv(65536)
        assert final.startswith(b"HTTP/1.1 200 "), final
        assert b'"bytes":5' in final.replace(b" ", b"")


@case("RFC 9110 10.1.1", "Expect: 100-continue on a request refused by its target gets the final status at once, "
      "no 100, and a close (the body is never read)")
def test_expect_100_continue_refused_gets_the_final_status_at_once(port, write):
    with connect(port) as sock:
        send(sock, b"POST /no-such-endpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
             write)
        sock.settimeout(0.5)
        final = sock.recv(65536)
        assert final.startswith(b"HTTP/1.1 404 "), final
        assert b"Connection: close" in final
        sock.settimeout(2)
        assert sock.recv(65536) == b"", "the server kept the connection open without reading the body"


@case("RFC 9110 10.1.1", "Expect in an HTTP/1.0 request is ignored: no 100 Continue")
def test_expect_in_http10_is_ignored(port):
    reply = exchange(port, b"POST /upload HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
    assert reply.statuses() == [200], reply.data
