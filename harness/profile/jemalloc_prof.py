"""jemalloc's built-in heap profiling as a memgate profiler (refserver-jemalloc only).

The server starts with `MALLOC_CONF=prof:true,prof_accum:true,lg_prof_sample:N,prof_final:true,
prof_prefix:DIR/jeprof.NAME` (through env(1), so taskset is not involved). At exit jemalloc
writes one `heap_v2` dump: per sampled stack, live objects/bytes and (prof_accum) cumulative
objects/bytes since start. This module parses that dump itself, symbolizes the addresses
with `nm -C` against MAPPED_LIBRARIES (function names only: the binaries carry .symtab but no
DWARF), and un-samples the figures the way jeprof does (x 1/(1 - exp(-avg/2^N))).

Limits, stated in the profile: jemalloc cannot be asked for a dump from outside the process,
so the figures cover the whole process (start-up, warm-up and measured run, divided by every
request the server served), and "live" is what is still allocated after the server's
shutdown (i.e. leaks and process-lifetime state), not the growth over the measured window.
"""

from __future__ import annotations

import bisect
import glob
import math
import os
import re
import shutil
import subprocess
from typing import Any

from harness.profile.report import Frame, Site, site_rows, trim_stack

LG_SAMPLE = 10  # mean 1 KiB between samples: small allocations still show at a few thousand requests


def clean(prefix: str) -> None:
    for p in glob.glob(prefix + ".*.heap"):
        os.unlink(p)


def malloc_conf(prefix: str, lg_sample: int = LG_SAMPLE) -> str:
    return f"prof:true,prof_active:true,prof_accum:true,lg_prof_sample:{lg_sample},prof_final:true,prof_prefix:{prefix}"


def wrap(argv: list[str], env: dict[str, str], prefix: str) -> tuple[list[str], dict[str, str]]:
    os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
    return [shutil.which("env") or "/usr/bin/env", f"MALLOC_CONF={malloc_conf(prefix)}", *argv], dict(env)



_COUNTS = re.compile(r"^\s*t\*: (\d+): (\d+) \[(\d+): (\d+)\]")


def parse_dump(text: str) -> dict[str, Any]:
    """{'rate': 2^N, 'stacks': [(addrs, live_objs, live_bytes, accum_objs, accum_bytes)], 'maps': [...]}"""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("heap_v2/"):
        raise ValueError("not a jemalloc heap_v2 dump")
    rate = int(lines[0].split("/", 1)[1])
    stacks = []
    maps = []
    i = 1
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("@ "):
            addrs = [int(a, 16) for a in ln[2:].split()]
            m = _COUNTS.match(lines[i + 1]) if i + 1 < len(lines) else None
            if m:
                stacks.append((addrs, *map(int, m.groups())))
            i += 1
        elif ln.startswith("MAPPED_LIBRARIES:"):
            for mline in lines[i + 1:]:
                parts = mline.split()
                if len(parts) >= 6 and "-" in parts[0] and parts[5].startswith("/"):
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    maps.append((lo, hi, int(parts[2], 16), parts[5]))
            break
        i += 1
    return {"rate": rate, "stacks": stacks, "maps": maps}


def unsample(objs: int, nbytes: int, rate: int) -> tuple[float, float]:
    if objs <= 0 or nbytes <= 0:
        return 0.0, 0.0
    ratio = 1.0 / (1.0 - math.exp(-(nbytes / objs) / rate))
    return objs * ratio, nbytes * ratio


class Symbolizer:
    """address -> (function, module) with `nm -C` per mapped file; the load base is the offset-0 mapping."""

    def __init__(self, maps: list[tuple[int, int, int, str]]):
        self.maps = sorted(maps)
        self.base: dict[str, int] = {}
        for lo, _, off, path in self.maps:
            if off == 0 and path not in self.base:
                self.base[path] = lo
        self.tables: dict[str, tuple[list[int], list[str]]] = {}

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

    def frame(self, addr: int) -> Frame:
        i = bisect.bisect_right(self.maps, (addr, float("inf"))) - 1
        if i < 0 or not (self.maps[i][0] <= addr < self.maps[i][1]):
            return Frame(f"?? 0x{addr:x}")
        path = self.maps[i][3]
        rel = addr - self.base.get(path, self.maps[i][0] - self.maps[i][2])
        addrs, names = self._table(path)
        j = bisect.bisect_right(addrs, rel) - 1
        return Frame(names[j] if j >= 0 else f"?? {os.path.basename(path)}+0x{rel:x}", "", 0, path)


def sites_from_dump(dump: dict[str, Any]) -> dict[str, Site]:
    sym = Symbolizer(dump["maps"])
    out: dict[str, Site] = {}
    for addrs, lo, lb, ao, ab in dump["stacks"]:
        # return addresses point after the call: look up addr-1 (not for the innermost frame)
        frames = [sym.frame(a if k == 0 else a - 1) for k, a in enumerate(addrs)]
        frames = [f for f in frames if not os.path.basename(f.module).startswith("libjemalloc")]
        key, trimmed = trim_stack(frames)
        live_o, live_b = unsample(lo, lb, dump["rate"])
        acc_o, acc_b = unsample(ao, ab, dump["rate"])
        s = out.get(key)
        if s is None:
            s = out[key] = Site(key=key, stack=trimmed)
        s.add({"allocs": acc_o, "bytes": acc_b, "live_growth_bytes": live_b, "live_growth_count": live_o,
               "live_end_bytes": live_b}, trimmed)
    return out


def collect(prefix: str, requests_served: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    finals = sorted(glob.glob(prefix + ".*.f.heap"))
    if not finals:
        raise RuntimeError(f"jemalloc wrote no final heap dump ({prefix}.*.f.heap): is the binary linked with a "
                           "jemalloc built with --enable-prof?")
    with open(finals[-1]) as f:
        dump = parse_dump(f.read())
    rows = site_rows(sites_from_dump(dump), requests_served)
    meta = {
        "profiler": {"name": "jemalloc", "version": None,
                     "sampling": f"lg_prof_sample:{int(math.log2(dump['rate']))} (one sample per {dump['rate']} B "
                                 "allocated on average), figures un-sampled like jeprof"},
        "window": {"how": "whole process (jemalloc cannot be told to dump from outside): per-request figures divide "
                          "everything allocated since start by all requests served (warm-up included); 'live' is what "
                          "was still allocated at exit, after shutdown"},
        "data_file": os.path.basename(finals[-1]),
        "live_title": "bytes still live at exit (whole process, sampled estimate)",
    }
    return rows, meta
