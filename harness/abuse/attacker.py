"""What every attack client shares: the Cutoff it reports, a bounded loopback socket, and the
h2c attacker connection that sends batches until the server cuts it off.

Payloads are built before the clock starts so the Python client spends its time in
sendall(), not in encoding.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

from harness.abuse.wire import (GOAWAY, HEADERS, PREFACE, RST_STREAM, SETTINGS, FrameReader, error_name, goaway_fields,
                                raw_frame, request_headers, rst_stream_code, settings_payload)

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


def connect(port: int, timeout: float = 2.0, rcvbuf: int | None = None) -> socket.socket:
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
        self.sock = connect(port, send_timeout, rcvbuf=None if read else 4096)
        self.cut = Cutoff()
        self.frames = FrameReader()
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
        self.frames.feed(chunk)
        while (frame := self.frames.next()) is not None:
            if frame.type == GOAWAY and (fields := goaway_fields(frame.payload)):
                self.cut.goaway = fields[1]
            elif frame.type == RST_STREAM and (code := rst_stream_code(frame.payload)) is not None:
                self.cut.resets[code] = self.cut.resets.get(code, 0) + 1
            elif frame.type == HEADERS and (status := self.frames.status(frame)) is not None:
                self.cut.statuses[status] = self.cut.statuses.get(status, 0) + 1

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


def get(path: str) -> list[tuple[str, str]]:
    return request_headers(path)  # GET, http, 127.0.0.1


def send_until_cut(attacker: H2Attacker, batches, seconds: float, linger: float = 1.0) -> Cutoff:
    deadline = time.monotonic() + seconds
    for data, units in batches:
        if time.monotonic() > deadline or not attacker.send(data, units):
            break
    return attacker.finish(linger)
