"""The refserver binaries as processes: flags, ports, signals, protocols over real sockets.

Unit and protocol-level tests live in GoogleTest (server/**/*_test.cpp); these
check what only a running process shows.
"""
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("MEMGATE_BUILD_DIR", ROOT / "build")) / "bin"
ALLOCATORS = ["glibc", "jemalloc", "mimalloc"]


def binary(allocator):
    path = BIN / f"refserver-{allocator}"
    if not path.exists():
        pytest.fail(f"{path} is missing: build with `bash ci/build.sh`")
    return path


class Server:
    def __init__(self, allocator="glibc", *args):
        self.process = subprocess.Popen(
            [binary(allocator), "--port", "0", "--threads", "2", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = self.process.stdout.readline()
        assert first.startswith("listening on 127.0.0.1:"), first + self.process.stderr.read()
        self.port = int(first.rsplit(":", 1)[1])

    def get(self, target, method="GET", body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request(method, target, body=body)
        response = connection.getresponse()
        return response.status, response.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            return self.process.wait(timeout=10)
        return self.process.returncode


@pytest.fixture
def server(request):
    started = Server(*getattr(request, "param", ("glibc",)))
    yield started
    started.stop()


def pattern(length):
    return bytes(i % 251 for i in range(length))


@pytest.mark.parametrize("allocator", ALLOCATORS)
def test_each_allocator_serves_and_reports_itself(allocator):
    server = Server(allocator)
    try:
        status, body = server.get("/bytes/65536")
        assert status == 200 and body == pattern(65536)
        # A request counts once its write completed, which the server may learn after the client read it.
        deadline = time.monotonic() + 5
        while True:
            status, body = server.get("/mem")
            mem = json.loads(body)
            if mem["requests"]["h1"] >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert mem["allocator"] == allocator
        assert mem["trimmed"] is True
        assert mem["requests"]["h1"] == 1
        assert mem["rss_bytes"] > 0 and mem["live_heap_bytes"] > 0
        assert mem["allocator_native"]
    finally:
        assert server.stop() == 0


ALLOCATION_FIELDS = {"live_heap_bytes", "allocations", "deallocations", "allocated_bytes", "allocations_by_protocol"}


@pytest.mark.parametrize("build, counted", [("glibc", True), ("glibc-uncounted", False)])
def test_only_the_counted_build_counts_allocations(build, counted):
    """refserver-glibc-uncounted, the baseline of server/bench/counting_cost.sh, links the counting
    core's stand-in: no malloc of its own, and a /mem that says its allocation counters are absent
    rather than reporting zeros as if it had measured them."""
    symbols = subprocess.run(["nm", "--defined-only", binary(build)], capture_output=True, text=True,
                             check=True, timeout=30).stdout
    defined = {line.split()[-1] for line in symbols.splitlines() if line.split()[1:2] == ["T"]}
    assert {"malloc", "free"} <= defined if counted else not {"malloc", "free"} & defined
    server = Server(build)
    try:
        assert server.get("/bytes/65536") == (200, pattern(65536))
        mem = json.loads(server.get("/mem?trim=0")[1])
    finally:
        assert server.stop() == 0
    assert mem["allocation_counters"] == ("counted" if counted else "absent")
    if counted:
        assert ALLOCATION_FIELDS <= mem.keys() and mem["allocations"] > 0 and mem["live_heap_bytes"] > 0
    else:
        assert not ALLOCATION_FIELDS & mem.keys()
    # What does not count allocations is the same in both: the event counters and /proc figures.
    assert mem["write_calls"] >= 1 and mem["rss_bytes"] > 0 and mem["connections"]["accepted"] >= 2


def test_sigterm_drains_and_exits_zero(server):
    assert server.get("/healthz")[0] == 200
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 5


def test_bad_flag_exits_2_naming_it():
    result = subprocess.run([binary("glibc"), "--copy=sideways"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 2
    assert "--copy=sideways" in result.stderr


def test_port_in_use_exits_1_naming_the_port(server):
    result = subprocess.run([binary("glibc"), "--port", str(server.port)], capture_output=True, text=True,
                            timeout=10)
    assert result.returncode == 1
    assert f"127.0.0.1:{server.port}" in result.stderr
    assert "in use" in result.stderr


def test_unreadable_certificate_exits_1(tmp_path):
    missing = tmp_path / "missing.pem"
    result = subprocess.run([binary("glibc"), "--tls-cert", missing, "--tls-key", missing], capture_output=True,
                            text=True, timeout=10)
    assert result.returncode == 1
    assert str(missing) in result.stderr


@pytest.mark.parametrize("server", [("glibc", "--copy=writev"), ("glibc", "--copy=buffered")], indirect=True)
def test_bytes_copied_follows_the_strategy(server):
    before = json.loads(server.get("/mem?trim=0")[1])
    for _ in range(20):
        status, body = server.get("/bytes/1048576")
        assert status == 200 and len(body) == 1048576
    after = json.loads(server.get("/mem?trim=0")[1])
    copied = after["bytes_copied"] - before["bytes_copied"]
    expected = 0 if after["config"]["copy"] == "writev" else 20 * 1048576
    assert copied == expected
    assert after["write_calls"] > before["write_calls"]


@pytest.mark.parametrize("via", ["new", "malloc"])
def test_injected_leaks_and_copies_are_per_measured_request(via):
    server = Server("glibc", "--inject-leak=40", f"--inject-leak-via={via}", "--inject-copy=3000")
    try:
        before = json.loads(server.get("/mem?trim=0")[1])
        for _ in range(10):
            assert server.get("/bytes/64")[0] == 200
        after = json.loads(server.get("/mem?trim=0")[1])
    finally:
        assert server.stop() == 0
    assert after["leaked_bytes"] - before["leaked_bytes"] == 10 * 40  # /mem itself is not a measured request
    assert after["bytes_copied"] - before["bytes_copied"] == 10 * 3000
    assert after["config"]["inject_leak_via"] == via and after["config"]["inject_copy_bytes"] == 3000


def test_upload_answers_count_and_crc(server):
    body = os.urandom(1_500_000)
    status, answer = server.get("/upload", method="POST", body=body)
    assert status == 200
    assert json.loads(answer) == {"bytes": len(body), "crc32": zlib.crc32(body)}


def test_h2c_prior_knowledge_and_h1_serve_identical_bytes(server):
    h2 = pytest.importorskip("h2.connection")
    import h2.config
    import h2.events

    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    connection.send_headers(1, [(":method", "GET"), (":path", "/bytes/65536"), (":scheme", "http"),
                                (":authority", "localhost")], end_stream=True)
    sock.sendall(connection.data_to_send())
    body, status, done = b"", None, False
    while not done:
        data = sock.recv(65536)
        assert data, "server closed the h2c connection"
        for event in connection.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                status = dict(event.headers)[b":status"]
            elif isinstance(event, h2.events.DataReceived):
                body += event.data
                connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                done = True
        sock.sendall(connection.data_to_send())
    sock.close()
    assert status == b"200"
    assert body == server.get("/bytes/65536")[1] == pattern(65536)
    assert json.loads(server.get("/mem?trim=0")[1])["requests"]["h2"] == 1


def start_tls_server(tmp_path, *flags):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    return Server("glibc", "--tls-cert", str(cert), "--tls-key", str(key), *flags)


def tls_connect(port, protocols):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(protocols)
    return context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")


@pytest.fixture
def tls_server(tmp_path):
    started = start_tls_server(tmp_path)
    yield started
    started.stop()


def h2_frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream_id.to_bytes(4, "big") + payload


# GET /bytes/10 on stream 1 (END_STREAM | END_HEADERS), HPACK by hand: :method GET, :scheme https
# from the static table, :path and :authority as literals with indexed names.
H2_GET_BYTES_10 = h2_frame(1, 0x05, 1, b"\x82\x87\x44\x09/bytes/10\x41\x01x")


def read_h2_until_stream_ends(tls) -> None:
    received = b""
    while True:
        chunk = tls.recv(65536)
        assert chunk, "the server closed before the response ended"
        received += chunk
        while len(received) >= 9 and len(received) >= 9 + int.from_bytes(received[:3], "big"):
            length, kind, flags = int.from_bytes(received[:3], "big"), received[3], received[4]
            received = received[9 + length:]
            if kind in (0, 1) and flags & 0x01:  # DATA or HEADERS with END_STREAM
                return


def test_per_connection_leak_fires_once_per_tls_connection_h1_and_h2(tmp_path):
    server = start_tls_server(tmp_path, "--inject-leak-per-connection=4096")
    try:
        for _ in range(2):
            with tls_connect(server.port, ["http/1.1"]) as tls:
                tls.sendall(b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while tls.recv(65536):
                    pass
            with tls_connect(server.port, ["h2"]) as tls:
                assert tls.selected_alpn_protocol() == "h2"
                tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b"") + H2_GET_BYTES_10)
                read_h2_until_stream_ends(tls)  # a connection that served a measured request
        with tls_connect(server.port, ["h2"]) as tls:  # no request: no load connection, not counted
            tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b""))
            assert tls.recv(65536)  # the server's SETTINGS: the h2 connection is up
        time.sleep(1.5)  # TLS closes take up to the 1 s close_notify wait
        with tls_connect(server.port, ["http/1.1"]) as tls:  # /mem on a connection still open: not counted yet
            tls.sendall(b"GET /mem?trim=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := tls.recv(65536):
                reply += chunk
        mem = json.loads(reply.split(b"\r\n\r\n", 1)[1])
        assert mem["leaked_bytes"] == 4 * 4096, mem
        assert mem["config"]["inject_leak_per_connection_bytes"] == 4096
    finally:
        assert server.stop() == 0


def test_open_file_limit_warning_names_both_numbers():
    server = Server("glibc", "--max-connections=1000000")
    try:
        assert server.get("/healthz")[0] == 200  # a warning, not a failure
    finally:
        assert server.stop() == 0
    stderr = server.process.stderr.read()
    assert "--max-connections=1000000" in stderr and "RLIMIT_NOFILE allows" in stderr, stderr


@pytest.mark.parametrize("offered, chosen", [(["h2", "http/1.1"], "h2"), (["http/1.1"], "http/1.1")])
def test_tls_alpn_picks_the_protocol(tls_server, offered, chosen):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(offered)
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == chosen
            if chosen == "http/1.1":
                tls.sendall(b"GET /bytes/1000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                reply = b""
                while chunk := tls.recv(65536):
                    reply += chunk
                assert reply.startswith(b"HTTP/1.1 200")
                assert reply.endswith(pattern(1000))
