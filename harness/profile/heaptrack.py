"""heaptrack as a memgate profiler: LD_PRELOAD its library into the server, then read its data.

The server is not started through the `heaptrack` script (which forks, prints to stdout
and would hide the server's pid): the driver sets `LD_PRELOAD=libheaptrack_preload.so`
and `DUMP_HEAPTRACK_OUTPUT=RAW` itself, so the first stdout line, the pid and /proc stay
the server's. After the run `heaptrack_interpret` symbolizes RAW (function names from
.symtab; file:line and inlined frames where the binary has DWARF: the -g1 builds,
MEMGATE_DEBUG_INFO in cmake/options.cmake)
and `parse()` folds the interpreted stream into per-site figures for a time window.

heaptrack records every allocation (no sampling). Its stream has a `c <ms>` line about
every 10 ms, measured from the preload's initialisation; the window (the measured run)
is given in the same clock by `idle_mark`.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
import subprocess
import time
from typing import IO, Any, Iterable

from harness.driver import reaper
from harness.profile.backend import Profiler
from harness.profile.sites import Frame, Site, site_rows, trim_stack

PRELOAD_CANDIDATES = ("/usr/lib/heaptrack/libheaptrack_preload.so",
                      "/usr/lib/x86_64-linux-gnu/heaptrack/libheaptrack_preload.so")
INTERPRET_CANDIDATES = ("/usr/lib/heaptrack/libexec/heaptrack_interpret",
                        "/usr/lib/x86_64-linux-gnu/heaptrack/libexec/heaptrack_interpret")


class HeaptrackError(RuntimeError):
    pass


def _first(paths: Iterable[str]) -> str | None:
    return next((p for p in paths if os.path.exists(p)), None)


def locate() -> tuple[str, str]:
    """(preload library, interpreter) or HeaptrackError naming what is missing."""
    exe = shutil.which("heaptrack")
    extra: list[str] = []
    if exe:
        base = os.path.dirname(os.path.realpath(exe))
        extra = [os.path.join(base, "../lib/heaptrack/libheaptrack_preload.so"),
                 os.path.join(base, "../lib/heaptrack/libexec/heaptrack_interpret")]
    preload = _first(list(PRELOAD_CANDIDATES) + extra[:1])
    interp = _first(list(INTERPRET_CANDIDATES) + extra[1:])
    if not preload or not interp:
        raise HeaptrackError("heaptrack not found (libheaptrack_preload.so / heaptrack_interpret): apt-get install heaptrack")
    return os.path.realpath(preload), os.path.realpath(interp)


def wrap(argv: list[str], env: dict[str, str], raw_path: str) -> tuple[list[str], dict[str, str]]:
    """Prefix argv with `env LD_PRELOAD=... DUMP_HEAPTRACK_OUTPUT=...`.

    Through env(1), not the child's environment: the driver may start the server under
    `taskset`, and heaptrack would otherwise trace taskset (and drop the variable on its
    exec) instead of the server. env and taskset both exec, so the pid stays the server's.
    """
    preload, _ = locate()
    pre = preload + (":" + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else "")
    return [shutil.which("env") or "/usr/bin/env", f"LD_PRELOAD={pre}", f"DUMP_HEAPTRACK_OUTPUT={raw_path}", *argv], dict(env)


def interpret(raw_path: str, out_path: str) -> str:
    """heaptrack_interpret RAW > OUT.gz (the symbolized stream, kept next to the report)."""
    _, interp = locate()
    with open(raw_path, "rb") as src, gzip.open(out_path, "wb", compresslevel=3) as dst:
        proc = reaper.spawn([interp], stdin=src, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        try:
            shutil.copyfileobj(proc.stdout, dst, 1 << 20)
            proc.wait()
        finally:
            reaper.kill_group(proc)  # an interrupt mid-copy must not leave it running
        if proc.returncode != 0:
            raise HeaptrackError(f"heaptrack_interpret exited with {proc.returncode} on {raw_path}")
    return out_path


IDLE_S = 0.1


def idle_mark(spawned_at: float, settle_s: float = IDLE_S) -> float:
    """A window boundary in heaptrack's clock (ms since its preload initialised in the server).

    Called right after a /mem sample, while nothing talks to the server: keep it idle for
    `settle_s` and put the boundary in the middle of that quiet stretch. heaptrack's clock
    starts a few ms after `spawned_at` (taskset, env and ld.so run first) and ticks every
    10 ms, so the boundary is good to about +-15 ms; the quiet stretch is 100 ms wide, so
    no event of the measured run lands on the wrong side. (The raw stream cannot be read
    back for this: heaptrack flushes it only when its buffer fills.)
    """
    now = time.monotonic()
    time.sleep(settle_s)
    return (now - spawned_at + settle_s / 2) * 1000.0


@dataclasses.dataclass
class Window:
    start_ms: float | None = None   # None: from the beginning
    end_ms: float | None = None     # None: to the end of the stream


def tick_activity(stream: IO[str]) -> list[tuple[float, int]]:
    """[(tick ms, allocation/free events after it)] for every `c` line: where the server was idle."""
    out: list[tuple[float, int]] = [(0.0, 0)]
    n = 0
    for line in stream:
        tag = line[:1]
        if tag == "+" or tag == "-":
            n += 1
        elif tag == "c":
            out[-1] = (out[-1][0], n)
            n = 0
            out.append((float(int(line[2:], 16)), 0))
    out[-1] = (out[-1][0], n)
    return out


def snap_to_idle(ticks: list[tuple[float, int]], estimate: float, reach_ms: float = 400.0,
                 min_idle_ms: float = 40.0) -> tuple[float, bool]:
    """Move an estimated boundary to the middle of the nearest idle stretch (ticks without events).

    The estimate comes from this process's clock and is off by heaptrack's start-up lag; the
    stream itself says where the server was quiet. Returns (boundary, snapped?).
    """
    runs: list[tuple[float, float]] = []
    start = None
    for i, (t, n) in enumerate(ticks):
        if n == 0 and start is None:
            start = t
        if n != 0 and start is not None:
            runs.append((start, t))
            start = None
    if start is not None:
        runs.append((start, ticks[-1][0]))
    best = None
    for a, b in runs:
        if b - a < min_idle_ms or b < estimate - reach_ms or a > estimate + reach_ms:
            continue
        mid = (a + b) / 2
        if best is None or abs(mid - estimate) < abs(best - estimate):
            best = mid
    return (best, True) if best is not None else (estimate, False)


def parse(stream: IO[str], window: Window) -> dict[str, Any]:
    """Fold an interpreted heaptrack stream (format v3) into per-trace figures.

    Returns {"traces": {trace: stack}, "by_trace": {trace: counters}, "clock_ms": last timestamp,
    "window": ...}. Counters per trace: allocs/bytes in the window, net live growth over the
    window (allocations minus frees in it) and live at the window's end (whole process).
    """
    strings: list[str] = [""]
    ips: list[tuple[str, list[Frame]]] = [("", [])]
    traces: list[tuple[int, int]] = [(0, 0)]
    infos: list[tuple[int, int]] = []  # (size, trace)
    per_info: dict[int, list[int]] = {}  # info -> [allocs_in_window, frees_in_window, live_at_end]
    now = 0.0
    start = window.start_ms if window.start_ms is not None else float("-inf")
    end = window.end_ms if window.end_ms is not None else float("inf")
    version = None
    near = 0  # events within 20 ms of a boundary: should be 0 when the boundaries sit in idle stretches
    edges = [b for b in (window.start_ms, window.end_ms) if b is not None]
    for line in stream:
        tag = line[:1]
        if tag == "+" or tag == "-":
            if edges and any(abs(now - b) <= 20 for b in edges):
                near += 1
            info = int(line[2:], 16)
            c = per_info.get(info)
            if c is None:
                c = per_info[info] = [0, 0, 0]
            if now <= end:
                if tag == "+":
                    c[2] += 1
                    if now >= start:
                        c[0] += 1
                else:
                    c[2] -= 1
                    if now >= start:
                        c[1] += 1
        elif tag == "c":
            now = float(int(line[2:], 16))
        elif tag == "a":
            size, trace = line[2:].split()
            infos.append((int(size, 16), int(trace, 16)))
        elif tag == "t":
            ip, parent = line[2:].split()
            traces.append((int(ip, 16), int(parent, 16)))
        elif tag == "i":
            parts = line[2:].split()
            module = strings[int(parts[1], 16)] if len(parts) > 1 else ""
            frames: list[Frame] = []
            rest = parts[2:]
            while len(rest) >= 1:
                func = strings[int(rest[0], 16)]
                file = strings[int(rest[1], 16)] if len(rest) > 1 else ""
                ln = int(rest[2], 16) if len(rest) > 2 else 0
                frames.append(Frame(func, file, ln, module))
                rest = rest[3:]
            if not frames:
                frames = [Frame(f"?? 0x{parts[0]}", "", 0, module)]
            # heaptrack 1.4 lists the innermost (inlined) frame first and the function that holds the
            # ip last (checked on a -g1 build: fresh_buffer's reserve, then fresh_buffer, then its h2
            # caller send_body); innermost first is this module's order too
            ips.append((module, frames))
        elif tag == "s":
            body = line[2:].rstrip("\n")
            # v3: "s <len> <string>"
            if version is not None and version >= 3 and " " in body:
                n, text = body.split(" ", 1)
                strings.append(text)
            else:
                strings.append(body)
        elif tag == "v":
            parts = line[2:].split()
            version = int(parts[1], 16) if len(parts) > 1 else 1
    by_trace: dict[int, dict[str, int]] = {}
    for info, (a, f, live) in per_info.items():
        if info >= len(infos):
            continue
        size, trace = infos[info]
        t = by_trace.setdefault(trace, {"allocs": 0, "bytes": 0, "frees": 0, "live_growth_bytes": 0,
                                         "live_growth_count": 0, "live_end_bytes": 0})
        t["allocs"] += a
        t["bytes"] += a * size
        t["frees"] += f
        t["live_growth_count"] += a - f
        t["live_growth_bytes"] += (a - f) * size
        t["live_end_bytes"] += max(live, 0) * size

    stacks: dict[int, list[Frame]] = {}

    def stack_of(trace: int) -> list[Frame]:
        if trace in stacks:
            return stacks[trace]
        out: list[Frame] = []
        seen = 0
        t = trace
        while t and seen < 256:
            ip, parent = traces[t]
            out.extend(ips[ip][1] if ip < len(ips) else [])
            t = parent
            seen += 1
        stacks[trace] = out
        return out

    return {"by_trace": by_trace, "stack_of": stack_of, "clock_ms": now, "events_near_boundaries": near}


def sites(parsed: dict[str, Any]) -> dict[str, Site]:
    """Group traces by their trimmed site (the innermost frame that matters)."""
    out: dict[str, Site] = {}
    for trace, c in parsed["by_trace"].items():
        stack = parsed["stack_of"](trace)
        key, trimmed = trim_stack(stack)
        s = out.get(key)
        if s is None:
            s = out[key] = Site(key=key, stack=trimmed)
        s.add(c, trimmed)
    return out


def open_interpreted(path: str) -> IO[str]:
    if path.endswith(".gz"):
        return gzip.open(path, "rt", errors="replace")
    return open(path, errors="replace")


def version() -> str | None:
    try:
        return subprocess.run(["heaptrack", "--version"], capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


WINDOW_HOW = ("the measured run, in heaptrack's clock (10 ms ticks): boundaries in the middle of 100 ms idle "
              "stretches after the start and end samples")


class HeaptrackProfiler(Profiler):
    """Every allocation recorded; the window is cut from the interpreted stream by its clock."""

    name = "heaptrack"

    def __init__(self, workdir: str, scenario_name: str, windowed: bool = True):
        self.raw = os.path.join(workdir, f"heaptrack.{scenario_name}.raw")
        self.data = os.path.join(workdir, f"heaptrack.{scenario_name}.gz")
        if os.path.exists(self.raw):
            os.unlink(self.raw)
        self.spawned_at = 0.0
        self.marks_ms: dict[str, float] = {}

    def wrap(self, argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        self.spawned_at = time.monotonic()
        return wrap(argv, env, self.raw)

    def on_phase(self, phase: str, server: Any) -> None:
        self.marks_ms[phase] = idle_mark(self.spawned_at)

    def collect(self, result: dict[str, Any], requests: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        interpret(self.raw, self.data)
        os.unlink(self.raw)
        how = WINDOW_HOW
        with open_interpreted(self.data) as f:
            ticks = tick_activity(f)
        (start_ms, snapped_start) = snap_to_idle(ticks, self.marks_ms["measure_start"])
        (end_ms, snapped_end) = snap_to_idle(ticks, self.marks_ms["measure_end"])
        if snapped_start and snapped_end:
            how += "; each snapped to the middle of the nearest idle stretch in heaptrack's own stream"
        with open_interpreted(self.data) as f:
            parsed = parse(f, Window(start_ms, end_ms))
        return site_rows(sites(parsed), requests), {
            "profiler": {"name": "heaptrack", "version": version(), "sampling": "none: every allocation and free is recorded"},
            "window": {"start_ms": round(start_ms, 1), "end_ms": round(end_ms, 1), "how": how,
                       "events_near_boundaries": parsed["events_near_boundaries"]},
            "data_file": os.path.basename(self.data),
        }
