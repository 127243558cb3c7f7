"""The few lines `memgate run` prints about a result (the file has everything)."""

from __future__ import annotations

from typing import Any

from analysis import diff
from analysis.units import format_bytes, format_number


def _endpoint_text(cfg: dict[str, Any]) -> str:
    mix = cfg.get("endpoints") or []
    if len(mix) > 1:
        return " + ".join(f"{e['path']} x{e['weight']}" for e in mix)
    return cfg["endpoint"]


def _target_text(cfg: dict[str, Any]) -> str:
    """refserver's allocator and copy strategy; for any other target, what it is."""
    return diff.target_label(cfg) or f"{cfg['allocator']}, copy={cfg['copy']}"


def render_summary(result: dict[str, Any]) -> str:
    """What `memgate run` prints about one result: the config, the headline figures, the warnings."""
    cfg = result["config"]
    head = (f"scenario {result['scenario']['name']} ({cfg['protocol']}, {_target_text(cfg)}, "
            f"{cfg['method']} {_endpoint_text(cfg)}, {len(result['replicates'])} replicate(s))")
    if result["status"] != "ok":
        f = result["failure"]
        lines = [head, f"  FAILED ({f['kind']}): {f['message']}"]
        tail = (f.get("server_stderr_tail") or "").strip()
        if tail:
            lines.append("  server stderr tail: " + tail.splitlines()[-1][:300])
        return "\n".join(lines)
    m = result["metrics"]
    lines = [
        head,
        f"  {format_number(m['requests_completed'])} requests in {m['elapsed_s']:.2f} s "
        f"({format_number(m['requests_per_s'])} req/s, p99 {format_number(m['latency_p99_us'])} us), "
        f"{format_number(m['client_failures'])} client failures",
        f"  live heap \u0394 {format_bytes(m['live_heap_delta_bytes'], signed=True)} "
        f"({m['live_heap_bytes_per_request']:.2f} B/request), RSS \u0394 {format_bytes(m['rss_delta_bytes'], signed=True)}, "
        f"before trim {format_bytes(m['rss_before_trim_delta_bytes'], signed=True)}, "
        f"peak {format_bytes(m['peak_rss_bytes'])} ({format_bytes(m['peak_rss_growth_bytes'], signed=True)}), "
        f"VmHWM {format_bytes(m['vm_hwm_bytes'])}",
        f"  writes/response {format_number(m['write_calls_per_response'], digits=2)}, "
        f"bytes copied/response {format_bytes(m['bytes_copied_per_response'])}, "
        f"peak RSS \u0394 per connection {format_bytes(m.get('peak_rss_growth_per_connection_bytes'))}",
    ]
    if m.get("held_connections"):
        lines.append(f"  {format_number(m['held_connections'])} idle connections held: "
                     f"RSS {format_bytes(m['rss_per_held_connection_bytes'])} and live heap "
                     f"{format_bytes(m['live_heap_per_held_connection_bytes'])} per connection")
    if m.get("requests_cancelled"):
        lines.append(f"  {format_number(m['requests_cancelled'])} responses cancelled by the client")
    if m.get("loopback_tcp_bytes_per_s"):
        lines.append(f"  moved {format_bytes(m['transfer_bytes_per_s'])}/s, {m['throughput_vs_loopback']:.2f} x the loopback "
                     f"TCP limit measured in this run ({format_bytes(m['loopback_tcp_bytes_per_s'])}/s)")
    for w in result.get("warnings") or []:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)
