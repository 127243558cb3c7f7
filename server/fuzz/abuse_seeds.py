"""Seed inputs for the server fuzz targets, one family per attack class of the abuse suite
(harness/abuse/attacks.py CASES), built from the same wire helpers and payloads as the attacks.

Counts are scaled down to a few times the fuzz targets' limits (h2_session_fuzzer.cpp lowers the
flood limits to 32-64; h1_request_fuzzer.cpp the header limits to 1 KiB and 16 fields, and
keep-alive to 8 requests), so each seed crosses its defence and stays within ci/fuzz.sh's
-max_len, which keeps the fuzzers fast. test_abuse_seeds.py checks every class has seeds and
the corpus files match.
"""

from __future__ import annotations

import struct

from hpack import Encoder

from harness.abuse import h1_attacks
from harness.abuse.wire import (CANCEL, CONTINUATION, DATA, END_HEADERS, END_STREAM, HEADERS, INITIAL_WINDOW_SIZE,
                                PING, PRIORITY, RST_STREAM, SETTINGS, WINDOW_UPDATE, raw_frame, request_headers,
                                settings_payload)

H2_CORPUS = "server/fuzz/corpus/h2_session"
H1_CORPUS = "server/fuzz/corpus/h1_request"
# h2 control byte bit 7: a peer that does not read (see h2_session_fuzzer.cpp)
PEER_NOT_READING = 0x80


def _opening(settings: dict[int, int] | None = None) -> bytes:
    """What the attacker sends after the preface: its SETTINGS and the ACK of the server's."""
    return raw_frame(SETTINGS, 0, 0, settings_payload(settings or {})) + raw_frame(SETTINGS, 1, 0)


def _get(path: str) -> list[tuple[str, str]]:
    return request_headers(path)


def rapid_reset() -> dict[str, bytes]:
    enc = Encoder()
    out = []
    for i in range(100):
        sid = 1 + 2 * i
        out.append(raw_frame(HEADERS, END_HEADERS | END_STREAM, sid, enc.encode(_get("/bytes/1024"))))
        out.append(raw_frame(RST_STREAM, 0, sid, struct.pack(">I", CANCEL)))
    return {"": bytes([0]) + _opening() + b"".join(out)}


def continuation_flood() -> dict[str, bytes]:
    enc = Encoder()
    head = raw_frame(HEADERS, END_STREAM, 1, enc.encode(_get("/healthz")))
    conts = b"".join(raw_frame(CONTINUATION, 0, 1, enc.encode([(f"x-c{i}", "v" * 100)], huffman=False))
                     for i in range(16))
    return {"": bytes([0]) + _opening() + head + conts}


def hpack_bomb() -> dict[str, bytes]:
    # One ~4 KiB dynamic-table entry, then referenced (index 62) many times: as the attack does.
    base = b"\x82\x86" + b"\x04\x08/healthz" + b"\x01\x09127.0.0.1"
    value = b"b" * 4000
    literal = b"\x40\x06x-bomb" + b"\x7f" + bytes([(len(value) - 127) % 128 + 128, (len(value) - 127) // 128]) + value
    first = raw_frame(HEADERS, END_STREAM | END_HEADERS, 1, base + literal + b"\xbe" * 2000)
    again = b"".join(raw_frame(HEADERS, END_STREAM | END_HEADERS, 3 + 2 * i, base + b"\xbe" * 2000) for i in range(3))
    return {"": bytes([0]) + _opening() + first + again}


def settings_flood() -> dict[str, bytes]:
    frame = raw_frame(SETTINGS, 0, 0, settings_payload({INITIAL_WINDOW_SIZE: 65535}))
    return {"": bytes([PEER_NOT_READING]) + _opening() + frame * 200}


def ping_flood() -> dict[str, bytes]:
    return {"": bytes([PEER_NOT_READING]) + _opening() + raw_frame(PING, 0, 0, b"12345678") * 200}


def zero_window() -> dict[str, bytes]:
    enc = Encoder()
    blocks = b"".join(raw_frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, enc.encode(_get("/bytes/1048576")))
                      for i in range(40))
    return {"": bytes([0]) + _opening({INITIAL_WINDOW_SIZE: 0}) + blocks}


def stream_flood() -> dict[str, bytes]:
    enc = Encoder()
    blocks = b"".join(raw_frame(HEADERS, END_HEADERS, 1 + 2 * i, enc.encode(request_headers("/upload", "POST")))
                      for i in range(100))
    return {"": bytes([0]) + _opening() + blocks}


def useless_frames() -> dict[str, bytes]:
    enc = Encoder()
    opener = raw_frame(HEADERS, END_HEADERS, 1, enc.encode(request_headers("/upload", "POST")))
    mix = (raw_frame(PRIORITY, 0, 3, b"\0\0\0\x01\x10") + raw_frame(DATA, 0, 1, b"")
           + raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1)))
    return {"": bytes([0]) + _opening() + opener + mix * 100}


def slowloris() -> dict[str, bytes]:
    # A header section that never ends: in memory the client's end of input comes instead of the timeout.
    return {"": b"\x00GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 64}


def oversized_h1_headers() -> dict[str, bytes]:
    big_line = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2048 + b"\r\n\r\n"
    many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-F%d: v\r\n" % i for i in range(32)) + b"\r\n"
    return {"-big_line": b"\x00" + big_line, "-many_fields": b"\x00" + many}


def smuggling() -> dict[str, bytes]:
    return {f"-{name}": b"\x00" + payload for name, payload in h1_attacks.SMUGGLING.items()}


def pipelining_flood() -> dict[str, bytes]:
    return {"": b"\x00" + b"GET /bytes/1024 HTTP/1.1\r\nHost: x\r\n\r\n" * 16}


H2_CLASSES = {f.__name__: f for f in (rapid_reset, continuation_flood, hpack_bomb, settings_flood, ping_flood,
                                      zero_window, stream_flood, useless_frames)}
H1_CLASSES = {f.__name__: f for f in (slowloris, oversized_h1_headers, smuggling, pipelining_flood)}


def seeds() -> dict[str, dict[str, bytes]]:
    """corpus directory -> file name -> bytes, every file named abuse-<class><variant>."""
    out: dict[str, dict[str, bytes]] = {H2_CORPUS: {}, H1_CORPUS: {}}
    for corpus, classes in ((H2_CORPUS, H2_CLASSES), (H1_CORPUS, H1_CLASSES)):
        for name, build in classes.items():
            for variant, data in build().items():
                out[corpus][f"abuse-{name}{variant}"] = data
    return out
