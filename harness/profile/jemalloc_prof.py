"""jemalloc's built-in heap profiling as a memgate profiler (refserver-jemalloc only).

The server starts with `MALLOC_CONF=prof:true,prof_accum:true,lg_prof_sample:N,prof_gdump:false,
prof_final:true,prof_prefix:DIR/jeprof.NAME` (through env(1), so taskset is not involved). A
`heap_v2` dump holds, per sampled stack, live objects/bytes and (prof_accum) cumulative
objects/bytes since start. This module parses dumps itself, symbolizes the addresses
(symbols.py: `nm -C` for function names, `addr2line -i` for file:line and inlined frames where
the file has DWARF), and un-samples the figures the way jeprof does (x 1/(1 - exp(-avg/2^N))).

The measured window: refserver has no endpoint that calls mallctl("prof.dump"), so a small
preloaded library (jeprof_ctl.c, built with cc on first use) runs a thread that dumps on
request through a FIFO. The driver asks for one dump right after the start /mem sample and
one right after the end sample; the figures are end minus start per stack: allocations in the
window, and live bytes grown over it. Without the library (no C compiler) or when a dump
fails, the figures fall back to the exit dump (whole process, warm-up included), and the
profile says so.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import math
import os
import shutil
import stat
import subprocess
import tempfile
import time
from typing import Any

from harness.driver.binaries import build_dir
from harness.profile.backend import Profiler
from harness.profile.sites import Site, site_rows, trim_stack
from harness.profile.symbols import Symbolizer

LG_SAMPLE = 10  # mean 1 KiB between samples: small allocations still show at a few thousand requests
CTL_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jeprof_ctl.c")
CTL_ENV = "MEMGATE_JEPROF_CTL"
DUMP_TIMEOUT_S = 20.0


class JemallocProfError(RuntimeError):
    pass


def clean(prefix: str) -> None:
    for p in glob.glob(prefix + ".*.heap") + glob.glob(prefix + ".window-*.heap*"):
        os.unlink(p)


def malloc_conf(prefix: str, lg_sample: int = LG_SAMPLE) -> str:
    return (f"prof:true,prof_active:true,prof_accum:true,lg_prof_sample:{lg_sample},prof_gdump:false,"
            f"prof_final:true,prof_prefix:{prefix}")


# -- window dumps through the preloaded control library -------------------------------------------
def ctl_library() -> str:
    """The control library, built from jeprof_ctl.c on first use (cached by the source's hash)."""
    with open(CTL_SOURCE, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    candidates = [os.path.join(build_dir(), "profile"), os.path.join(tempfile.gettempdir(), f"memgate-{os.getuid()}")]
    for d in candidates:
        lib = os.path.join(d, f"libmemgate_jeprof_ctl-{digest}.so")
        if os.path.exists(lib):
            return lib
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise JemallocProfError("no C compiler (cc) to build the jemalloc dump control library")
    last = ""
    for d in candidates:
        try:
            os.makedirs(d, exist_ok=True)
            lib = os.path.join(d, f"libmemgate_jeprof_ctl-{digest}.so")
            fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".so")
            os.close(fd)
            r = subprocess.run([cc, "-O2", "-Wall", "-shared", "-fPIC", "-o", tmp, CTL_SOURCE, "-pthread", "-ldl"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                os.unlink(tmp)
                raise JemallocProfError(f"building {os.path.basename(CTL_SOURCE)} failed: {r.stderr.strip()[-400:]}")
            os.replace(tmp, lib)
            return lib
        except OSError as e:
            last = str(e)
    raise JemallocProfError(f"cannot write the dump control library: {last}")


class WindowDumps:
    """A FIFO the preloaded control thread reads; dump(path) asks for one heap dump and waits for it."""

    def __init__(self, workdir: str, name: str):
        self.fifo = os.path.join(workdir, f".jeprof-ctl-{name}-{os.getpid()}")
        if os.path.lexists(self.fifo):
            os.unlink(self.fifo)
        os.mkfifo(self.fifo, 0o600)

    def dump(self, path: str, timeout_s: float = DUMP_TIMEOUT_S) -> None:
        path = os.path.abspath(path)
        for p in (path, path + ".err"):
            if os.path.exists(p):
                os.unlink(p)
        deadline = time.monotonic() + timeout_s
        while True:  # the control thread reopens the FIFO after each request: ENXIO for a moment
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise JemallocProfError("the server's dump control thread is not listening (was the control "
                                            f"library preloaded?): {e}") from None
                time.sleep(0.01)
        try:
            os.write(fd, (path + "\n").encode())
        finally:
            os.close(fd)
        while time.monotonic() < deadline:
            if os.path.exists(path):
                return
            if os.path.exists(path + ".err"):
                with open(path + ".err") as f:
                    raise JemallocProfError(f.read().strip())
            time.sleep(0.005)
        raise JemallocProfError(f"no heap dump at {path} after {timeout_s:g} s")

    def close(self) -> None:
        try:
            if stat.S_ISFIFO(os.lstat(self.fifo).st_mode):
                os.unlink(self.fifo)
        except FileNotFoundError:
            pass


def wrap(argv: list[str], env: dict[str, str], prefix: str, ctl_fifo: str | None = None) -> tuple[list[str], dict[str, str]]:
    os.makedirs(os.path.dirname(prefix) or ".", exist_ok=True)
    pre = [f"MALLOC_CONF={malloc_conf(prefix)}"]
    if ctl_fifo:
        lib = ctl_library() + (":" + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else "")
        pre = [f"LD_PRELOAD={lib}", f"{CTL_ENV}={ctl_fifo}", *pre]
    return [shutil.which("env") or "/usr/bin/env", *pre, *argv], dict(env)


# -- dumps ------------------------------------------------------------------------------------------
def _counts(line: str) -> tuple[int, int, int, int] | None:
    # "  t*: <live objs>: <live bytes> [<accum objs>: <accum bytes>]"
    head, sep, rest = line.strip().partition(": ")
    if head != "t*" or not sep:
        return None
    try:
        live, accum = rest.split(" [", 1)
        lo, lb = (int(x) for x in live.split(": "))
        ao, ab = (int(x) for x in accum.rstrip("]").split(": "))
    except ValueError:
        return None
    return lo, lb, ao, ab


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
            c = _counts(lines[i + 1]) if i + 1 < len(lines) else None
            if c:
                stacks.append((addrs, *c))
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


def unsampled_stacks(dump: dict[str, Any]) -> dict[tuple[int, ...], list[float]]:
    """stack -> [live objs, live bytes, accum objs, accum bytes], un-sampled (stacks repeated per thread summed)."""
    out: dict[tuple[int, ...], list[float]] = {}
    for addrs, lo, lb, ao, ab in dump["stacks"]:
        v = out.setdefault(tuple(addrs), [0.0, 0.0, 0.0, 0.0])
        for k, x in enumerate((*unsample(lo, lb, dump["rate"]), *unsample(ao, ab, dump["rate"]))):
            v[k] += x
    return out


def window_stacks(start: dict[str, Any], end: dict[str, Any]) -> dict[tuple[int, ...], list[float]]:
    """end minus start per stack (jeprof --base): allocations in the window and live growth over it.

    Both dumps come from one process, so a stack has the same addresses in both. A stack only in the
    start dump (everything freed, the entry dropped) counts its live bytes as freed in the window.
    """
    a, b = unsampled_stacks(start), unsampled_stacks(end)
    out: dict[tuple[int, ...], list[float]] = {}
    for k in set(a) | set(b):
        s, e = a.get(k, [0.0] * 4), b.get(k, [0.0] * 4)
        out[k] = [e[0] - s[0], e[1] - s[1], max(e[2] - s[2], 0.0), max(e[3] - s[3], 0.0)]
    return out


def sites_from_stacks(stacks: dict[tuple[int, ...], list[float]], maps: list[tuple[int, int, int, str]]) -> dict[str, Site]:
    sym = Symbolizer(maps)
    # return addresses point after the call: look up addr-1 (not for the innermost frame)
    sym.prepare([a if k == 0 else a - 1 for addrs in stacks for k, a in enumerate(addrs)])
    out: dict[str, Site] = {}
    for addrs, (lo, lb, ao, ab) in stacks.items():
        frames = [f for k, a in enumerate(addrs) for f in sym.frames(a if k == 0 else a - 1)]
        frames = [f for f in frames if not os.path.basename(f.module).startswith("libjemalloc")]
        key, trimmed = trim_stack(frames)
        s = out.get(key)
        if s is None:
            s = out[key] = Site(key=key, stack=trimmed)
        s.add({"allocs": ao, "bytes": ab, "live_growth_bytes": lb, "live_growth_count": lo,
               "live_end_bytes": max(lb, 0.0)}, trimmed)
    return out


def sites_from_dump(dump: dict[str, Any]) -> dict[str, Site]:
    return sites_from_stacks(unsampled_stacks(dump), dump["maps"])


def _read(path: str) -> dict[str, Any]:
    with open(path) as f:
        return parse_dump(f.read())


def _sampling(rate: int) -> str:
    return (f"lg_prof_sample:{int(math.log2(rate))} (one sample per {rate} B allocated on average), "
            "figures un-sampled like jeprof")


def collect(prefix: str, requests: int, requests_served: int, window: tuple[str, str] | None = None,
            window_error: str | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-site rows and profile metadata: from the window dumps when both exist, else the exit dump."""
    if window and all(os.path.exists(p) for p in window):
        start, end = _read(window[0]), _read(window[1])
        rows = site_rows(sites_from_stacks(window_stacks(start, end), end["maps"]), requests)
        return rows, {
            "profiler": {"name": "jemalloc", "version": None, "sampling": _sampling(end["rate"])},
            "window": {"how": "the measured run: jemalloc heap dumps (mallctl prof.dump) right after the start and "
                              "end /mem samples, end minus start per stack (allocations in the window, live growth "
                              "over it); warm-up excluded",
                       "mode": "window_dumps"},
            "data_file": [os.path.basename(p) for p in window],
            "live_title": "live bytes grown over the measured run (sampled estimate, after trim)",
        }
    finals = sorted(glob.glob(prefix + ".*.f.heap"))
    if not finals:
        raise JemallocProfError(f"jemalloc wrote no heap dump ({prefix}.*.f.heap): is the binary linked with a "
                                "jemalloc built with --enable-prof?" + (f" (window dumps: {window_error})" if window_error else ""))
    dump = _read(finals[-1])
    rows = site_rows(sites_from_dump(dump), requests_served)
    why = f"window dumps unavailable ({window_error}); " if window_error else ""
    return rows, {
        "profiler": {"name": "jemalloc", "version": None, "sampling": _sampling(dump["rate"])},
        "window": {"how": why + "whole process: per-request figures divide everything allocated since start by all "
                          "requests served (warm-up included); 'live' is what was still allocated at exit, after shutdown",
                   "mode": "exit_dump"},
        "data_file": os.path.basename(finals[-1]),
        "live_title": "bytes still live at exit (whole process, sampled estimate)",
        "requests_served_total": requests_served,
    }


class JemallocProfiler(Profiler):
    """Sampled heap profiling; the window is two heap dumps asked for through the control library."""

    name = "jemalloc"

    def __init__(self, workdir: str, scenario_name: str, windowed: bool = True):
        self.prefix = os.path.join(workdir, f"jeprof.{scenario_name}")
        clean(self.prefix)
        self.window_files = (f"{self.prefix}.window-start.heap", f"{self.prefix}.window-end.heap")
        self.problems: list[str] = []
        self.dumps: WindowDumps | None = None
        if windowed:
            try:
                ctl_library()
                self.dumps = WindowDumps(workdir, scenario_name)
            except (JemallocProfError, OSError) as e:
                self.problems.append(str(e))

    def wrap(self, argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        return wrap(argv, env, self.prefix, ctl_fifo=self.dumps.fifo if self.dumps else None)

    def on_phase(self, phase: str, server: Any) -> None:
        if self.dumps is None or self.problems:
            return
        try:
            self.dumps.dump(self.window_files[0 if phase == "measure_start" else 1])
        except (JemallocProfError, OSError) as e:
            self.problems.append(f"{phase} dump: {e}")

    def collect(self, result: dict[str, Any], requests: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        served = sum(int(v) for v in (result["replicates"][0]["end_sample"].get("requests") or {}).values())
        return collect(self.prefix, requests, served or requests, self.window_files, "; ".join(self.problems) or None)

    def close(self) -> None:
        if self.dumps is not None:
            self.dumps.close()
