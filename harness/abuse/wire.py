"""Raw HTTP/2 and HTTP/1.1 over loopback sockets for conformance and abuse tests.

Frames are built with hyperframe (or by hand where hyperframe refuses to build an
invalid frame) and header blocks with hpack; every socket operation has a timeout.
FrameReader is the one reader of what a server sends: the conformance client (H2Client)
and the attack clients (harness/abuse/attacker.py) both feed it their received bytes.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from hpack import Decoder, Encoder, HPACKError
from hyperframe.frame import Frame as HyperFrame

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 section 7
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM = 0x4, 0x5, 0x6, 0x7
CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, ENHANCE_YOUR_CALM = 0x8, 0x9, 0xA, 0xB
ERROR_NAMES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
               4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM",
               8: "CANCEL", 9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM",
               12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}

# frame types
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20

# settings ids
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE = 1, 2, 3, 4
MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE, NO_RFC7540_PRIORITIES = 5, 6, 9


def error_name(code: int | None) -> str:
    if code is None:
        return "-"
    return ERROR_NAMES.get(code, hex(code))


def raw_frame(ftype: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """A frame header plus payload, with no validation (for frames hyperframe will not build)."""
    n = len(payload)
    return struct.pack(">BHBBI", (n >> 16) & 0xFF, n & 0xFFFF, ftype, flags, stream_id & 0x7FFFFFFF) + payload


class Frame(NamedTuple):
    type: int
    flags: int
    stream_id: int
    payload: bytes


class FrameReader:
    """Bytes in, in whatever chunks a socket gives them; whole frames out, and the fields a
    client judges a server by: GOAWAY, RST_STREAM, SETTINGS and each response's :status."""

    def __init__(self) -> None:
        self.buf = b""
        self.decoder = Decoder()
        self.decoder.max_allowed_table_size = 65536  # a server may announce a larger table than hpack's 4096

    def feed(self, data: bytes) -> None:
        self.buf += data

    def next(self) -> Frame | None:
        """The next whole frame in the buffer, or None until more bytes arrive."""
        if len(self.buf) < 9:
            return None
        length = int.from_bytes(self.buf[:3], "big")
        if len(self.buf) < 9 + length:
            return None
        frame = Frame(self.buf[3], self.buf[4], int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF,
                      self.buf[9:9 + length])
        self.buf = self.buf[9 + length:]
        return frame

    def fields(self, frame: Frame) -> list[tuple[str, str]] | None:
        """A HEADERS frame's fields, decoded in order so the dynamic table stays in step; None if
        undecodable (a header block split over CONTINUATION frames is not reassembled)."""
        block = frame.payload
        if frame.flags & PADDED and block:
            block = block[1:len(block) - block[0]]
        if frame.flags & PRIORITY_FLAG:
            block = block[5:]
        try:
            return [(_text(name), _text(value)) for name, value in self.decoder.decode(block)]
        except (HPACKError, ValueError):
            return None

    def status(self, frame: Frame) -> int | None:
        """A HEADERS frame's :status; None if absent or undecodable."""
        status = dict(self.fields(frame) or []).get(":status")
        return int(status) if status is not None and status.isdigit() else None


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def goaway_fields(payload: bytes) -> tuple[int, int] | None:
    """(last stream id, error code) of a GOAWAY payload."""
    if len(payload) < 8:
        return None
    last, code = struct.unpack(">II", payload[:8])
    return last & 0x7FFFFFFF, code


def rst_stream_code(payload: bytes) -> int | None:
    return struct.unpack(">I", payload)[0] if len(payload) == 4 else None


def settings_fields(payload: bytes) -> dict[int, int]:
    return dict(struct.unpack(">HI", payload[i:i + 6]) for i in range(0, len(payload) - 5, 6))


def settings_payload(values: dict[int, int]) -> bytes:
    return b"".join(struct.pack(">HI", k, v) for k, v in values.items())


def request_headers(path: str = "/healthz", method: str = "GET", extra: list[tuple[str, str]] | None = None,
                    authority: str = "127.0.0.1") -> list[tuple[str, str]]:
    return [(":method", method), (":scheme", "http"), (":path", path), (":authority", authority)] + list(extra or [])


@dataclass
class Outcome:
    """What the server sent back until it closed, sent GOAWAY, reset the watched stream, or time ran out."""
    frames: list = field(default_factory=list)
    goaway: int | None = None          # GOAWAY error code
    goaway_last_stream: int | None = None
    resets: dict = field(default_factory=dict)  # stream id -> RST_STREAM error code
    status: dict = field(default_factory=dict)  # stream id -> :status
    headers: dict = field(default_factory=dict)  # stream id -> its last HEADERS frame's fields
    closed: bool = False
    timed_out: bool = False
    settings: dict = field(default_factory=dict)  # the server's (non-ACK) SETTINGS

    def describe(self) -> str:
        parts = []
        if self.goaway is not None:
            parts.append(f"GOAWAY {error_name(self.goaway)}")
        if self.resets:
            codes = sorted({error_name(c) for c in self.resets.values()})
            parts.append(f"RST_STREAM x{len(self.resets)} {'/'.join(codes)}")
        if self.status:
            parts.append("status " + "/".join(sorted({str(s) for s in self.status.values()})))
        if self.closed:
            parts.append("close")
        if self.timed_out:
            parts.append("no answer")
        return ", ".join(parts) or "-"


def split_frames(data: bytes) -> list[bytes]:
    """data cut at frame boundaries (a leading client preface is a piece of its own); a tail
    shorter than its frame header says stays one piece."""
    pieces = []
    if data.startswith(PREFACE):
        pieces.append(PREFACE)
        data = data[len(PREFACE):]
    while len(data) >= 9:
        end = 9 + int.from_bytes(data[:3], "big")
        pieces.append(data[:end])
        data = data[end:]
    return pieces + ([data] if data else [])


class H2Client:
    """One HTTP/2 client connection. `tls` (an SSLContext offering h2) wraps the socket. `write`
    says how what the test sends reaches the server: "each" writes every send() call as it
    comes, "one" holds them and writes them together when the client next reads, "frames"
    writes each frame on its own, with a pause, so the server reads them one at a time."""

    WRITES = ("each", "one", "frames")

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0, tls=None, write: str = "each"):
        assert host in ("127.0.0.1", "::1", "localhost"), "loopback only"
        assert write in self.WRITES, write
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
            assert self.sock.selected_alpn_protocol() == "h2", self.sock.selected_alpn_protocol()
        self.sock.settimeout(timeout)
        self.write = write
        self.held = b""
        self.encoder = Encoder()
        self.reader = FrameReader()
        self.outcome = Outcome()
        self.bytes_sent = 0
        self.frames_sent = 0

    # sending
    def send(self, data: bytes | HyperFrame) -> None:
        if isinstance(data, HyperFrame):
            data = data.serialize()
        self.bytes_sent += len(data)
        self.frames_sent += 1
        if self.write == "one":
            self.held += data
        elif self.write == "frames":
            for piece in split_frames(data):
                self._write(piece)
                time.sleep(0.005)
        else:
            self._write(data)

    def flush(self) -> None:
        """Writes what "one" mode holds, in one write."""
        held, self.held = self.held, b""
        if held:
            self._write(held)

    def _write(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError:
            self.outcome.closed = True  # the server already closed: what it sent before is still readable

    def start(self, settings: dict[int, int] | None = None, preface: bytes = PREFACE) -> None:
        self.send(preface + raw_frame(SETTINGS, 0, 0, settings_payload(settings or {})))

    def handshake(self, settings: dict[int, int] | None = None, timeout: float = 5.0) -> dict[int, int]:
        """Preface + our SETTINGS; waits for the server's SETTINGS and ACKs them."""
        self.start(settings)
        deadline = time.monotonic() + timeout
        while not self.outcome.settings and time.monotonic() < deadline:
            if self.read_frame(deadline - time.monotonic()) is None:
                break
        assert self.outcome.settings, "server sent no SETTINGS"
        self.send(raw_frame(SETTINGS, ACK, 0))
        return self.outcome.settings

    def block(self, headers: list[tuple[str, str]]) -> bytes:
        return self.encoder.encode(headers)

    def headers(self, stream_id: int, headers: list[tuple[str, str]], end_stream: bool = True) -> None:
        flags = END_HEADERS | (END_STREAM if end_stream else 0)
        self.send(raw_frame(HEADERS, flags, stream_id, self.block(headers)))

    def data(self, stream_id: int, payload: bytes, end_stream: bool = False) -> None:
        self.send(raw_frame(DATA, END_STREAM if end_stream else 0, stream_id, payload))

    # receiving
    @property
    def buf(self) -> bytes:
        """Received bytes not read as a frame yet."""
        return self.reader.buf

    @buf.setter
    def buf(self, value: bytes) -> None:
        self.reader.buf = value

    def _receive(self, timeout: float) -> bool:
        """One recv into the reader; False (and the outcome says why) on timeout or close."""
        self.flush()
        self.sock.settimeout(max(timeout, 0.001))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            self.outcome.timed_out = True
            return False
        except OSError:  # reset, broken pipe, or a TLS connection cut without close_notify
            chunk = b""
        if not chunk:
            self.outcome.closed = True
            return False
        self.reader.feed(chunk)
        return True

    def _recv_exact(self, n: int, timeout: float) -> bytes | None:
        while len(self.buf) < n:
            if not self._receive(timeout):
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self, timeout: float = 2.0) -> Frame | None:
        frame = self.reader.next()
        while frame is None:
            if not self._receive(timeout):
                return None
            frame = self.reader.next()
        self.outcome.frames.append(frame)
        if frame.type == GOAWAY and (fields := goaway_fields(frame.payload)):
            self.outcome.goaway_last_stream, self.outcome.goaway = fields
        elif frame.type == RST_STREAM and (code := rst_stream_code(frame.payload)) is not None:
            self.outcome.resets[frame.stream_id] = code
        elif frame.type == SETTINGS and not frame.flags & ACK:
            self.outcome.settings.update(settings_fields(frame.payload))
        elif frame.type == HEADERS and (fields := self.reader.fields(frame)) is not None:
            self.outcome.headers[frame.stream_id] = fields
            if (status := dict(fields).get(":status", "")).isdigit():
                self.outcome.status[frame.stream_id] = int(status)
        return frame

    def wait(self, stream_id: int | None = None, timeout: float = 3.0, until_goaway: bool = True) -> Outcome:
        """Read until GOAWAY, a RST_STREAM on stream_id, a response status on stream_id, close or timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.read_frame(deadline - time.monotonic()) is None:
                break
            o = self.outcome
            if until_goaway and o.goaway is not None:
                break
            if stream_id is not None and (stream_id in o.resets or stream_id in o.status):
                break
        else:
            self.outcome.timed_out = True
        return self.outcome

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def read_until_close(s: socket.socket, seconds: float, limit: int = 1 << 20) -> tuple[bytes, bool]:
    """What the server sends within seconds (up to limit bytes), and whether it closed or reset the connection."""
    got, deadline = b"", time.monotonic() + seconds
    while len(got) < limit and time.monotonic() < deadline:
        s.settimeout(max(0.001, deadline - time.monotonic()))
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


def h1_request(port: int, raw: bytes, timeout: float = 5.0, read_limit: int = 1 << 20) -> tuple[bytes, bool]:
    """Sends raw bytes, reads until close or timeout; returns (bytes received, closed by server)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_until_close(s, timeout, read_limit)
