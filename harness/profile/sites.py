"""Allocation sites, whatever the profiler: a stack trimmed to the frame that matters (the site)
and per-site figures as the rows of a profile (analysis/profile.py ranks and diffs them)."""

from __future__ import annotations

import dataclasses
import functools
import os
import subprocess
from typing import Any

from analysis.cxx_names import bare_name
from analysis.profile import KEEP_FRAMES

# Frames that are the allocator, memgate's own counting hooks, or the profiler: never the "site".
_ALLOCATOR_PREFIXES = ("operator new", "operator delete", "malloc", "calloc", "realloc", "free", "posix_memalign",
                       "aligned_alloc", "memalign", "__libc_", "_int_malloc", "je_", "mi_", "heaptrack",
                       "memgate::metrics::", "memgate::alloc::", "nghttp2_mem_", "CRYPTO_malloc", "CRYPTO_zalloc",
                       "CRYPTO_realloc")
# memgate's counting by source file: the counting core's static helpers (harness/heapshim/, linked
# into refserver) have no namespace to match, and their names are no allocator's. The per-thread
# free lists and nghttp2's memory over them make blocks for their callers: the caller is the site.
_HOOK_FILES = ("harness/heapshim/", "server/metrics/counters.", "server/alloc/", "server/pool/free_lists.",
               "server/http2/nghttp2_memory.")
# Library internals dropped from the shown stack (kept only when nothing better exists).
_NOISE_PREFIXES = ("std::", "boost::", "__gnu_cxx::", "void std::", "void boost::", "_start", "__libc_start",
                   "main", "start_thread", "clone", "??")
# Library code shown (not keyed) beneath the first memgate frame: the Beast call memgate made.
_CONTEXT_PREFIXES = ("boost::beast::",)


@functools.lru_cache(maxsize=64)
def has_debug_info(binary: str) -> bool | None:
    """Whether an ELF file carries DWARF line tables (None: readelf unavailable)."""
    try:
        out = subprocess.run(["readelf", "-S", "--wide", binary], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return ".debug_info" in out or ".debug_line" in out


@dataclasses.dataclass(frozen=True)
class Frame:
    func: str
    file: str = ""
    line: int = 0
    module: str = ""

    def text(self) -> str:
        where = f" ({self.file}:{self.line})" if self.file and self.line else ""
        return f"{self.func}{where}"

    def to_json(self) -> dict[str, Any]:
        return {"function": self.func, "file": self.file or None, "line": self.line or None,
                "module": os.path.basename(self.module) if self.module else None}


def _is_allocator(f: Frame) -> bool:
    if f.func.startswith(_ALLOCATOR_PREFIXES) or f.func in ("", "<unknown>"):
        return True
    return bool(f.file) and any(h in f.file for h in _HOOK_FILES)


def _matters(func: str) -> bool:
    """memgate:: code and nghttp2 are what a reviewer acts on."""
    if func.startswith(("memgate::metrics::", "memgate::alloc::", "nghttp2_mem_")):
        return False
    name = bare_name(func)
    return name.startswith("memgate::") or name.startswith("nghttp2_")


def _dedupe(frames: list[Frame]) -> list[Frame]:
    """Consecutive frames of one function (a handler's nested lambdas, recursion) shown once, innermost kept."""
    out: list[Frame] = []
    for f in frames:
        if not out or out[-1].func != f.func:
            out.append(f)
    return out


def trim_stack(stack: list[Frame]) -> tuple[str, list[Frame]]:
    """(site key, frames that matter), innermost first.

    The key is the innermost memgate:: or nghttp2 frame (with DWARF, inlined frames count: the
    buffered strategy's `strategy::fresh_buffer` is its own site, not its caller). The frames shown
    are the memgate:: and nghttp2 ones from there outwards, led by the Beast call memgate made when
    one sits between the allocator and the key. Allocator, hook, std:: (libstdc++) and Asio frames
    are dropped. Without a memgate or nghttp2 frame: the innermost Beast frame, else the innermost
    frame that is not the allocator (e.g. an OpenSSL function), tagged with its module.
    """
    body = [f for f in stack if not _is_allocator(f)]
    first = next((i for i, f in enumerate(body) if _matters(f.func)), None)
    if first is not None:
        kept = _dedupe([f for f in body[first:] if _matters(f.func)])
        context = [f for f in body[:first] if bare_name(f.func).startswith(_CONTEXT_PREFIXES)]
        if context:
            kept = [context[-1]] + kept
        return body[first].func, kept[:KEEP_FRAMES]
    beast = [f for f in body if bare_name(f.func).startswith(_CONTEXT_PREFIXES)]
    if beast:
        return beast[0].func, _dedupe(beast)[:3]
    other = [f for f in body if not f.func.startswith(_NOISE_PREFIXES)] or body
    if other:
        f = other[0]
        mod = os.path.basename(f.module) if f.module else "?"
        return f"{f.func} [{mod}]", other[:3]
    return "<no stack>", []


@dataclasses.dataclass
class Site:
    key: str
    stack: list[Frame]
    allocs: float = 0
    bytes: float = 0
    live_growth_bytes: float = 0
    live_growth_count: float = 0
    live_end_bytes: float = 0
    _best: float = -1
    # trimmed call path (function names) -> [frames, allocs, bytes, live growth bytes]: the site's callers
    paths: dict[tuple[str, ...], list[Any]] = dataclasses.field(default_factory=dict)

    def add(self, c: dict[str, float], stack: list[Frame]) -> None:
        self.allocs += c.get("allocs", 0)
        self.bytes += c.get("bytes", 0)
        self.live_growth_bytes += c.get("live_growth_bytes", 0)
        self.live_growth_count += c.get("live_growth_count", 0)
        self.live_end_bytes += c.get("live_end_bytes", 0)
        weight = c.get("bytes", 0) + max(c.get("live_growth_bytes", 0), 0)
        if weight > self._best:
            self._best = weight
            self.stack = stack
        p = self.paths.setdefault(tuple(f.func for f in stack), [stack, 0, 0, 0])
        p[1] += c.get("allocs", 0)
        p[2] += c.get("bytes", 0)
        p[3] += c.get("live_growth_bytes", 0)


MAX_PATHS = 4


def _paths_json(s: Site, scale: float) -> list[dict[str, Any]]:
    """The site's heaviest call paths (for the icicle view); empty when there is only one."""
    if len(s.paths) < 2:
        return []
    ranked = sorted(s.paths.values(), key=lambda p: -(p[2] + max(p[3], 0)))[:MAX_PATHS]
    return [{"stack": [{"function": f.func, "file": f.file or None, "line": f.line or None} for f in frames],
             "allocs": round(a * scale), "bytes": round(b * scale), "live_growth_bytes": round(lv * scale)}
            for frames, a, b, lv in ranked]


def site_rows(sites: dict[str, Site], requests: int, scale: float = 1.0) -> list[dict[str, Any]]:
    """JSON rows; `scale` multiplies sampled figures back to estimates (1 for heaptrack)."""
    req = max(requests, 1)
    rows = []
    for s in sites.values():
        row = {
            "site": s.key,
            "stack": [f.to_json() for f in s.stack],
            "allocs": round(s.allocs * scale),
            "bytes": round(s.bytes * scale),
            "allocs_per_request": s.allocs * scale / req,
            "bytes_per_request": s.bytes * scale / req,
            "live_growth_bytes": round(s.live_growth_bytes * scale),
            "live_growth_count": round(s.live_growth_count * scale),
            "live_end_bytes": round(s.live_end_bytes * scale),
            # the driver's own /mem probes (their count follows the run's duration, not the traffic)
            "probe": any(f.func.startswith(PROBE_PREFIXES) or f.file.endswith(PROBE_FILES) for f in s.stack),
        }
        paths = _paths_json(s, scale)
        if paths:
            row["paths"] = paths
        rows.append(row)
    return rows


PROBE_PREFIXES = ("memgate::app::memory_sampler::", "memgate::app::(anonymous namespace)::render(")
PROBE_FILES = ("server/app/memory_sampler.cpp",)
