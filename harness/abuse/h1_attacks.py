"""HTTP/1.1 attack cases: slow and oversized headers, request smuggling, a pipeline never read.

Each takes (port, quick) and returns the Cutoff: how the server cut the attacker off and
how much it accepted until then; bounded in count and in time, loopback only.
"""

from __future__ import annotations

import socket
import time

from harness.abuse.attacker import Cutoff, connect
from harness.abuse.wire import read_until_close


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
                s = connect(port, 2.0)
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
            s = connect(port, 2.0)
            try:
                sent = 0
                try:
                    for i in range(0, len(payload), 65536):
                        s.sendall(payload[i:i + 65536])
                        sent += min(65536, len(payload) - i)
                except OSError:
                    pass
                got, closed = read_until_close(s, 2.0)
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
            s = connect(port, 2.0)
            try:
                try:
                    s.sendall(payload)
                except OSError:
                    pass
                got, closed = read_until_close(s, 1.5)
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
    s = connect(port, 2.0, rcvbuf=4096)
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
        got, closed = read_until_close(s, 1.0, limit=64 << 20)
        cut.closed = cut.closed or closed
        answered = got.count(b"HTTP/1.1 200")
        cut.statuses = {200: answered} if answered else {}
        if not closed:
            cut.note = f"held {hold:g} s, still open"
    finally:
        s.close()
    cut.seconds = time.monotonic() - t0
    return cut
