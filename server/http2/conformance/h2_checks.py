"""What the HTTP/2 conformance tests share: starting refserver, connecting over h2c or TLS,
and the assertions on what it answers (the exact frame type, error code and stream)."""
import contextlib
import os
import ssl
import subprocess
from pathlib import Path

import pytest

from harness.abuse.wire import H2Client, error_name, request_headers

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("MEMGATE_BUILD_DIR", ROOT / "build")) / "bin"
TRANSPORTS = ("h2c", "tls")
H2_WRITES = ("one", "frames")  # harness.abuse.wire.H2Client's write modes: one write, frame by frame


@contextlib.contextmanager
def serve(transport, certificate, *flags):
    path = BIN / "refserver-glibc"
    if not path.exists():
        pytest.fail(f"{path} is missing: build with `bash ci/build.sh`")
    tls = ["--tls-cert", str(certificate[0]), "--tls-key", str(certificate[1])] if transport == "tls" else []
    proc = subprocess.Popen([str(path), "--port", "0", "--threads", "1", *tls, *flags], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("listening on 127.0.0.1:"), first
        yield int(first.rsplit(":", 1)[1])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tls_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    return context


def connect(port, transport, write="each"):
    return H2Client(port, timeout=5, tls=tls_context() if transport == "tls" else None, write=write)


def healthz(port, transport):
    c = connect(port, transport)
    try:
        c.handshake()
        c.headers(1, request_headers("/healthz"))
        return c.wait(stream_id=1).status.get(1)
    finally:
        c.close()


def frames_seen(o):
    return [(t, f, s) for t, f, s, _ in o.frames]


def assert_connection_error(c, code, timeout=3.0):
    o = c.wait(timeout=timeout)
    assert o.goaway == code, f"want GOAWAY {error_name(code)}, got {o.describe()}; frames {frames_seen(o)}"
    # After a connection error the server closes the connection (RFC 9113 5.4.1).
    c.wait(timeout=timeout, until_goaway=False)
    assert c.outcome.closed, "server did not close after GOAWAY"


def assert_stream_error(c, stream_id, code, timeout=3.0, connection_allowed=True):
    """RST_STREAM `code` on stream_id. RFC 9113 5.4.1 lets an endpoint treat a stream error as a
    connection error: unless connection_allowed is off, a GOAWAY with the same code passes too."""
    o = c.wait(stream_id=stream_id, timeout=timeout)
    if stream_id in o.resets:
        assert o.resets[stream_id] == code, f"want RST_STREAM {error_name(code)}, got {o.describe()}"
        return "stream"
    assert connection_allowed, f"want RST_STREAM {error_name(code)} on stream {stream_id}, got {o.describe()}"
    assert o.goaway == code, (f"want RST_STREAM (or GOAWAY) {error_name(code)} on stream {stream_id}, "
                              f"got {o.describe()}; frames {frames_seen(o)}")
    return "connection"
