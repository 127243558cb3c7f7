"""jemalloc heap profiling: dump parsing and un-sampling, and the must-haves on refserver-jemalloc."""

import math

import pytest

from harness.driver import binaries, scenario as scenario_mod
from harness.driver.conftest import assert_no_strays
from harness.profile import jemalloc_prof, profile_run, report

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
               for a in argv)


@pytest.fixture(scope="module")
def jemalloc_server():
    try:
        return binaries.server_binary("jemalloc")
    except binaries.MissingBinary as e:
        pytest.fail(str(e), pytrace=False)


def test_jemalloc_attributes_the_buffered_copy_and_the_leak(jemalloc_server, tmp_path):
    small = [("allocator", "jemalloc"), ("endpoint", "/bytes/262144"), ("requests", 1500), ("warmup_requests", 200),
             ("sample_interval_ms", 200)]
    base, r1 = profile_run(scenario_mod.load(None, small + [("copy", "writev"), ("name", "jw")]), "jemalloc",
                           str(tmp_path / "w"))
    cand, r2 = profile_run(scenario_mod.load(None, small + [("copy", "buffered"), ("name", "jb"),
                                                            ("server_args", ["--inject-leak=64"])]),
                           "jemalloc", str(tmp_path / "b"))
    assert_no_strays(r1)
    assert_no_strays(r2)
    d = report.diff(base, cand)
    assert d["grew_bytes_per_request"][0]["site"].startswith("memgate::http2::session::send_body_buffered"), \
        report.render_diff(d, md=False)
    assert cand["top"]["live"][0] == "memgate::app::leak_heap_bytes(unsigned long)", report.render_tables(cand, md=False)
    leak = next(r for r in cand["sites"] if r["site"] == "memgate::app::leak_heap_bytes(unsigned long)")
    # sampled: an estimate of 64 B per request over every request served (warm-up included)
    assert 40 <= leak["bytes_per_request"] <= 90, leak
    assert cand["profiler"]["name"] == "jemalloc" and "lg_prof_sample:10" in cand["profiler"]["sampling"]
