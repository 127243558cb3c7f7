"""Fixtures of the HTTP/2 conformance suite: refserver over h2c and over TLS, and a handshaken
client that sends each case in one write or frame by frame (every test runs all four ways)."""
import subprocess

import pytest

from h2_checks import H2_WRITES, TRANSPORTS, connect, healthz, serve


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture(scope="session", params=TRANSPORTS)
def transport(request):
    return request.param


@pytest.fixture(params=H2_WRITES)
def write(request):
    return request.param


@pytest.fixture(scope="session")
def servers(certificate):
    """One refserver per transport for the whole suite, started when first asked for."""
    started, running = {}, {}

    def get(transport):
        if transport not in running:
            started[transport] = serve(transport, certificate)
            running[transport] = started[transport].__enter__()
        return running[transport]
    yield get
    for server in started.values():
        server.__exit__(None, None, None)


@pytest.fixture
def server(servers, transport, certificate):
    """(port, transport, certificate) of the shared server."""
    return servers(transport), transport, certificate


@pytest.fixture
def client(server, write):
    port, transport, certificate = server
    c = connect(port, transport, write)
    c.handshake()
    yield c
    c.close()
    # The server survived the violation and still serves a new connection.
    assert healthz(port, transport) == 200
