"""One HTTP request over the scenario's protocol (h1, h2c with prior knowledge, h2 over TLS):
the ready probe and the /mem reads of targets memgate did not build."""

from __future__ import annotations

import http.client
import socket
import ssl

import h2.config
import h2.connection
import h2.events
import h2.exceptions


class RequestFailed(OSError):
    pass


def _tls_context(alpn: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the driver's own throwaway certificate
    context.set_alpn_protocols([alpn])
    return context


def request(protocol: str, host: str, port: int, method: str, path: str, timeout_s: float) -> tuple[int, bytes]:
    """(status, body) of one request; raises OSError (RequestFailed included) when there is no answer."""
    if protocol == "h1":
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
        try:
            conn.request(method, path, headers={"Connection": "close"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        except http.client.HTTPException as e:
            raise RequestFailed(f"{method} {path}: {e or type(e).__name__}") from None
        finally:
            conn.close()
    return _h2_request(protocol == "h2-tls", host, port, method, path, timeout_s)


def _h2_request(tls: bool, host: str, port: int, method: str, path: str, timeout_s: float) -> tuple[int, bytes]:
    sock = socket.create_connection((host, port), timeout=timeout_s)
    try:
        if tls:
            sock = _tls_context("h2").wrap_socket(sock, server_hostname=host)
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        conn.send_headers(1, [(":method", method), (":path", path), (":scheme", "https" if tls else "http"),
                              (":authority", f"{host}:{port}")], end_stream=True)
        sock.sendall(conn.data_to_send())
        status, body = None, bytearray()
        while True:
            data = sock.recv(65536)
            if not data:
                raise RequestFailed(f"{method} {path}: the connection closed before the response ended")
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = int(dict(event.headers)[":status"])
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded) and status is not None:
                    return status, bytes(body)
                elif isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    raise RequestFailed(f"{method} {path}: the server ended the stream ({type(event).__name__})")
            sock.sendall(conn.data_to_send())
    except h2.exceptions.ProtocolError as e:
        raise RequestFailed(f"{method} {path}: HTTP/2 protocol error: {e}") from None
    finally:
        sock.close()
