"""jemalloc heap profiling: dump parsing and un-sampling, and the must-haves on refserver-jemalloc."""

import math
import os

import pytest

from analysis import profile as profile_data
from analysis.render import profile as profile_render
from harness.driver import binaries, scenario as scenario_mod
from harness.driver.conftest import assert_no_strays
from harness.profile import jemalloc_prof
from harness.profile.run import profile_run
from harness.profile.test_heaptrack import FRESH_BUFFER

LEAK = "memgate::app::leak_heap_bytes(unsigned long, memgate::leak_via)"

DUMP = """heap_v2/1024
  t*: 3: 200 [10: 5000]
  t0: 3: 200 [10: 5000]
@ 0x1010 0x2020
  t*: 2: 128 [4: 256]
  t0: 2: 128 [4: 256]
@ 0x1030
  t*: 0: 0 [1: 262144]

MAPPED_LIBRARIES:
00001000-00002000 r-xp 00000000 fe:00 1 /bin/true
"""


def test_parse_dump_and_unsample():
    d = jemalloc_prof.parse_dump(DUMP)
    assert d["rate"] == 1024
    assert d["stacks"] == [([0x1010, 0x2020], 2, 128, 4, 256), ([0x1030], 0, 0, 1, 262144)]
    assert d["maps"] == [(0x1000, 0x2000, 0, "/bin/true")]
    objs, nbytes = jemalloc_prof.unsample(2, 128, 1024)
    ratio = 1 / (1 - math.exp(-64 / 1024))
    assert objs == pytest.approx(2 * ratio) and nbytes == pytest.approx(128 * ratio)
    assert jemalloc_prof.unsample(1, 262144, 1024) == pytest.approx((1.0, 262144.0))
    assert jemalloc_prof.unsample(0, 0, 1024) == (0.0, 0.0)
    with pytest.raises(ValueError):
        jemalloc_prof.parse_dump("heap_v1\n")


def test_malloc_conf_goes_through_env():
    argv, env = jemalloc_prof.wrap(["/bin/server"], {}, "/tmp/x/jeprof.n")
    assert argv[0].endswith("env") and argv[-1] == "/bin/server"
    assert any(a.startswith("MALLOC_CONF=prof:true") and "prof_final:true" in a and "lg_prof_sample:10" in a
               and "prof_gdump:false" in a for a in argv)
    argv, _ = jemalloc_prof.wrap(["/bin/server"], {}, "/tmp/x/jeprof.n", ctl_fifo="/tmp/x/fifo")
    assert any(a.startswith("LD_PRELOAD=") and "libmemgate_jeprof_ctl" in a for a in argv)
    assert f"{jemalloc_prof.CTL_ENV}=/tmp/x/fifo" in argv


def test_window_stacks_subtract_start_from_end():
    start = jemalloc_prof.parse_dump(DUMP)
    end = jemalloc_prof.parse_dump(DUMP.replace("t*: 2: 128 [4: 256]", "t*: 5: 320 [9: 576]")
                                   .replace("t*: 0: 0 [1: 262144]", "t*: 0: 0 [3: 786432]"))
    w = jemalloc_prof.window_stacks(start, end)
    r = 1 / (1 - math.exp(-64 / 1024))
    assert w[(0x1010, 0x2020)] == pytest.approx([3 * r, 192 * r, 5 * r, 320 * r])  # live grew by 3, 5 allocated
    assert w[(0x1030,)] == pytest.approx([0, 0, 2, 524288])  # two more 256 KiB buffers, none live


def test_dump_control_library_answers_through_its_fifo(tmp_path):
    """The preloaded thread takes a path from the FIFO; outside a jemalloc process it reports the failure."""
    import subprocess
    dumps = jemalloc_prof.WindowDumps(str(tmp_path), "t")
    argv, env = jemalloc_prof.wrap(["sleep", "20"], {}, str(tmp_path / "jeprof.t"), ctl_fifo=dumps.fifo)
    proc = subprocess.Popen([a for a in argv if not a.startswith("MALLOC_CONF=")], env=env)
    try:
        with pytest.raises(jemalloc_prof.JemallocProfError, match="no mallctl"):
            for _ in range(200):  # until the control thread has opened the FIFO
                try:
                    dumps.dump(str(tmp_path / "x.heap"), timeout_s=5)
                    break
                except jemalloc_prof.JemallocProfError as e:
                    if "not listening" not in str(e):
                        raise
    finally:
        proc.kill()
        proc.wait()
        dumps.close()
    assert not os.path.exists(dumps.fifo)


@pytest.fixture(scope="module")
def jemalloc_server():
    try:
        return binaries.server_binary("jemalloc")
    except binaries.MissingBinary as e:
        pytest.fail(str(e), pytrace=False)


def test_jemalloc_attributes_the_buffered_copy_and_the_leak_in_the_window(jemalloc_server, tmp_path):
    # The leak's figures are sampled (one sample per 1 KiB on average): 6,000 requests give ~370 samples of the
    # 64 B leak, a spread of ~5 %, so the +-30 % bounds below sit ~6 sigma out. At 1,500 requests (~90 samples)
    # one run in a few hundred fell outside them.
    requests = 6000
    small = [("allocator", "jemalloc"), ("endpoint", "/bytes/262144"), ("requests", requests), ("warmup_requests", 300),
             ("sample_interval_ms", 200)]
    base, r1 = profile_run(scenario_mod.load(None, small + [("copy", "writev"), ("name", "jw")]), "jemalloc",
                           str(tmp_path / "w"))
    cand, r2 = profile_run(scenario_mod.load(None, small + [("copy", "buffered"), ("name", "jb"),
                                                            ("server_args", ["--inject-leak=64"])]),
                           "jemalloc", str(tmp_path / "b"))
    assert_no_strays(r1)
    assert_no_strays(r2)
    assert cand["window"]["mode"] == "window_dumps", cand["window"]
    d = profile_data.diff(base, cand)
    site = FRESH_BUFFER if cand["debug_info"] else "memgate::http2::session::send_body"
    top = d["grew_bytes_per_request"][0]
    assert top["site"].startswith(site), profile_render.render_diff(d, md=False)
    assert d["rows"][0]["site"] == top["site"]
    assert any(f["function"].startswith("memgate::http2::session::send_body") for f in top["stack"])
    assert cand["top"]["live"][0] == LEAK, profile_render.render_tables(cand, md=False)
    leak = next(r for r in cand["sites"] if r["site"] == LEAK)
    # sampled estimates over the measured window only (warm-up excluded): 64 B per request, all still live
    assert 40 <= leak["bytes_per_request"] <= 90, leak
    assert 0.7 * 64 * requests <= leak["live_growth_bytes"] <= 1.3 * 64 * requests, leak
    if cand["debug_info"]:
        assert profile_render.site_where(leak).startswith("fault_injection.cpp:") and profile_render.site_where(top).startswith("fresh_buffer.hpp:")
    assert cand["profiler"]["name"] == "jemalloc" and "lg_prof_sample:10" in cand["profiler"]["sampling"]
