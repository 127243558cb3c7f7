"""RFC 9112 6 (message body length: Content-Length, Transfer-Encoding), 7.1 (chunked:
chunk size, extensions, trailers) and 8 (incomplete messages). A request whose framing
is refused gets its status and a close: what follows it on the connection (a smuggled
request) is never answered."""
import json

import pytest

from h1_wire import LAST, assert_rejected, exchange, request

from server.conformance_table import case

SMUGGLED = b"GET /bytes/7 HTTP/1.1\r\nHost: x\r\n\r\n"


def chunked_upload(chunks, fields=(("Host", "x"), ("Transfer-Encoding", "chunked"))):
    return request("/upload", "POST", fields=fields, body=chunks)


def uploaded(response):
    return json.loads(response.body)["bytes"]


@pytest.mark.parametrize("order", ["cl-first", "te-first"])
@case("RFC 9112 6.1", "Content-Length and Transfer-Encoding together get 400 and a close (the RFC's other choice, "
      "chunked then close, still lets a smuggled request through a front end)")
def test_content_length_and_transfer_encoding_get_400(port, order, write):
    fields = [("Host", "x"), ("Content-Length", "5"), ("Transfer-Encoding", "chunked")]
    if order == "te-first":
        fields[1], fields[2] = fields[2], fields[1]
    reply = exchange(port, chunked_upload(b"0\r\n\r\n" + SMUGGLED, tuple(fields)), write)
    assert_rejected(reply, 400)


@pytest.mark.parametrize("lengths", [("5", "6"), ("5, 6",), ("5", "5"), ("-1",), ("+5",), ("5x",), ("0x5",), ("",)],
                         ids=["two-fields", "list", "same-twice", "negative", "plus", "suffix", "hex", "empty"])
@case("RFC 9112 6.3", "a Content-Length that is not one decimal length (two fields or a list, a sign, other "
      "characters) gets 400 and a close")
def test_invalid_content_length_gets_400(port, lengths, write):
    fields = (("Host", "x"), *(("Content-Length", v) for v in lengths))
    reply = exchange(port, request("/upload", "POST", fields=fields, body=b"hello" + SMUGGLED), write)
    assert_rejected(reply, 400)


@pytest.mark.parametrize("coding", ["gzip", "chunked, gzip", "chunked;q=1, identity", "", "chunked, chunked"])
@case("RFC 9112 6.3", "a Transfer-Encoding whose final coding is not chunked (once) gets 400 and a close")
def test_transfer_encoding_not_ending_in_chunked_gets_400(port, coding, write):
    reply = exchange(port, chunked_upload(b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED, (("Host", "x"),
                                                                               ("Transfer-Encoding", coding))), write)
    assert_rejected(reply, 400)


@pytest.mark.parametrize("codings", [("gzip, chunked",), ("gzip", "chunked")], ids=["one-field", "two-fields"])
@case("RFC 9112 6.1", "a transfer coding the server does not decode, before chunked, gets 501 and a close")
def test_unknown_transfer_coding_gets_501(port, codings, write):
    fields = (("Host", "x"), *(("Transfer-Encoding", v) for v in codings))
    reply = exchange(port, chunked_upload(b"5\r\nhello\r\n0\r\n\r\n", fields), write)
    assert_rejected(reply, 501)


@case("RFC 9112 6.1", "Transfer-Encoding in an HTTP/1.0 request is faulty framing: 400 and a close, even with "
      "keep-alive")
def test_transfer_encoding_in_http10_gets_400(port, write):
    reply = exchange(port, request("/upload", "POST", "1.0", (("Transfer-Encoding", "chunked"),
                                                             ("Connection", "keep-alive")),
                                   b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED), write)
    assert_rejected(reply, 400)


@case("RFC 9112 6.3", "a request with neither Content-Length nor Transfer-Encoding has an empty body")
def test_no_length_means_no_body(port, write):
    reply = exchange(port, request("/upload", "POST", fields=(("Host", "x"),)) + LAST, write)
    responses = reply.responses()
    assert [r.status for r in responses] == [200, 200], reply.data[:300]
    assert uploaded(responses[0]) == 0


@case("RFC 9112 7.1", "a chunked body is decoded, however its bytes arrive, and the next request follows it")
def test_chunked_body_is_decoded(port, write):
    reply = exchange(port, chunked_upload(b"5\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n") + LAST, write)
    responses = reply.responses()
    assert [r.status for r in responses] == [200, 200], reply.data[:300]
    assert uploaded(responses[0]) == 15


@pytest.mark.parametrize("size", [b"1" + b"0" * 16, b"F" * 17, b"0" * 40 + b"1" * 17],
                         ids=["2^64", "17-hex-digits", "leading-zeros-then-17"])
@case("RFC 9112 7.1", "a chunk size with more hex digits than fit in 64 bits gets 400 and a close, not a wrapped size")
def test_chunk_size_overflow_gets_400(port, size, write):
    reply = exchange(port, chunked_upload(size + b"\r\nhello\r\n0\r\n\r\n" + SMUGGLED), write)
    assert_rejected(reply, 400)


@pytest.mark.parametrize("chunks", [b"zz\r\nhello\r\n0\r\n\r\n", b"\r\nhello\r\n0\r\n\r\n", b"-5\r\nhello\r\n0\r\n\r\n",
                                    b"0x5\r\nhello\r\n0\r\n\r\n", b"5 \r\nhello\r\n0\r\n\r\n",
                                    b"5\r\nhelloX\r\n0\r\n\r\n", b"5\nhello\r\n0\r\n\r\n"],
                         ids=["not-hex", "empty", "negative", "0x-prefix", "trailing-space", "no-crlf-after-data",
                              "bare-lf"])
@case("RFC 9112 7.1", "an invalid chunk size or chunk framing gets 400 and a close")
def test_invalid_chunk_framing_gets_400(port, chunks, write):
    assert_rejected(exchange(port, chunked_upload(chunks + SMUGGLED), write), 400)


@pytest.mark.parametrize("extension", [b";a", b";a=b", b';a="q \\" x"', b";a=b;c=d", b"; a = b"],
                         ids=["name", "token", "quoted", "two", "bws"])
@case("RFC 9112 7.1.1", "chunk extensions are accepted and ignored")
def test_chunk_extensions_are_accepted(port, extension, write):
    reply = exchange(port, chunked_upload(b"5" + extension + b"\r\nhello\r\n0" + extension + b"\r\n\r\n") + LAST, write)
    responses = reply.responses()
    assert [r.status for r in responses] == [200, 200], reply.data[:300]
    assert uploaded(responses[0]) == 5


@case("RFC 9112 7.1.2", "trailer fields are accepted and not merged into the header: a trailing Connection: close "
      "changes nothing")
def test_trailers_are_accepted_and_not_merged(port, write):
    trailers = b"X-Checksum: 1\r\nConnection: close\r\n"
    reply = exchange(port, chunked_upload(b"5\r\nhello\r\n0\r\n" + trailers + b"\r\n") + LAST, write)
    responses = reply.responses()
    assert [r.status for r in responses] == [200, 200], reply.data[:400]
    assert uploaded(responses[0]) == 5
    assert responses[0].get("connection") is None, "the trailing Connection: close was acted on"


@pytest.mark.parametrize("trailer", [b"Content-Length: 999", b"Transfer-Encoding: chunked"])
@case("RFC 9110 6.5.1", "a trailer field that would frame the message (Content-Length, Transfer-Encoding), which a "
      "sender must not send, gets 400 and a close (Beast refuses it)")
def test_framing_field_in_trailers_gets_400(port, trailer, write):
    assert_rejected(exchange(port, chunked_upload(b"5\r\nhello\r\n0\r\n" + trailer + b"\r\n\r\n" + SMUGGLED), write),
                    400)


@case("RFC 9112 7.1.2", "a trailer field line that is not a field (no colon) gets 400 and a close")
def test_malformed_trailer_gets_400(port, write):
    assert_rejected(exchange(port, chunked_upload(b"5\r\nhello\r\n0\r\nnot a field\r\n\r\n" + SMUGGLED), write), 400)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@case("RFC 9112 8", "a body cut short by the client's close is an incomplete message: never answered, the "
      "connection closed")
def test_body_cut_short_is_not_answered(port, framing, write):
    message = (request("/upload", "POST", fields=(("Host", "x"), ("Content-Length", "10")), body=b"hello")
               if framing == "content-length" else chunked_upload(b"A\r\nhello"))
    reply = exchange(port, message, write, half_close=True)
    assert reply.data == b"", reply.data[:200]
    assert reply.closed
