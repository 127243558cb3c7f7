"""The loopback TCP limit on this machine, now: a raw sender/receiver pair.

Streaming throughput means little without the ceiling the kernel sets on loopback. Two
child processes, pinned like the server (sender) and the load generator (receiver),
move 1 MiB writes through one TCP connection for a fixed time; the receiver's bytes over
its elapsed time is the limit a server's streaming figure is set against.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

from harness.driver.affinity import pinned

CHUNK = 1 << 20

_RECEIVER = r"""
import json, socket, sys, time
ls = socket.create_server(("127.0.0.1", 0))
print(ls.getsockname()[1], flush=True)
ls.settimeout(10)
conn, _ = ls.accept()
buf = bytearray(%(chunk)d)
view = memoryview(buf)
total = conn.recv_into(view)
t0 = time.monotonic()
while True:
    n = conn.recv_into(view)
    if not n:
        break
    total += n
print(json.dumps({"bytes": total, "seconds": time.monotonic() - t0}), flush=True)
"""

_SENDER = r"""
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
data = b"x" * %(chunk)d
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    s.sendall(data)
s.close()
"""


class LoopbackError(RuntimeError):
    pass


def measure(duration_s: float = 1.0, sender_cpus: set[int] | None = None,
            receiver_cpus: set[int] | None = None, connections: int = 1) -> dict[str, Any]:
    """{"bytes_per_s", "duration_s", "method", "sender_cpus", "receiver_cpus"}; raises LoopbackError.

    iperf3 when installed (the tool peers quote; as many parallel streams as the scenario
    has connections, up to 16), else the Python pair over one connection.
    """
    if shutil.which("iperf3"):
        return _iperf3(duration_s, sender_cpus, receiver_cpus, min(max(connections, 1), 16))
    return _python_pair(duration_s, sender_cpus, receiver_cpus)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _iperf3(duration_s: float, sender_cpus: set[int] | None, receiver_cpus: set[int] | None,
            streams: int) -> dict[str, Any]:
    port = str(_free_port())
    srv_argv, srv_pre = pinned(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", port], receiver_cpus)
    server = subprocess.Popen(srv_argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=srv_pre,
                              close_fds=True)
    try:
        cli_argv, cli_pre = pinned(["iperf3", "-c", "127.0.0.1", "-p", port, "-t", str(max(1, round(duration_s))), "-P", str(streams), "-J"], sender_cpus)
        for _ in range(50):  # the server needs a moment to listen; iperf3 -J may exit 0 on errors
            client = subprocess.run(cli_argv, capture_output=True, text=True, preexec_fn=cli_pre,
                                    timeout=duration_s + 15, close_fds=True)
            report = json.loads(client.stdout)
            if "error" not in report or server.poll() is not None:
                break
            time.sleep(0.05)
        if "error" in report:
            raise LoopbackError(f"iperf3 failed: {report['error']}")
        received = report["end"]["sum_received"]
    except (subprocess.TimeoutExpired, json.JSONDecodeError, KeyError, OSError) as e:
        raise LoopbackError(f"loopback TCP measurement (iperf3) failed: {type(e).__name__}: {e}") from None
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()
    return _figures(received["bits_per_second"] / 8, received["seconds"],
                    f"iperf3, {streams} TCP connection(s), client (sender) and server (receiver) pinned like refserver and loadgen",
                    sender_cpus, receiver_cpus)


def _python_pair(duration_s: float, sender_cpus: set[int] | None, receiver_cpus: set[int] | None) -> dict[str, Any]:
    recv_argv, recv_pre = pinned([sys.executable, "-c", _RECEIVER % {"chunk": CHUNK}], receiver_cpus)
    receiver = subprocess.Popen(recv_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=recv_pre,
                                text=True, close_fds=True)
    try:
        port = receiver.stdout.readline().strip()
        if not port.isdigit():
            raise LoopbackError(f"loopback receiver did not report a port: {receiver.stderr.read()[-500:]}")
        send_argv, send_pre = pinned([sys.executable, "-c", _SENDER % {"chunk": CHUNK}, port, str(duration_s)],
                                     sender_cpus)
        sender = subprocess.run(send_argv, capture_output=True, text=True, preexec_fn=send_pre,
                                timeout=duration_s + 10, close_fds=True)
        if sender.returncode != 0:
            raise LoopbackError(f"loopback sender failed: {sender.stderr[-500:]}")
        out, err = receiver.communicate(timeout=10)
        figures = json.loads(out.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError, OSError) as e:
        raise LoopbackError(f"loopback TCP measurement failed: {type(e).__name__}: {e}") from None
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
    if figures["seconds"] <= 0:
        raise LoopbackError("loopback TCP measurement moved no data")
    return _figures(figures["bytes"] / figures["seconds"], figures["seconds"],
                    "one TCP connection, 1 MiB sendall/recv_into (Python), sender and receiver pinned like server and loadgen",
                    sender_cpus, receiver_cpus)


def _figures(bytes_per_s: float, seconds: float, method: str, sender_cpus: set[int] | None,
             receiver_cpus: set[int] | None) -> dict[str, Any]:
    return {"bytes_per_s": bytes_per_s, "duration_s": round(seconds, 3), "method": method,
            "sender_cpus": sorted(sender_cpus) if sender_cpus else None,
            "receiver_cpus": sorted(receiver_cpus) if receiver_cpus else None}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
