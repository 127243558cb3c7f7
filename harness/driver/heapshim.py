"""The reader side of the heap shim (harness/heapshim/README.md): live heap of a target memgate did
not build, summed over its processes.

A target started with `preload_env(...)` loads libmemgate_heapshim.so, and each of its processes
(a forking server's master and workers, each exec'd program) listens on `<dir>/<pid>.sock`.
`sample_all(dir)` asks every one and sums; `trim_all(dir)` has each run its allocator's forced
trim first; `growth(start, end)` is what the target gained in between. A target whose allocator the shim cannot see (linked into the executable, or no
process loaded the shim) gives `heap_seen=False` and a note saying why, never zero growth.

    python3 -m harness.driver.heapshim DIR [--trim] [--timeout S]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import socket
import sys
import tempfile
from dataclasses import dataclass

LIBRARY_NAME = "libmemgate_heapshim.so"
CHANNEL_ENV = "MEMGATE_SHIM_DIR"
DEFAULT_TIMEOUT_S = 2.0
# sun_path holds 108 bytes with its NUL; the shim appends "/<pid>.sock" (pids up to 4194304).
MAX_CHANNEL_DIR_BYTES = 107 - len("/4194304.sock")
_SOCKET_NAME = re.compile(r"^([0-9]+)\.sock$")


class ShimError(RuntimeError):
    """The channel could not be read: a missing dir, a process that does not answer, a bad reply."""


@dataclass(frozen=True)
class ShimSocket:
    pid: int
    path: str


@dataclass(frozen=True)
class ProcessSample:
    """One process's answer; the fields are the shim's (harness/heapshim/README.md)."""

    pid: int
    ppid: int
    exe: str
    allocator: str
    malloc_from: str
    trim_method: str
    trimmed: bool
    seen_allocations: bool
    live_bytes: int
    inherited_live_bytes: int
    allocations: int
    deallocations: int
    allocated_bytes: int

    @classmethod
    def from_reply(cls, reply: dict, source: str) -> ProcessSample:
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in reply]
        if missing:
            raise ShimError(f"{source}: the reply lacks {', '.join(missing)}: {reply}")
        wrong = [f"{f.name} is not {'an' if f.type == 'int' else 'a'} {f.type}" for f in dataclasses.fields(cls)
                 if not _has_type(reply[f.name], f.type)]
        if wrong:
            raise ShimError(f"{source}: in the reply, {', '.join(wrong)}: {reply}")
        return cls(**{f.name: reply[f.name] for f in dataclasses.fields(cls)})


def _has_type(value: object, type_name: str) -> bool:
    """JSON's types as the fields' annotations name them; true and false are no integers here."""
    if type_name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, {"str": str, "bool": bool}[type_name])


@dataclass(frozen=True)
class ShimSample:
    """Every answering process, and their sums. `stale` lists pids whose socket file is left but
    refuses connections (the process was killed, or exec'd a program without the shim)."""

    processes: tuple[ProcessSample, ...]
    stale: tuple[int, ...]
    heap_seen: bool
    note: str | None
    live_bytes: int
    allocations: int
    deallocations: int
    allocated_bytes: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ShimGrowth:
    """What a target gained between two samples (`growth`). The cumulative counts of a process
    that exited in between leave the sum with it, so `exited` and `started` name such pids and
    the driver can say the window was not stable rather than trust a negative count."""

    live_bytes: int
    allocations: int
    deallocations: int
    allocated_bytes: int
    heap_seen: bool
    note: str | None
    started: tuple[int, ...]
    exited: tuple[int, ...]


def growth(start: ShimSample, end: ShimSample) -> ShimGrowth:
    """END minus START, over the whole target (every process in either sample)."""
    before = {p.pid for p in start.processes}
    after = {p.pid for p in end.processes}
    return ShimGrowth(
        live_bytes=end.live_bytes - start.live_bytes,
        allocations=end.allocations - start.allocations,
        deallocations=end.deallocations - start.deallocations,
        allocated_bytes=end.allocated_bytes - start.allocated_bytes,
        heap_seen=start.heap_seen and end.heap_seen,
        note=start.note or end.note,
        started=tuple(sorted(after - before)),
        exited=tuple(sorted(before - after)),
    )


def create_channel_dir(parent: str | None = None) -> str:
    """A fresh directory for the sockets, mode 1777 so that workers which switch user (nginx's)
    can still bind in it, short enough for a unix socket path."""
    path = tempfile.mkdtemp(prefix="memgate-shim-", dir=parent)
    if len(os.fsencode(path)) > MAX_CHANNEL_DIR_BYTES:
        os.rmdir(path)
        raise ShimError(f"channel dir {path} is longer than {MAX_CHANNEL_DIR_BYTES} bytes: too long for a unix socket path")
    os.chmod(path, 0o1777)
    return path


def preload_env(shim_library: str, channel_dir: str, env: dict | None = None, after: tuple[str, ...] = ()) -> dict:
    """ENV (default os.environ) with the shim first in LD_PRELOAD, then AFTER (an allocator to
    forward to, e.g. libjemalloc.so.2), then whatever LD_PRELOAD already held."""
    result = dict(os.environ if env is None else env)
    existing = result.get("LD_PRELOAD", "").replace(":", " ").split()
    result["LD_PRELOAD"] = " ".join([shim_library, *after, *existing])
    result[CHANNEL_ENV] = channel_dir
    return result


def list_sockets(channel_dir: str) -> list[ShimSocket]:
    """The `<pid>.sock` entries in CHANNEL_DIR, by pid; other names are not the shim's."""
    try:
        names = os.listdir(channel_dir)
    except FileNotFoundError:
        raise ShimError(f"channel dir {channel_dir} does not exist") from None
    found = []
    for name in names:
        match = _SOCKET_NAME.match(name)
        if match:
            found.append(ShimSocket(int(match.group(1)), os.path.join(channel_dir, name)))
    return sorted(found, key=lambda s: s.pid)


def query(path: str, command: str, timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """Sends COMMAND (sample or trim) on one socket and returns the parsed reply. Raises
    ConnectionRefusedError or FileNotFoundError as connect does, ShimError for the rest."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(path)
        try:
            conn.sendall(command.encode() + b"\n")
            chunks = []
            # The answer is one line: stop there rather than at the close, which a fork in the
            # target may hold back (the child has a copy of the connection until it lets it go).
            while (chunk := conn.recv(65536)) and not chunk.endswith(b"\n"):
                chunks.append(chunk)
            chunks.append(chunk)
        except TimeoutError:
            raise ShimError(f"{path}: no answer to {command!r} within {timeout:g} s") from None
    text = b"".join(chunks).decode(errors="replace")
    try:
        reply = json.loads(text)
    except json.JSONDecodeError:
        raise ShimError(f"{path}: the answer to {command!r} is not JSON: {text[:200]!r}") from None
    if not isinstance(reply, dict) or "error" in reply:
        raise ShimError(f"{path}: {command!r} was refused: {text.strip()[:200]}")
    return reply


def sample_process(sock: ShimSocket, trim: bool = False, timeout: float = DEFAULT_TIMEOUT_S) -> ProcessSample:
    command = "trim" if trim else "sample"
    sample = ProcessSample.from_reply(query(sock.path, command, timeout), f"pid {sock.pid}")
    if trim and sample.trim_method != "none" and not sample.trimmed:
        raise ShimError(f"pid {sock.pid}: asked to trim ({sample.trim_method}) but the answer says it did not")
    return sample


def _note(processes: list[ProcessSample], channel_dir: str) -> str | None:
    if not processes:
        return (f"no allocations seen: no process answered under {channel_dir} (a statically linked program "
                f"never loads the shim; or LD_PRELOAD or {CHANNEL_ENV} did not reach the target)")
    if not any(p.seen_allocations for p in processes):
        where = ", ".join(sorted({p.malloc_from or p.exe for p in processes}))
        return f"no allocations seen: the shim is loaded but the allocator is not interposed (its malloc is in {where})"
    return None


def sample_all(channel_dir: str, trim: bool = False, timeout: float = DEFAULT_TIMEOUT_S) -> ShimSample:
    """Every process under CHANNEL_DIR, one after another (TIMEOUT each), and their sums."""
    processes, stale = [], []
    for sock in list_sockets(channel_dir):
        try:
            processes.append(sample_process(sock, trim, timeout))
        except FileNotFoundError:
            continue  # it exited between the listing and the connect
        except ConnectionRefusedError:
            stale.append(sock.pid)
        except OSError as e:
            raise ShimError(f"pid {sock.pid}: cannot reach {sock.path}: {e}") from None
    return ShimSample(
        processes=tuple(processes),
        stale=tuple(stale),
        heap_seen=any(p.seen_allocations for p in processes),
        note=_note(processes, channel_dir),
        live_bytes=sum(p.live_bytes for p in processes),
        allocations=sum(p.allocations for p in processes),
        deallocations=sum(p.deallocations for p in processes),
        allocated_bytes=sum(p.allocated_bytes for p in processes),
    )


def trim_all(channel_dir: str, timeout: float = DEFAULT_TIMEOUT_S) -> ShimSample:
    """`sample_all` after each process ran its allocator's forced trim."""
    return sample_all(channel_dir, trim=True, timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m harness.driver.heapshim", description=__doc__.split("\n\n")[0])
    parser.add_argument("channel_dir")
    parser.add_argument("--trim", action="store_true", help="each process trims before it answers")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per process")
    args = parser.parse_args(argv)
    try:
        result = sample_all(args.channel_dir, trim=args.trim, timeout=args.timeout)
    except ShimError as e:
        print(f"heapshim: {e}", file=sys.stderr)
        return 1
    json.dump(result.as_dict(), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
