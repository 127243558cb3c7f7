"""The one way memgate writes a file: a temp file beside the target, fsync, os.replace, fsync of
the directory. A reader never sees half a file, and a crash right after the write keeps it.
The file gets the mode open() would give it (0666 less the umask): mkstemp's 0600 would keep
result and report files from CI artifact uploaders and other users."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any


def write_bytes(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _umask() -> int:
    """The process umask, read without os.umask(), whose set-and-restore would race other threads."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    raise OSError("no Umask line in /proc/self/status")


def _fsync_directory(directory: str) -> None:
    """The rename itself is durable only once the directory entry is on disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str, data: Any) -> None:
    """data as indented JSON with a final newline (the format of every result file)."""
    write_text(path, json.dumps(data, indent=2) + "\n")


def copy_file(src: str, dst: str) -> None:
    with open(src, "rb") as f:
        write_bytes(dst, f.read())
