"""RFC 9112 2.2 (message parsing), 3 (request line), 5.1 and 5.2 (field lines, obs-fold),
RFC 9110 5.1 and 5.5 (field names and values) and RFC 6585 5 (header section too large).
Each rejection is asserted as its exact status, Connection: close and the server's close."""
import pytest

from h1_wire import LAST, assert_rejected, exchange, request

from server.conformance_table import case

# The header limit is refserver's default (--max-header-bytes 8192).
OVER_THE_HEADER_LIMIT = 9000


@pytest.mark.parametrize("fields", [b"Host : x", b"Host\t: x", b"Host: x\r\nX-A : b"], ids=["sp", "tab", "other-field"])
@case("RFC 9112 5.1", "whitespace between a field name and its colon gets 400")
def test_whitespace_before_colon_gets_400(port, fields, write):
    assert_rejected(exchange(port, b"GET /healthz HTTP/1.1\r\n" + fields + b"\r\n\r\n", write), 400)


@pytest.mark.parametrize("fold", [b"X-A: a\r\n b", b"X-A: a\r\n\tb", b"Content-Length:\r\n 5"],
                         ids=["sp", "tab", "content-length"])
@case("RFC 9112 5.2", "a folded field line (obs-fold) gets 400 (the RFC allows 400 or replacing it with SP)")
def test_obs_fold_gets_400(port, fold, write):
    reply = exchange(port, b"POST /upload HTTP/1.1\r\nHost: x\r\n" + fold + b"\r\n\r\nhello", write)
    assert_rejected(reply, 400)


@case("RFC 9112 2.2", "a line beginning with whitespace between the request line and the first field gets 400")
def test_whitespace_before_the_first_field_gets_400(port, write):
    assert_rejected(exchange(port, b"GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n", write), 400)


@pytest.mark.parametrize("method", ["G@T", "GE T", "G\x7fT", "[GET]"])
@case("RFC 9112 3.1", "a method that is not a token gets 400")
def test_bad_method_token_gets_400(port, method, write):
    assert_rejected(exchange(port, f"{method} /healthz HTTP/1.1\r\nHost: x\r\n\r\n".encode(), write), 400)


@pytest.mark.parametrize("name", ["X(A", "X@A", "X/A", "X\"A", "X{A}", "X\x01A"])
@case("RFC 9110 5.1", "a field name that is not a token gets 400")
def test_bad_field_name_token_gets_400(port, name, write):
    reply = exchange(port, f"GET /healthz HTTP/1.1\r\nHost: x\r\n{name}: b\r\n\r\n".encode(), write)
    assert_rejected(reply, 400)


@pytest.mark.parametrize("value", [b"a\x00b", b"a\rb", b"a\x7fb"], ids=["nul", "bare-cr", "del"])
@case("RFC 9110 5.5", "a field value with NUL, a bare CR or another control character gets 400")
def test_control_characters_in_a_field_value_get_400(port, value, write):
    reply = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + value + b"\r\n\r\n", write)
    assert_rejected(reply, 400)


@pytest.mark.parametrize("line", [
    b"GET  /healthz HTTP/1.1", b"GET /healthz  HTTP/1.1", b"GET /healthz", b"GET /healthz http/1.1",
    b"GET /healthz HTTP/1.1 extra", b"GET /healthz HTTP/11", b"GET /heal thz HTTP/1.1", b"GET\t/healthz HTTP/1.1",
], ids=["two-sp-before-target", "two-sp-before-version", "no-version", "lowercase-version", "trailing-token",
        "version-without-dot", "space-in-target", "tab-separator"])
@case("RFC 9112 3", "a request line that is not method SP request-target SP HTTP-version CRLF gets 400")
def test_malformed_request_line_gets_400(port, line, write):
    assert_rejected(exchange(port, line + b"\r\nHost: x\r\n\r\n", write), 400)


@pytest.mark.parametrize("version", ["HTTP/2.0", "HTTP/0.9"])
@case("RFC 9112 2.3", "a request line in another major HTTP version is refused with 400 (the RFC allows 505), "
      "never answered as 1.1")
def test_other_http_versions_are_refused(port, version, write):
    reply = exchange(port, f"GET /healthz {version}\r\nHost: x\r\n\r\n".encode(), write)
    assert_rejected(reply, 400)


@case("RFC 9112 2.2", "empty lines before the request line are ignored")
def test_empty_lines_before_the_request_line_are_ignored(port, write):
    reply = exchange(port, b"\r\n\r\n" + LAST, write)
    assert reply.statuses() == [200], reply.data[:200]


@case("RFC 9112 2.2", "an empty line between pipelined requests (after a body) is ignored")
def test_empty_line_after_a_body_is_ignored(port, write):
    first = request("/upload", "POST", fields=(("Host", "x"), ("Content-Length", "5")), body=b"hello")
    reply = exchange(port, first + b"\r\n" + LAST, write)
    assert reply.statuses() == [200, 200], reply.data[:400]
    assert reply.closed


@case("RFC 9112 3", "a request target longer than the server parses gets 414 (URI Too Long)")
def test_request_line_over_the_limit_gets_414(port, write):
    reply = exchange(port, b"GET /" + b"a" * OVER_THE_HEADER_LIMIT + b" HTTP/1.1\r\nHost: x\r\n\r\n", write, piece=512)
    assert_rejected(reply, 414)


@pytest.mark.parametrize("shape", ["one-long-field", "many-fields"])
@case("RFC 6585 5", "a header section over the server's limit gets 431")
def test_header_section_over_the_limit_gets_431(port, shape, write):
    fields = (b"X-A: " + b"a" * OVER_THE_HEADER_LIMIT + b"\r\n" if shape == "one-long-field"
              else b"".join(b"X-%d: %s\r\n" % (i, b"v" * 80) for i in range(OVER_THE_HEADER_LIMIT // 80)))
    reply = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n", write, piece=512)
    assert_rejected(reply, 431)


@case("RFC 6585 5", "more header fields than the server's limit gets 431")
def test_too_many_fields_get_431(port, write):
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(101))
    assert_rejected(exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n", write, piece=64), 431)


@case("RFC 9112 2.2", "a request line ended by the client's close gets 400 (an incomplete message)")
def test_incomplete_header_at_close_gets_400(port, write):
    assert_rejected(exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", write, half_close=True), 400)
