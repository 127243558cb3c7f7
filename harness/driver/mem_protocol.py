"""The memory contract a measured server's `GET /mem` answers to (docs/MEM_PROTOCOL.md), as checks:
`problems(sample)` lists what one reply gets wrong, `regressions(earlier, later)` what two
successive replies do (a counter since start that went down). Empty lists: the server conforms."""

from __future__ import annotations

from typing import Any

# field -> JSON type; bool is not an int here, though it is one in Python.
REQUIRED = {"trimmed": bool, "live_heap_bytes": int, "rss_bytes": int, "requests": dict}
OPTIONAL = {
    "allocator": str,
    "rss_before_trim_bytes": int,
    "rss_anon_before_trim_bytes": int,
    "rss_anon_bytes": int,
    "vm_hwm_bytes": int,
    "allocations": int,
    "deallocations": int,
    "allocated_bytes": int,
    "leaked_bytes": int,
    "allocator_native": dict,
    "config": dict,
}
PROTOCOLS = ("h1", "h2")
COUNTERS = ("allocations", "deallocations", "allocated_bytes", "leaked_bytes")
_JSON_NAMES = {bool: "boolean", str: "string", dict: "object"}


def _type_problem(name: str, value: Any, wanted: type) -> str | None:
    if wanted is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name} must be an integer, not {value!r}"
        if value < 0:
            return f"{name} must not be negative, got {value}"
        return None
    if not isinstance(value, wanted):
        return f"{name} must be a JSON {_JSON_NAMES[wanted]}, not {value!r}"
    return None


def problems(sample: Any, trimmed: bool | None = None) -> list[str]:
    """What SAMPLE (one parsed /mem reply) gets wrong; TRIMMED, when given, is what was asked for."""
    if not isinstance(sample, dict):
        return [f"the reply must be a JSON object, not {type(sample).__name__}"]
    found = [f"missing required field {name}" for name in REQUIRED if name not in sample]
    for name, wanted in {**REQUIRED, **OPTIONAL}.items():
        if name in sample and (problem := _type_problem(name, sample[name], wanted)):
            found.append(problem)
    requests = sample.get("requests")
    if isinstance(requests, dict):
        found += [f"requests lacks {p}" for p in PROTOCOLS if p not in requests]
        found += [problem for p in PROTOCOLS if p in requests
                  if (problem := _type_problem(f"requests.{p}", requests[p], int))]
    if trimmed is not None and isinstance(sample.get("trimmed"), bool) and sample["trimmed"] != trimmed:
        found.append(f"trimmed is {str(sample['trimmed']).lower()} for a request that asked "
                     f"{'for' if trimmed else 'for no'} trim")
    return found


def regressions(earlier: dict, later: dict) -> list[str]:
    """Counters since start that went down between two conforming samples."""
    pairs = [(name, earlier.get(name), later.get(name)) for name in COUNTERS]
    pairs += [(f"requests.{p}", earlier["requests"].get(p), later["requests"].get(p)) for p in PROTOCOLS]
    return [f"{name} went down from {before} to {after}" for name, before, after in pairs
            if isinstance(before, int) and isinstance(after, int) and after < before]
