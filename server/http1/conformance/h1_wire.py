"""What the HTTP/1.1 conformance tests share: a raw loopback client that sends a request in
one write or byte by byte, and a small response reader (status, fields, body by
Content-Length, chunked, or the close) to assert on exactly what refserver answered."""
import socket
import time
from dataclasses import dataclass, field

WRITES = ("one", "bytes")  # one write; one write per byte (where it matters: per `piece` bytes)


@dataclass
class Response:
    version: str
    status: int
    fields: list = field(default_factory=list)  # (lowercase name, value) in order
    body: bytes = b""

    def get(self, name):
        values = [v for n, v in self.fields if n == name.lower()]
        return values[0] if len(values) == 1 else None if not values else values


@dataclass
class Reply:
    data: bytes
    closed: bool  # the server closed the connection (not a timeout on our side)

    def responses(self, heads=()):
        return parse_responses(self.data, heads)

    def statuses(self, heads=()):
        return [r.status for r in self.responses(heads)]


def send(sock, request, write, piece=1):
    if write == "one":
        sock.sendall(request)
        return
    for at in range(0, len(request), piece):
        sock.sendall(request[at:at + piece])
        time.sleep(0.0005)  # each piece its own segment, read on its own


def connect(port, timeout=3.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def exchange(port, request, write="one", piece=1, timeout=3.0, half_close=False):
    """Sends `request` and reads until the server closes or `timeout` passes."""
    with connect(port, timeout) as sock:
        send(sock, request, write, piece)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_reply(sock, timeout)


def read_reply(sock, timeout):
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return Reply(received, closed=False)
        except ConnectionResetError:
            return Reply(received, closed=True)
        if not chunk:
            return Reply(received, closed=True)
        received += chunk
    return Reply(received, closed=False)


def parse_responses(data, heads=()):
    """Every complete response in `data`; a body without a length runs to the end.
    heads[i] true: the i-th answers a HEAD request (no body)."""
    out = []
    while data:
        head = len(out) < len(heads) and heads[len(out)]
        header, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"an incomplete response header: {data[:200]!r}")
        lines = header.split(b"\r\n")
        version, status = lines[0].split(b" ")[:2]
        assert version in (b"HTTP/1.1", b"HTTP/1.0"), lines[0]
        response = Response(version.decode(), int(status), [(n.strip().lower().decode(), v.strip().decode())
                                          for n, _, v in (line.partition(b":") for line in lines[1:])])
        if head or response.status // 100 == 1 or response.status in (204, 304):
            data = rest
        elif response.get("transfer-encoding") == "chunked":
            response.body, data = _dechunk(rest)
        elif response.get("content-length") is not None:
            length = int(response.get("content-length"))
            assert len(rest) >= length, f"body cut short: {len(rest)} of {length} bytes"
            response.body, data = rest[:length], rest[length:]
        else:
            response.body, data = rest, b""
        out.append(response)
    return out


def _dechunk(data):
    body = b""
    while True:
        line, _, data = data.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            _, sep, data = data.partition(b"\r\n")  # no trailers from refserver
            assert sep, "chunked body without its end"
            return body, data
        body, data = body + data[:size], data[size + 2:]


def request(target="/healthz", method="GET", version="1.1", fields=(("Host", "x"),), body=b""):
    head = f"{method} {target} HTTP/{version}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
    return head.encode() + body


def upload(body, fields=()):
    """POST /upload with a Content-Length, the connection closed after it."""
    return request("/upload", "POST", fields=(("Host", "x"), ("Content-Length", str(len(body))),
                                               ("Connection", "close"), *fields), body=body)


CLOSE = (("Host", "x"), ("Connection", "close"))
LAST = request(fields=CLOSE)  # a request that ends a pipeline: the server closes after it


def assert_rejected(reply, status):
    """One response, `status`, saying the connection closes (HTTP/1.0's default is to), and
    the server closed it after that response."""
    assert reply.statuses() == [status], reply.data[:300]
    response = reply.responses()[0]
    expected = None if response.version == "HTTP/1.0" else "close"
    assert response.get("connection") == expected, reply.data[:300]
    assert reply.closed, "the server kept the connection open after the rejection"
