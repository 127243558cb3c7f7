"""Which build of each binary a case runs: its GNU build id, else a sha256 of the file.

A matrix resume reuses a finished case only when its config and these identities are the
same, so a result measured on another build of refserver, loadgen or the heap shim (or of
a command target's program) is measured again.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import struct
from typing import Any

from harness.driver import heapshim
from harness.driver.binaries import MissingBinary, binary, build_dir, loadgen_binary, server_binary

PT_NOTE = 4
NT_GNU_BUILD_ID = 3


def gnu_build_id(path: str) -> str | None:
    """The hex build id from the ELF file's PT_NOTE segments, None when it has none (or is no ELF)."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF" or ident[4] not in (1, 2) or ident[5] not in (1, 2):
            return None
        wide, order = ident[4] == 2, "<" if ident[5] == 1 else ">"
        header = f.read(48 if wide else 36)
        if wide:
            phoff, = struct.unpack_from(order + "Q", header, 16)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 38)
        else:
            phoff, = struct.unpack_from(order + "I", header, 12)
            phentsize, phnum = struct.unpack_from(order + "HH", header, 26)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            entry = f.read(phentsize)
            if wide:
                p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(order + "IIQQQQ", entry)
            else:
                p_type, p_offset, _, _, p_filesz = struct.unpack_from(order + "IIIII", entry)
            if p_type != PT_NOTE:
                continue
            f.seek(p_offset)
            found = _build_id_note(f.read(p_filesz), order)
            if found:
                return found
    return None


def _build_id_note(notes: bytes, order: str) -> str | None:
    pos = 0
    while pos + 12 <= len(notes):
        namesz, descsz, kind = struct.unpack_from(order + "III", notes, pos)
        name_at = pos + 12
        desc_at = name_at + (namesz + 3) // 4 * 4
        if kind == NT_GNU_BUILD_ID and notes[name_at:name_at + namesz] == b"GNU\0":
            return notes[desc_at:desc_at + descsz].hex()
        pos = desc_at + (descsz + 3) // 4 * 4
    return None


@functools.lru_cache(maxsize=None)
def _identity(path: str, size: int, mtime_ns: int, inode: int) -> str:
    build_id = gnu_build_id(path)
    if build_id:
        return f"build-id:{build_id}"
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def identity(path: str) -> str:
    """build-id:<hex> or sha256:<hex>, read once per file version."""
    st = os.stat(path)
    return _identity(os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino)


def _program(argv0: str) -> str | None:
    """A command target's argv[0] as the runner resolves it ({bin} is memgate's build/bin)."""
    argv0 = argv0.replace("{bin}", os.path.join(build_dir(), "bin"))
    return shutil.which(argv0) or (argv0 if os.sep in argv0 and os.path.isfile(argv0) else None)


def case_binaries(config: dict[str, Any]) -> dict[str, str]:
    """Name -> identity of every binary the case runs ("missing" for one not there: the run then says so)."""
    target = config["target"]
    paths: dict[str, Any] = {"loadgen": loadgen_binary}
    if target["kind"] == "refserver":
        paths[f"refserver-{config['allocator']}"] = lambda: server_binary(config["allocator"])
    if target.get("heap") == "shim":
        paths[heapshim.LIBRARY_NAME] = lambda: binary(heapshim.LIBRARY_NAME)
    if target["kind"] == "command":
        program = _program(target["argv"][0])
        paths[target["argv"][0]] = lambda: program or target["argv"][0]
    found = {}
    for name, locate in paths.items():
        try:
            found[name] = identity(locate())
        except (MissingBinary, OSError):
            found[name] = "missing"
    return found
