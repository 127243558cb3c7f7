"""A scenario's target, not yet started: refserver from its keys, or the [target] table's command or attach."""

from __future__ import annotations

from typing import Any, Callable

from harness.driver import heapshim
from harness.driver.binaries import binary, server_binary
from harness.driver.server import RefServer
from harness.driver.targets.attach import AttachTarget
from harness.driver.targets.command import CommandTarget
from harness.driver.targets.heap import HeapSource, MemEndpointHeap, NoHeap, ShimHeap

Wrap = Callable[[list[str], dict[str, str]], tuple[list[str], dict[str, str]]]


def server_argv(binary_path: str, config: dict[str, Any], tls_files: tuple[str, str] | None) -> list[str]:
    argv = [binary_path, "--host", "127.0.0.1", "--port", "0", "--threads", str(config["server_threads"]),
            f"--copy={config['copy']}", f"--request-body={config['request_body']}", *config["server_args"]]
    if tls_files:
        argv += ["--tls-cert", tls_files[0], "--tls-key", tls_files[1]]
    return argv


def _heap_source(spec: dict[str, Any], protocol: str) -> HeapSource:
    if spec["heap"] == "shim":
        return ShimHeap(binary(heapshim.LIBRARY_NAME))
    if spec["heap"] == "mem_endpoint":
        return MemEndpointHeap(protocol)
    return NoHeap()


def make_target(config: dict[str, Any], env: dict[str, str], cpus: set[int] | None,
                tls_files: tuple[str, str] | None, wrap: Wrap | None, *,
                join_cgroup: Callable[[], None] | None = None):
    """RefServer, CommandTarget (prepared: port, workdir, argv, env) or AttachTarget; start() is the caller's."""
    spec, protocol = config["target"], config["protocol"]
    if spec["kind"] == "refserver":
        argv, server_env = server_argv(server_binary(config["allocator"]), config, tls_files), env
        if wrap:
            argv, server_env = wrap(list(argv), dict(env))
        return RefServer(argv, tls=tls_files is not None, env=server_env, cpus=cpus, join_cgroup=join_cgroup)
    heap = _heap_source(spec, protocol)
    if spec["kind"] == "attach":
        target = AttachTarget(spec, protocol, heap)
    else:
        target = CommandTarget(spec, protocol, env, cpus, heap, tls_files, join_cgroup)
        try:
            target.prepare(wrap)
        except BaseException:
            target.cleanup()
            raise
    return target
