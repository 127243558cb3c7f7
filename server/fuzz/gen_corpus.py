#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (small valid and near-valid inputs).

  /usr/bin/python3 server/fuzz/gen_corpus.py     (python3-hyperframe, python3-hpack)

server/fuzz/corpus/h2_session/: control byte (see h2_session_fuzzer.cpp), then frames after
the client preface. server/fuzz/corpus/h1_request/: control byte (see h1_request_fuzzer.cpp), then request bytes.
harness/loadgen/fuzz/corpus/: control byte (see response_fuzzer.cpp), then server bytes.
Files named abuse-* are the abuse suite's attack classes (abuse_seeds.py), malformed_* the
malformed responses loadgen refuses (harness/loadgen/fuzz/malformed_seeds.py).
Files named crash-* are regression inputs from fuzzing and are kept as they are.
"""
import os
import pathlib
import sys

from hpack import Encoder
from hyperframe.frame import (ContinuationFrame, DataFrame, GoAwayFrame, HeadersFrame, PingFrame,
                              PriorityFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame)

root = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(root))  # harness.abuse, which abuse_seeds builds from
sys.path.insert(0, str(root / "harness" / "loadgen" / "fuzz"))

import abuse_seeds  # noqa: E402
import malformed_seeds  # noqa: E402


def write(folder, name, data):
    path = root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def headers(enc, stream_id, method, path, extra=(), end_stream=True):
    block = enc.encode([(":method", method), (":scheme", "http"), (":authority", "fuzz"), (":path", path),
                        *extra])
    f = HeadersFrame(stream_id, block)
    f.flags.add("END_HEADERS")
    if end_stream:
        f.flags.add("END_STREAM")
    return f.serialize()


def settings():
    return SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 65535,
                                      SettingsFrame.MAX_FRAME_SIZE: 16384}).serialize()


def settings_ack():
    return SettingsFrame(0, flags=["ACK"]).serialize()


def data(stream_id, payload, end=True):
    return DataFrame(stream_id, payload, flags=["END_STREAM"] if end else []).serialize()


def h2_corpus():
    out = "server/fuzz/corpus/h2_session"
    seeds = {}
    seeds["settings"] = settings()
    seeds["settings_ack"] = settings() + settings_ack()
    enc = Encoder()
    seeds["get_bytes_100"] = settings() + settings_ack() + headers(enc, 1, "GET", "/bytes/100")
    enc = Encoder()
    seeds["post_upload"] = (settings() + settings_ack()
                            + headers(enc, 1, "POST", "/upload", [("content-length", "100")], end_stream=False)
                            + data(1, b"x" * 60, end=False) + data(1, b"y" * 40))
    enc = Encoder()
    seeds["window_update"] = (settings() + headers(enc, 1, "GET", "/bytes/200000")
                              + WindowUpdateFrame(0, window_increment=1 << 20).serialize()
                              + WindowUpdateFrame(1, window_increment=1 << 20).serialize())
    enc = Encoder()
    seeds["rst_stream"] = (settings() + headers(enc, 1, "GET", "/stream/inf")
                           + RstStreamFrame(1, error_code=8).serialize())
    seeds["ping"] = settings() + PingFrame(0, opaque_data=b"12345678").serialize()
    enc = Encoder()
    seeds["get_json_and_healthz"] = (settings() + headers(enc, 1, "GET", "/json?items=3")
                                     + headers(enc, 3, "GET", "/healthz") + headers(enc, 5, "GET", "/mem"))
    enc = Encoder()
    block = enc.encode([(":method", "GET"), (":scheme", "http"), (":authority", "fuzz"), (":path", "/bytes/10")])
    seeds["continuation"] = (settings() + HeadersFrame(1, block[:5], flags=["END_STREAM"]).serialize()
                             + ContinuationFrame(1, block[5:], flags=["END_HEADERS"]).serialize())
    seeds["priority_goaway"] = (settings() + PriorityFrame(1, depends_on=0, stream_weight=16).serialize()
                                + GoAwayFrame(0, last_stream_id=0, error_code=0).serialize())
    enc = Encoder()
    seeds["stream_100k"] = settings() + headers(enc, 1, "GET", "/stream/100000")
    # A peer that sends PINGs and never reads: control bit 7 (see below).
    seeds["ping_flood"] = settings() + PingFrame(0, opaque_data=b"12345678").serialize() * 100
    seeds["bad_frame"] = settings() + b"\x00\x00\x04\x08\x00\x00\x00\x00\x00"  # WINDOW_UPDATE, 0 increment
    for i, (name, frames) in enumerate(sorted(seeds.items())):
        # Both copy strategies over the corpus; every fifth with 7-byte receive() chunks.
        for control, tag in ((0, "writev"), (1, "buffered")):
            c = control | (2 if name == "stream_100k" and control else 0)
            if i % 5 == 0:
                c |= 7 << 3
            if name == "ping_flood":
                c |= 0x80
            write(out, f"{name}-{tag}", bytes([c]) + frames)


def h1_requests():
    out = "server/fuzz/corpus/h1_request"
    seeds = {
        "get": b"GET /bytes/100 HTTP/1.1\r\nHost: fuzz\r\n\r\n",
        "pipelined": (b"GET /bytes/10 HTTP/1.1\r\nHost: fuzz\r\n\r\n"
                      b"GET /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n"
                      b"GET /json?items=2 HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n"),
        "post_upload": b"POST /upload HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 5\r\n\r\nhello",
        "post_chunked": (b"POST /upload HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n"),
        "expect_continue": (b"POST /upload HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 3\r\n"
                            b"Expect: 100-continue\r\n\r\nabc"),
        "conflicting_length": (b"POST /upload HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 3\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        "http10": b"GET /bytes/5 HTTP/1.0\r\n\r\n",
        "bad_method": b"BREW /pot HTTP/1.1\r\nHost: fuzz\r\n\r\n",
        "stream": b"GET /stream/1000 HTTP/1.1\r\nHost: fuzz\r\n\r\n",
        "stream_inf": b"GET /stream/inf HTTP/1.1\r\nHost: fuzz\r\n\r\n",
    }
    for i, (name, wire) in enumerate(seeds.items()):
        # Control byte (see h1_request_fuzzer.cpp): both copy strategies, some written 5 bytes at a time.
        write(out, name, bytes([(i & 1) | (5 << 3 if i % 3 == 0 else 0)]) + wire)
    # --no-backpressure: the server's queue cap ends the endless stream.
    write(out, "stream_inf_no_backpressure", b"\x02" + seeds["stream_inf"])


def loadgen_responses():
    out = "harness/loadgen/fuzz/corpus"
    h1 = {
        "ok_empty": (0, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        "bytes_100": (2, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"a" * 100),
        "chunked": (4, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"),
        "until_close": (0, b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody to the end"),
        "pipelined": (0, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                         b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                         b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
        "upload_receipt": (6, b'HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n{"bytes": 100, "crc32": 12345}'),
    }
    for name, (control, wire) in h1.items():
        write(out, f"h1_{name}", bytes([control | (3 << 3 if name == "chunked" else 0)]) + wire)
    # HTTP/2: the server's SETTINGS, then responses on streams 1, 3, 5.
    enc = Encoder()

    def resp(stream_id, status, end_stream):
        f = HeadersFrame(stream_id, enc.encode([(":status", status), ("content-type", "text/plain")]))
        f.flags.add("END_HEADERS")
        if end_stream:
            f.flags.add("END_STREAM")
        return f.serialize()

    server_settings = SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 100}).serialize()
    h2 = {
        "three_responses": (1 | 2, server_settings + settings_ack() + resp(1, "200", False) + data(1, b"a" * 100)
                            + resp(3, "200", True) + resp(5, "404", True)),
        "upload_receipt": (1 | 6, server_settings + resp(1, "200", False)
                           + data(1, b'{"bytes": 100, "crc32": 12345}')),
        "rst_goaway": (1, server_settings + resp(1, "200", False) + RstStreamFrame(1, error_code=2).serialize()
                       + GoAwayFrame(0, last_stream_id=3, error_code=0).serialize()),
        "cancel_after_body": (1 | 4 | 0x80, server_settings + resp(1, "200", False) + data(1, b"s" * 50, end=False)),
        "ping": (1, server_settings + PingFrame(0, opaque_data=b"abcdefgh").serialize()),
    }
    for name, (control, wire) in h2.items():
        write(out, f"h2_{name}", bytes([control]) + wire)
    for name, wire in malformed_seeds.files().items():
        write(malformed_seeds.CORPUS, name, wire)


if __name__ == "__main__":
    os.umask(0o022)
    h2_corpus()
    h1_requests()
    loadgen_responses()
    for folder, files in abuse_seeds.seeds().items():
        for name, data in files.items():
            write(folder, name, data)
