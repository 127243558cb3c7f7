"""The heap shim's reader against real targets under the shim: the leaky fixture server, refserver
(against its own counting, on each allocator), a forking Python program, an allocator linked into
the executable; and the reader's own errors."""

import http.client
import json
import os
import signal
import socket
import sys
import textwrap
import threading

import pytest

from harness.driver import binaries, heapshim
from harness.testservers.launch import launcher

REQUESTS = 300
LEAK_BYTES = 1000


@pytest.fixture(scope="module")
def shim():
    try:
        return binaries.binary(heapshim.LIBRARY_NAME)
    except binaries.MissingBinary as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def channel():
    path = heapshim.create_channel_dir()
    yield path
    for name in os.listdir(path):
        os.unlink(os.path.join(path, name))
    os.rmdir(path)


@pytest.fixture
def start(shim, channel):
    """Starts a program under the shim (argv); killed and reaped after the test."""
    with launcher() as launch:
        yield lambda argv: launch(argv, heapshim.preload_env(shim, channel))


def leaky_server(start, *args):
    try:
        return start([binaries.binary("leaky_server"), *args]).wait_listening()
    except binaries.MissingBinary as e:
        pytest.fail(str(e), pytrace=False)


def get_many(port: int, count: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for i in range(count):
            conn.request("GET", f"/item/{i}")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, b"ok\n")
    finally:
        conn.close()


def growth_over_requests(start, channel, *server_args):
    """(live bytes, allocations) the server gained over REQUESTS keep-alive GETs."""
    server = leaky_server(start, *server_args)
    get_many(server.port, 5)  # the first connection's one-time costs, if any, before the baseline
    before = heapshim.sample_all(channel)
    get_many(server.port, REQUESTS)
    after = heapshim.sample_all(channel)
    assert [p.pid for p in after.processes] == [server.pid]
    gained = heapshim.growth(before, after)
    assert gained.heap_seen and gained.note is None and gained.started == gained.exited == ()
    return gained.live_bytes, gained.allocations


def test_live_bytes_grow_by_the_leak_per_request(start, channel):
    live, allocations = growth_over_requests(start, channel, "--leak-bytes", str(LEAK_BYTES))
    assert allocations == REQUESTS
    # Each block counts at its usable size: the 1000 bytes asked for, up to one alignment step more.
    assert REQUESTS * LEAK_BYTES <= live <= REQUESTS * (LEAK_BYTES + 16)


def test_live_bytes_stay_flat_without_the_leak(start, channel):
    live, allocations = growth_over_requests(start, channel)
    assert allocations == 0
    assert live == 0


def test_trim_all_trims_with_the_allocator_underneath(start, channel):
    server = leaky_server(start)
    result = heapshim.trim_all(channel)
    (process,) = result.processes
    assert (process.allocator, process.trim_method, process.trimmed) == ("glibc", "malloc_trim(0)", True)
    assert process.exe.endswith("/leaky_server") and process.pid == server.pid
    assert not heapshim.sample_all(channel).processes[0].trimmed


def test_a_killed_process_leaves_a_stale_socket_not_a_sample(start, channel):
    server = leaky_server(start)
    assert heapshim.sample_all(channel).heap_seen
    server.stop(signal.SIGKILL)
    result = heapshim.sample_all(channel)
    assert result.stale == (server.pid,) and result.processes == ()
    assert not result.heap_seen and result.live_bytes == 0
    assert result.note.startswith("no allocations seen: no process answered")


FORKING_PROGRAM = textwrap.dedent("""
    import os, sys
    parent_block = bytearray(5 << 20)   # malloc'd: far past pymalloc's small objects
    pid = os.fork()
    if pid == 0:
        child_block = bytearray(3 << 20)
    os.write(1, b"child\\n" if pid == 0 else b"parent\\n")  # one write each: the two share the pipe
    sys.stdin.readline()
""")


def test_a_forking_target_is_summed_over_its_processes(start, channel):
    target = start([sys.executable, "-c", FORKING_PROGRAM])
    assert sorted([target.line(), target.line()]) == ["child", "parent"]
    result = heapshim.sample_all(channel)
    by_pid = {p.pid: p for p in result.processes}
    parent = by_pid.pop(target.pid)
    (child,) = by_pid.values()
    assert child.ppid == parent.pid
    # The child holds what the parent held at the fork, plus its own block.
    assert child.inherited_live_bytes >= 5 << 20 and parent.live_bytes >= 5 << 20
    assert child.live_bytes - child.inherited_live_bytes >= 3 << 20
    assert child.allocations < parent.allocations  # counted since the fork only
    assert result.live_bytes == parent.live_bytes + child.live_bytes
    assert result.allocations == parent.allocations + child.allocations


def test_growth_names_processes_that_came_or_went_between_the_samples(start, channel):
    first = leaky_server(start)
    before = heapshim.sample_all(channel)
    second = leaky_server(start, "--leak-bytes", "100")
    first.stop()  # SIGTERM: the default action, so its socket file stays, refusing connections
    gained = heapshim.growth(before, heapshim.sample_all(channel))
    assert gained.started == (second.pid,) and gained.exited == (first.pid,)
    assert gained.heap_seen


def test_growth_without_a_seen_heap_carries_the_note(channel):
    gained = heapshim.growth(heapshim.sample_all(channel), heapshim.sample_all(channel))
    assert not gained.heap_seen and gained.note.startswith("no allocations seen")
    assert gained.live_bytes == 0


def test_an_allocator_linked_into_the_executable_says_no_allocations_seen(start, channel):
    try:
        program = start([binaries.binary("heapshim_static_probe")])
    except binaries.MissingBinary as e:
        pytest.fail(str(e), pytrace=False)
    assert program.line() == "ready"
    result = heapshim.sample_all(channel)
    (process,) = result.processes
    assert process.allocator == "not interposed" and not result.heap_seen
    assert result.live_bytes == 0 and result.allocations == 0
    assert "allocator is not interposed" in result.note and "heapshim_static_probe" in result.note


class Peer:
    """A socket under the channel dir answering as told, for the reader's error paths."""

    def __init__(self, channel: str, pid: int, answer: bytes | None):
        self.path = os.path.join(channel, f"{pid}.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(1)
        self.answer = answer
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(64)
            if self.answer is not None:
                conn.sendall(self.answer)
            else:
                self.done.wait(5)

    def close(self):
        self.done.set()
        self.thread.join(5)
        self.listener.close()


def test_a_process_that_does_not_answer_is_an_error_naming_it(channel):
    peer = Peer(channel, 4242, None)
    try:
        with pytest.raises(heapshim.ShimError, match=r"4242\.sock: no answer to 'sample' within 0\.2 s"):
            heapshim.sample_all(channel, timeout=0.2)
    finally:
        peer.close()


@pytest.mark.parametrize("answer, message", [
    (b"not json\n", "is not JSON"),
    (b'{"error":"unknown command"}\n', "was refused"),
    (b'{"pid": 4243}\n', "the reply lacks ppid"),
])
def test_a_bad_answer_is_an_error_saying_what_was_wrong(channel, answer, message):
    peer = Peer(channel, 4243, answer)
    try:
        with pytest.raises(heapshim.ShimError, match=message):
            heapshim.sample_all(channel)
    finally:
        peer.close()


def test_listing_keeps_only_pid_sockets_and_needs_the_dir(channel, tmp_path):
    for name in ("12.sock", "3.sock", "notes.txt", "x.sock"):
        open(os.path.join(channel, name), "w").close()
    assert [(s.pid, os.path.basename(s.path)) for s in heapshim.list_sockets(channel)] == [(3, "3.sock"), (12, "12.sock")]
    with pytest.raises(heapshim.ShimError, match="does not exist"):
        heapshim.list_sockets(str(tmp_path / "missing"))


def test_preload_env_puts_the_shim_first_then_the_allocator_then_what_was_there():
    env = heapshim.preload_env("/b/libmemgate_heapshim.so", "/tmp/c", {"LD_PRELOAD": "/x.so:/y.so", "A": "1"},
                               after=("/usr/lib/libjemalloc.so.2",))
    assert env["LD_PRELOAD"] == "/b/libmemgate_heapshim.so /usr/lib/libjemalloc.so.2 /x.so /y.so"
    assert env[heapshim.CHANNEL_ENV] == "/tmp/c" and env["A"] == "1"


def test_a_channel_dir_too_long_for_a_socket_path_is_refused(tmp_path):
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    with pytest.raises(heapshim.ShimError, match="too long for a unix socket path"):
        heapshim.create_channel_dir(str(deep))
    assert os.listdir(deep) == []


def test_the_command_line_prints_the_sum(start, channel, capsys):
    leaky_server(start)
    assert heapshim.main([channel]) == 0
    assert '"heap_seen": true' in capsys.readouterr().out
    assert heapshim.main([channel + "-missing"]) == 1


@pytest.mark.parametrize("allocator", ["glibc", "jemalloc", "mimalloc"])
def test_the_shim_agrees_with_refservers_own_counting(start, channel, allocator):
    """refserver counts its heap with its own hooks, at usable size; the shim, from outside, must
    see the same growth on each allocator (refserver-jemalloc and -mimalloc link theirs)."""
    try:
        server = start([binaries.server_binary(allocator), "--port", "0", "--threads", "1",
                        f"--inject-leak={LEAK_BYTES}"]).wait_listening()
    except binaries.MissingBinary as e:
        pytest.fail(str(e), pytrace=False)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

    def both():
        conn.request("GET", "/mem?trim=0")
        own = json.loads(conn.getresponse().read())
        return own, heapshim.sample_all(channel)

    try:
        for _ in range(20):  # the connection's one-time allocations, before the baseline
            conn.request("GET", "/bytes/100")
            conn.getresponse().read()
        own_before, shim_before = both()
        for _ in range(REQUESTS):
            conn.request("GET", "/bytes/100")
            conn.getresponse().read()
        own_after, shim_after = both()
    finally:
        conn.close()
    assert shim_after.processes[0].allocator == allocator
    own_growth = own_after["live_heap_bytes"] - own_before["live_heap_bytes"]
    assert own_growth >= REQUESTS * LEAK_BYTES
    # Within what differs between the two reads: the shim also sees libc's own allocations, and
    # /mem's reply is built after refserver's sample and freed once written, which may be before
    # or after the shim's sample.
    assert abs((shim_after.live_bytes - shim_before.live_bytes) - own_growth) <= 2048
    own_allocations = own_after["allocations"] - own_before["allocations"]
    assert abs((shim_after.allocations - shim_before.allocations) - own_allocations) <= 8
