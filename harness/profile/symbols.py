"""Addresses from a jemalloc heap dump to frames: `addr2line -f -i -C` where the file has DWARF
(file:line and inlined frames), else `nm -C` (the function only)."""

from __future__ import annotations

import bisect
import os
import subprocess

from harness.profile.sites import Frame, has_debug_info


class Symbolizer:
    """address -> frames, innermost first: `addr2line -f -i -C` where the file has DWARF (file:line and
    inlined frames), else `nm -C` (the function only). The load base is the offset-0 mapping."""

    def __init__(self, maps: list[tuple[int, int, int, str]]):
        self.maps = sorted(maps)
        self.base: dict[str, int] = {}
        for lo, _, off, path in self.maps:
            if off == 0 and path not in self.base:
                self.base[path] = lo
        self.tables: dict[str, tuple[list[int], list[str]]] = {}
        self.lines: dict[tuple[str, int], list[Frame]] = {}
        self.dwarf: dict[str, bool] = {}

    def _locate(self, addr: int) -> tuple[str, int] | None:
        i = bisect.bisect_right(self.maps, (addr, float("inf"))) - 1
        if i < 0 or not (self.maps[i][0] <= addr < self.maps[i][1]):
            return None
        path = self.maps[i][3]
        return path, addr - self.base.get(path, self.maps[i][0] - self.maps[i][2])

    def _table(self, path: str) -> tuple[list[int], list[str]]:
        if path not in self.tables:
            syms: list[tuple[int, str]] = []
            for extra in ([], ["-D"]):
                try:
                    out = subprocess.run(["nm", "-C", "--defined-only", *extra, path], capture_output=True,
                                         text=True, timeout=60).stdout
                except (OSError, subprocess.SubprocessError):
                    out = ""
                for ln in out.splitlines():
                    parts = ln.split(" ", 2)
                    if len(parts) == 3 and parts[1] in "TtWwi":
                        try:
                            syms.append((int(parts[0], 16), parts[2]))
                        except ValueError:
                            pass
                if syms:
                    break
            syms.sort()
            self.tables[path] = ([a for a, _ in syms], [n for _, n in syms])
        return self.tables[path]

    def prepare(self, addrs: list[int]) -> None:
        """One addr2line per file with DWARF for all the addresses in it."""
        by_path: dict[str, set[int]] = {}
        for a in addrs:
            loc = self._locate(a)
            if loc is None:
                continue
            path, rel = loc
            if path not in self.dwarf:
                self.dwarf[path] = bool(has_debug_info(path))
            if self.dwarf[path] and (path, rel) not in self.lines:
                by_path.setdefault(path, set()).add(rel)
        for path, rels in by_path.items():
            self.lines.update(addr2line(path, sorted(rels)))

    def frames(self, addr: int) -> list[Frame]:
        loc = self._locate(addr)
        if loc is None:
            return [Frame(f"?? 0x{addr:x}")]
        path, rel = loc
        got = self.lines.get((path, rel))
        if got:
            return got
        addrs, names = self._table(path)
        j = bisect.bisect_right(addrs, rel) - 1
        return [Frame(names[j] if j >= 0 else f"?? {os.path.basename(path)}+0x{rel:x}", "", 0, path)]

    def frame(self, addr: int) -> Frame:
        """The function holding the address (the outermost of its inlined frames)."""
        return self.frames(addr)[-1]


def addr2line(path: str, rels: list[int]) -> dict[tuple[str, int], list[Frame]]:
    """(path, address) -> frames innermost first; addresses addr2line cannot place are left out."""
    try:
        out = subprocess.run(["addr2line", "-e", path, "-a", "-f", "-i", "-C"], input="".join(f"0x{r:x}\n" for r in rels),
                             capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    result: dict[tuple[str, int], list[Frame]] = {}
    cur: int | None = None
    lines = out.splitlines()
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("0x") and " " not in ln:
            cur = int(ln, 16)
            i += 1
            continue
        func = ln
        loc = lines[i + 1] if i + 1 < len(lines) else "??:0"
        i += 2
        if cur is None or func == "??":
            continue
        file, _, line = loc.rpartition(":")
        line = line.split(" ", 1)[0]
        n = int(line) if line.isdigit() else 0
        result.setdefault((path, cur), []).append(Frame(func, file if file and file != "??" else "", n, path))
    return result
