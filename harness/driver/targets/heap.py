"""Where a target's live heap comes from (`heap` in [target]): the counting shim, the target's own
`/mem` (docs/MEM_PROTOCOL.md), or nowhere (RSS only). Each `sample(host, port, trim, timeout_s)` returns the
/mem-shaped fields it knows; `live_heap_bytes` is None with `heap_note` saying why when it knows none."""

from __future__ import annotations

import shutil
from typing import Any

from harness.driver import heapshim, mem_protocol
from harness.driver.server import ServerError, parse_mem_reply
from harness.driver.targets.http_client import request


class HeapSource:
    name = ""
    counts_requests = False

    def sample(self, host: str, port: int, trim: bool, timeout_s: float) -> dict[str, Any]:  # pragma: no cover - each source has one
        raise NotImplementedError

    def cleanup(self) -> None:
        pass


class NoHeap(HeapSource):
    name = "none"

    def sample(self, host: str, port: int, trim: bool, timeout_s: float) -> dict[str, Any]:
        return {"live_heap_bytes": None, "heap_source": self.name,
                "heap_note": "heap = \"none\": the target is measured by RSS only"}


class ShimHeap(HeapSource):
    """libmemgate_heapshim.so preloaded into the target; every process answers on its own socket."""

    name = "shim"

    def __init__(self, library: str):
        self.library = library
        self.channel_dir = heapshim.create_channel_dir()

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        return heapshim.preload_env(self.library, self.channel_dir, env)

    def sample(self, host: str, port: int, trim: bool, timeout_s: float) -> dict[str, Any]:
        try:
            shim = heapshim.sample_all(self.channel_dir, trim=trim, timeout=min(timeout_s, heapshim.DEFAULT_TIMEOUT_S))
        except heapshim.ShimError as e:
            raise ServerError("unresponsive", f"heap shim: {e}") from None
        fields: dict[str, Any] = {"heap_source": self.name, "heap_processes": [p.pid for p in shim.processes]}
        if not shim.heap_seen:
            return {**fields, "live_heap_bytes": None, "heap_note": shim.note}
        return {**fields, "live_heap_bytes": shim.live_bytes, "allocations": shim.allocations,
                "deallocations": shim.deallocations, "allocated_bytes": shim.allocated_bytes,
                "allocator": shim.processes[0].allocator}

    def cleanup(self) -> None:
        shutil.rmtree(self.channel_dir, ignore_errors=True)


class MemEndpointHeap(HeapSource):
    """The target's `GET /mem` (forced collection or trim) and `GET /mem?trim=0`, held to the contract."""

    name = "mem_endpoint"
    counts_requests = True

    def __init__(self, protocol: str):
        self.protocol = protocol

    def sample(self, host: str, port: int, trim: bool, timeout_s: float) -> dict[str, Any]:
        path = "/mem" if trim else "/mem?trim=0"
        try:
            status, body = request(self.protocol, host, port, "GET", path, timeout_s)
        except OSError as e:
            raise ServerError("unresponsive", f"GET {path} failed: {e or type(e).__name__}") from None
        reply = parse_mem_reply(path, status, body)
        problems = mem_protocol.problems(reply, trimmed=trim)
        if problems:
            raise ServerError("protocol", f"GET {path} breaks docs/MEM_PROTOCOL.md: {'; '.join(problems)}")
        # RSS comes from /proc over the whole process tree, as for every outside target.
        reply["mem_rss_bytes"] = reply.pop("rss_bytes")
        return {**reply, "heap_source": self.name}
