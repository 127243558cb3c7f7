"""heaptrack: the stream parser on a synthetic stream, the phase mark, and the issue's two
must-haves end to end on refserver-glibc (buffered vs writev, the injected leak)."""

import io
import os

import pytest

from analysis import profile as profile_data
from analysis.render import profile as profile_render
from harness.driver import binaries, scenario as scenario_mod
from harness.driver.conftest import assert_no_strays
from harness.profile import heaptrack
from harness.profile.run import profile_run

# v3 interpreted stream: strings carry a hex length; a, t, i indices are hex.
STREAM = """v 10400 3
s 4 main
s e operator new(unsigned long)
s 1f memgate::app::leak_heap_bytes(unsigned long)
s 10 nghttp2_submit_data
s 12 /bin/refserver-glibc
i 10 5 1
t 1 0
i 20 5 3
t 2 1
i 30 5 2
t 3 2
i 40 5 4
t 4 1
i 50 5 2
t 5 4
a 40 3
a 100 5
c 0
+ 0
+ 1
c a
+ 0
+ 0
+ 1
- 1
+ 1
- 1
- 0
c 14
+ 0
- 1
"""


def test_parse_window_counts_allocations_and_live_growth():
    parsed = heaptrack.parse(io.StringIO(STREAM), heaptrack.Window(5, 15))
    sites = heaptrack.sites(parsed)
    leak = sites["memgate::app::leak_heap_bytes(unsigned long)"]
    data = sites["nghttp2_submit_data"]
    # window [5, 15]: the lines after "c a" (t=10), not those after "c 14" (t=20) or before "c a" (t=0)
    assert (leak.allocs, leak.bytes, leak.live_growth_bytes) == (2, 2 * 0x40, 0x40)
    assert (data.allocs, data.bytes, data.live_growth_bytes) == (2, 2 * 0x100, 0)
    assert leak.live_end_bytes == 2 * 0x40  # one from before the window, one from inside it
    assert [f.func for f in leak.stack] == ["memgate::app::leak_heap_bytes(unsigned long)"]
    whole = heaptrack.sites(heaptrack.parse(io.StringIO(STREAM), heaptrack.Window()))
    assert whole["memgate::app::leak_heap_bytes(unsigned long)"].allocs == 4


def test_inlined_frames_come_innermost_first():
    """heaptrack 1.4 writes an ip's innermost inlined frame first, the function holding the ip last."""
    stream = """v 10400 3
s 12 /bin/refserver-glibc
s 2b memgate::strategy::fresh_buffer::fresh_buffer
s f response_copy.h
s 2f memgate::http2::session::send_body(int)
s b session.cpp
s 1f std::vector<char>::reserve(int)
s 6 vector
i 10 1 6 7 4f 2 3 16 4 5 14d
t 1 0
a 40000 1
c 0
+ 0
"""
    stack = heaptrack.parse(io.StringIO(stream), heaptrack.Window())["stack_of"](1)
    assert [f.func for f in stack] == ["std::vector<char>::reserve(int)", "memgate::strategy::fresh_buffer::fresh_buffer",
                                      "memgate::http2::session::send_body(int)"]
    assert (stack[1].file, stack[1].line, stack[2].line) == ("response_copy.h", 0x16, 0x14d)
    site = heaptrack.sites(heaptrack.parse(io.StringIO(stream), heaptrack.Window()))
    assert list(site) == ["memgate::strategy::fresh_buffer::fresh_buffer"]


def test_idle_mark_is_the_middle_of_the_quiet_stretch():
    import time
    t0 = time.monotonic() - 1.0
    ms = heaptrack.idle_mark(t0, settle_s=0.02)
    assert 1005 <= ms <= 1100


def test_wrap_goes_through_env_so_taskset_is_not_traced():
    argv, env = heaptrack.wrap(["/bin/server", "--port", "0"], {"LD_PRELOAD": "/x.so"}, "/tmp/raw")
    assert argv[0].endswith("env") and argv[-3:] == ["/bin/server", "--port", "0"]
    assert any(a.startswith("LD_PRELOAD=") and a.endswith(":/x.so") and "heaptrack" in a for a in argv)
    assert "DUMP_HEAPTRACK_OUTPUT=/tmp/raw" in argv
    assert env == {"LD_PRELOAD": "/x.so"}


# -- end to end ------------------------------------------------------------------------------------
SMALL = [("endpoint", "/bytes/262144"), ("requests", 1500), ("warmup_requests", 200), ("sample_interval_ms", 200)]


@pytest.fixture(scope="module")
def glibc():
    try:
        heaptrack.locate()
    except heaptrack.HeaptrackError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        return binaries.server_binary("glibc")
    except binaries.MissingBinary as e:
        pytest.fail(str(e), pytrace=False)


def _profile(tmp_path, name, overrides):
    sc = scenario_mod.load(None, SMALL + [("name", name)] + overrides)
    prof, result = profile_run(sc, "heaptrack", str(tmp_path / name))
    assert_no_strays(result)
    assert prof["requests"] == 1500
    assert prof["window"]["events_near_boundaries"] == 0, prof["window"]
    return prof


FRESH_BUFFER = "memgate::strategy::fresh_buffer::fresh_buffer"


def expected_buffer_site(prof, protocol):
    """With DWARF (-g1, the default build) the inlined fresh_buffer is its own site on h1 and h2; without,
    h2's inlined copy shows as its caller send_body."""
    if prof["debug_info"] or protocol == "h1":
        return FRESH_BUFFER
    return "memgate::http2::session::send_body"


@pytest.mark.parametrize("protocol,caller", [
    ("h2c", "memgate::http2::session::send_body"),
    ("h1", "memgate::http1::session"),
])
def test_buffered_is_the_top_growing_site_against_writev(glibc, tmp_path, protocol, caller):
    base = _profile(tmp_path, f"writev-{protocol}", [("protocol", protocol), ("copy", "writev")])
    cand = _profile(tmp_path, f"buffered-{protocol}", [("protocol", protocol), ("copy", "buffered")])
    d = profile_data.diff(base, cand)
    site = expected_buffer_site(cand, protocol)
    top = d["grew_bytes_per_request"][0]
    assert top["site"].startswith(site), profile_render.render_diff(d, md=False)
    assert d["rows"][0]["site"] == top["site"]  # report.md's first row
    # the body-sized buffer: at least the body's 256 KiB per response, more than any other site
    assert top["d_bytes_per_request"] >= 262144, top
    assert any(f["function"].startswith(caller) for f in top["stack"]), top["stack"]
    assert cand["top"]["bytes_per_request"][0] == top["site"]
    assert not any(r["site"].startswith(site) and r["bytes_per_request"] >= 262144 for r in base["sites"])
    if cand["debug_info"]:  # file:line of the allocation: the reserve in fresh_buffer's constructor
        assert profile_render.site_where(top).startswith("fresh_buffer.hpp:"), top["stack"]
        assert not any(f["function"].startswith(("std::", "operator new", "malloc")) for f in top["stack"])


def test_injected_leak_is_its_own_site_by_live_bytes(glibc, tmp_path):
    prof = _profile(tmp_path, "leak", [("copy", "writev"), ("server_args", ["--inject-leak=64"])])
    rows = {r["site"]: r for r in prof["sites"]}
    top = prof["top"]["live"][0]
    assert top == "memgate::app::leak_heap_bytes(unsigned long, memgate::leak_via)", profile_render.render_tables(prof, md=False)
    leak = rows[top]
    assert leak["live_growth_bytes"] == 64 * 1500  # heaptrack sees every block: exact, no sampling
    assert leak["allocs_per_request"] == pytest.approx(1.0)
    if prof["debug_info"]:
        assert profile_render.site_where(leak).startswith("fault_injection.cpp:"), leak["stack"]
    assert os.path.exists(tmp_path / "leak" / "heaptrack.leak.gz")


def test_snap_to_idle_finds_the_quiet_stretch():
    ticks = [(0, 5), (10, 5), (20, 0), (30, 0), (40, 0), (50, 0), (60, 0), (70, 9), (80, 3)]
    assert heaptrack.snap_to_idle(ticks, 95) == (45.0, True)  # the quiet stretch is 20..70
    assert heaptrack.snap_to_idle(ticks, 2000) == (2000, False)
    assert heaptrack.tick_activity(io.StringIO("c 0\n+ 1\n- 1\nc a\nc 14\n+ 2\n")) == [(0.0, 0), (0.0, 2), (10.0, 0), (20.0, 1)]
