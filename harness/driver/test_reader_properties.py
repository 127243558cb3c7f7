"""Properties of the two readers of what a measured target says about its memory: the /mem
contract checks (mem_protocol) and the heap shim's channel (heapshim). Malformed data is
refused (a list of problems, or ShimError); neither reader crashes on it."""
import json
import os
import socket
import tempfile
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.driver import heapshim, mem_protocol
from harness.driver.server import RefServer, ServerError
from harness.driver.targets.heap import MemEndpointHeap

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(1 << 70), max_value=1 << 70) | st.floats()
                | st.text(max_size=8))
JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)

CONFORMING_MEM = {"trimmed": True, "live_heap_bytes": 1, "rss_bytes": 2, "requests": {"h1": 0, "h2": 3},
                  "allocator": "glibc", "allocations": 5, "deallocations": 4, "allocated_bytes": 9, "leaked_bytes": 0}
# A conforming reply with some fields replaced, removed or added: close to what a server gets wrong.
MEM_REPLIES = st.builds(
    lambda changed, removed: {**{k: v for k, v in CONFORMING_MEM.items() if k not in removed}, **changed},
    st.dictionaries(st.sampled_from([*mem_protocol.REQUIRED, *mem_protocol.OPTIONAL, "x"]), JSON, max_size=4),
    st.sets(st.sampled_from(list(CONFORMING_MEM)), max_size=3)) | JSON


@SETTINGS
@given(MEM_REPLIES, st.none() | st.booleans())
def test_mem_problems_are_a_list_of_sentences_for_any_reply(reply, trimmed):
    found = mem_protocol.problems(reply, trimmed=trimmed)
    assert isinstance(found, list) and all(isinstance(p, str) and p for p in found)
    if not found:
        assert mem_protocol.regressions(reply, reply) == []
        assert mem_protocol.regressions(CONFORMING_MEM, reply) is not None


class Answerer:
    """A listening socket whose thread answers each connection with `answer(request)` and closes it."""

    def __init__(self, listener: socket.socket, answer):
        self.listener, self.answer = listener, answer
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                request = b""
                while not request.endswith((b"\n", b"\r\n\r\n")) and (chunk := conn.recv(4096)):
                    request += chunk
                conn.sendall(self.answer(request))

    def close(self):
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=5)


class FakeMemServer(Answerer):
    """HTTP/1.1 on loopback that answers every request with 200 and the body it is given."""

    def __init__(self):
        self.body = b"{}"
        super().__init__(socket.create_server(("127.0.0.1", 0)), self._response)
        self.port = self.listener.getsockname()[1]

    def _response(self, request: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(self.body) + self.body


@pytest.fixture(scope="module")
def mem_server():
    server = FakeMemServer()
    yield server
    server.close()


MEM_BODIES = MEM_REPLIES.map(lambda reply: json.dumps(reply).encode()) | st.binary(max_size=100)


@SETTINGS
@given(body=MEM_BODIES)
def test_the_mem_readers_refuse_a_malformed_body_with_a_server_error(mem_server, body):
    mem_server.body = body
    refserver = RefServer(["refserver"], tls=False, env={}, cpus=None)
    refserver.port = mem_server.port
    try:
        for read in (lambda: refserver.mem(trim=True),
                     lambda: MemEndpointHeap("h1").sample("127.0.0.1", mem_server.port, True, 5.0)):
            try:
                reply = read()
            except ServerError as e:
                assert e.kind == "protocol" and str(e)
            else:
                assert isinstance(reply, dict)
    finally:
        refserver.cleanup()


SHIM_REPLY = {"pid": 41, "ppid": 1, "exe": "/usr/sbin/nginx", "allocator": "glibc", "malloc_from": "libc.so.6",
              "trim_method": "malloc_trim", "trimmed": False, "seen_allocations": True, "live_bytes": 1000,
              "inherited_live_bytes": 0, "allocations": 10, "deallocations": 5, "allocated_bytes": 4000}
SHIM_REPLIES = st.builds(
    lambda changed, removed: json.dumps({**{k: v for k, v in SHIM_REPLY.items() if k not in removed}, **changed}).encode(),
    st.dictionaries(st.sampled_from([*SHIM_REPLY, "error"]), JSON, max_size=3),
    st.sets(st.sampled_from(list(SHIM_REPLY)), max_size=2)) | st.binary(max_size=200)


def fake_shim(directory: str, answer: bytes) -> Answerer:
    """One process's channel socket (pid 41) that answers every command with the same line."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.path.join(directory, "41.sock"))
    listener.listen(4)
    return Answerer(listener, lambda command: answer + b"\n")


@SETTINGS
@given(SHIM_REPLIES, st.booleans())
def test_the_shim_channel_refuses_a_malformed_answer_with_a_shim_error(answer, trim):
    with tempfile.TemporaryDirectory(prefix="memgate-shim-") as d:
        shim = fake_shim(d, answer)
        try:
            sample = heapshim.sample_all(d, trim=trim, timeout=2.0)
        except heapshim.ShimError as e:
            assert str(e)
        else:
            (process,) = sample.processes
            assert isinstance(process.live_bytes, int) and sample.live_bytes == process.live_bytes
            assert heapshim.growth(sample, sample).live_bytes == 0
        finally:
            shim.close()
