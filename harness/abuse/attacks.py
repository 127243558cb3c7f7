"""The attack cases `memgate abuse` runs, by name: h2_attacks.py and h1_attacks.py hold them,
attacker.py what they share."""

from __future__ import annotations

from harness.abuse.h1_attacks import oversized_h1_headers, pipelining_flood, slowloris, smuggling
from harness.abuse.h2_attacks import (continuation_flood, hpack_bomb, ping_flood, rapid_reset, settings_flood,
                                      stream_flood, useless_frames, zero_window)

CASES = {
    "rapid_reset": rapid_reset,
    "continuation_flood": continuation_flood,
    "hpack_bomb": hpack_bomb,
    "settings_flood": settings_flood,
    "ping_flood": ping_flood,
    "zero_window": zero_window,
    "stream_flood": stream_flood,
    "useless_frames": useless_frames,
    "slowloris": slowloris,
    "oversized_h1_headers": oversized_h1_headers,
    "smuggling": smuggling,
    "pipelining_flood": pipelining_flood,
}
