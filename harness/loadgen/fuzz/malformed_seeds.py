"""The malformed_* seeds of fuzz_loadgen_response: one per malformed response class that loadgen
refuses with its "malformed" failure (RFC 9112 for HTTP/1.1, RFC 9113 8.1.1 for HTTP/2): the
classes of the end-to-end cases in harness/loadgen/runner_malformed_test.cpp, with their bytes.

server/fuzz/gen_corpus.py writes them; test_malformed_seeds.py checks that the corpus holds
exactly these files and that every case of runner_malformed_test.cpp has its seed here.
Control byte: see response_fuzzer.cpp (bit 0: HTTP/2; bits 3-7: bytes per put()/mem_recv()).
"""
from __future__ import annotations

from typing import NamedTuple

from harness.abuse.wire import ACK, DATA, END_HEADERS, END_STREAM, HEADERS, SETTINGS, raw_frame

CORPUS = "harness/loadgen/fuzz/corpus"
HTTP2 = 1
ONE_BYTE_READS = 1 << 3
NINE_BYTE_READS = 9 << 3


class Seed(NamedTuple):
    case: str  # the case's name in runner_malformed_test.cpp
    control: int
    wire: bytes  # what the server sends


OK = b"HTTP/1.1 200 OK\r\n"
STATUS_200 = b"\x88"  # HPACK: static table entry 8


def _literal(name: bytes, value: bytes) -> bytes:
    """HPACK: a literal field without indexing, its name a literal too (RFC 7541 6.2.2)."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def _h2_reply(response: bytes) -> bytes:
    """The server's SETTINGS and its ACK of the client's, then the response frames."""
    return raw_frame(SETTINGS, 0, 0) + raw_frame(SETTINGS, ACK, 0) + response


H1 = {
    "bad_status": Seed("bad status line", 0, b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"),
    "bad_version": Seed("bad version", ONE_BYTE_READS, b"HTTP/9 200 OK\r\nContent-Length: 0\r\n\r\n"),
    "cl_te": Seed("CL and TE", 0, OK + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "two_content_lengths": Seed("two Content-Lengths", ONE_BYTE_READS,
                                OK + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello"),
    "bad_chunk_size": Seed("bad chunk size", ONE_BYTE_READS,
                           OK + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
    "chunk_size_overflow": Seed("chunk size overflow", 0,
                                OK + b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFF\r\nhello\r\n"),
    "long_header": Seed("over-long header", 0, OK + b"X-Long: " + b"a" * 9000 + b"\r\nContent-Length: 0\r\n\r\n"),
}

H2 = {
    "missing_status": Seed("missing :status", HTTP2, _h2_reply(
        raw_frame(HEADERS, END_HEADERS | END_STREAM, 1, _literal(b"server", b"x")))),
    "pseudo_after_regular": Seed("pseudo-header after a regular field", HTTP2 | NINE_BYTE_READS, _h2_reply(
        raw_frame(HEADERS, END_HEADERS | END_STREAM, 1, _literal(b"server", b"x") + STATUS_200))),
    "uppercase_name": Seed("uppercase field name", HTTP2, _h2_reply(
        raw_frame(HEADERS, END_HEADERS | END_STREAM, 1, STATUS_200 + _literal(b"X-Upper", b"1")))),
    "content_length_short": Seed("content-length above the DATA", HTTP2 | NINE_BYTE_READS, _h2_reply(
        raw_frame(HEADERS, END_HEADERS, 1, STATUS_200 + _literal(b"content-length", b"10"))
        + raw_frame(DATA, END_STREAM, 1, b"hello"))),
    # Then a good response on stream 3: the reset is the stream's, the connection goes on.
    "content_length_long": Seed("content-length below the DATA", HTTP2, _h2_reply(
        raw_frame(HEADERS, END_HEADERS, 1, STATUS_200 + _literal(b"content-length", b"3"))
        + raw_frame(DATA, END_STREAM, 1, b"hello")
        + raw_frame(HEADERS, END_HEADERS | END_STREAM, 3, STATUS_200))),
}


def seeds() -> dict[str, Seed]:
    """Corpus file name -> seed."""
    return {**{f"malformed_h1_{name}": seed for name, seed in H1.items()},
            **{f"malformed_h2_{name}": seed for name, seed in H2.items()}}


def files() -> dict[str, bytes]:
    """Corpus file name -> its bytes: the control byte, then the server's."""
    return {name: bytes([seed.control]) + seed.wire for name, seed in seeds().items()}
