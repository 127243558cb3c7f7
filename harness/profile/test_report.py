"""Stack trimming, ranking, the diff and rendering, on synthetic data (no server)."""

from harness.profile import report
from harness.profile.report import Frame, Site


def test_trim_keeps_memgate_and_nghttp2_frames_and_drops_allocator_std_asio():
    stack = [Frame("malloc"), Frame("operator new(unsigned long)"), Frame("memgate::metrics::(anonymous namespace)::nghttp2_malloc(unsigned long, void*)"),
             Frame("nghttp2_mem_malloc"), Frame("std::vector<char>::_M_realloc_insert()"),
             Frame("nghttp2_submit_data"), Frame("boost::asio::detail::scheduler::run()"),
             Frame("memgate::http2::session::send_body(int)"), Frame("main")]
    key, kept = report.trim_stack(stack)
    assert key == "nghttp2_submit_data"
    assert [f.func for f in kept] == ["nghttp2_submit_data", "memgate::http2::session::send_body(int)"]


def test_trim_does_not_take_memgate_template_arguments_for_memgate_code():
    f = Frame("void boost::asio::detail::executor_function::complete<memgate::app::x>(void*)")
    assert report.trim_stack([Frame("malloc"), f, Frame("memgate::app::memory_sampler::sample(bool)")])[0] == \
        "memgate::app::memory_sampler::sample(bool)"
    key, kept = report.trim_stack([Frame("malloc"), f, Frame("start_thread", module="/lib/libc.so.6")])
    assert key.startswith("void boost::asio::detail::executor_function::complete<memgate::app::x>") and kept


def test_site_rows_rank_and_scale():
    a = Site("a", [Frame("memgate::a()")])
    a.add({"allocs": 2, "bytes": 2000, "live_growth_bytes": 0}, a.stack)
    b = Site("b", [Frame("memgate::b()")])
    b.add({"allocs": 10, "bytes": 100, "live_growth_bytes": 640, "live_growth_count": 10}, b.stack)
    rows = report.site_rows({"a": a, "b": b}, requests=10)
    assert [r["site"] for r in report.rank(rows, "bytes_per_request")] == ["a", "b"]
    assert [r["site"] for r in report.rank(rows, "allocs_per_request")] == ["b", "a"]
    assert [r["site"] for r in report.rank(rows, "live_growth_bytes")] == ["b"]
    scaled = report.site_rows({"a": a}, requests=10, scale=4.0)
    assert scaled[0]["bytes_per_request"] == 800.0


def _profile(rows, label):
    meta = {"label": label, "scenario": label, "requests": 10, "profiler": {"name": "heaptrack", "sampling": "none"}}
    return report.build_profile(meta, rows)


def _row(site, bpr, apr, live):
    return {"site": site, "stack": [{"function": site}], "allocs": int(apr * 10), "bytes": int(bpr * 10),
            "allocs_per_request": apr, "bytes_per_request": bpr, "live_growth_bytes": live, "live_growth_count": 0,
            "live_end_bytes": max(live, 0)}


def test_diff_ranks_growth_and_ignores_noise_and_negative_baselines():
    base = _profile([_row("hdr", 1000, 4, 0), _row("conn", 34, 0.01, -100000)], "writev")
    cand = _profile([_row("hdr", 1000.4, 4.001, 0), _row("conn", 34, 0.01, 0), _row("body", 262144, 2, 0),
                     _row("leak", 64, 1, 64000)], "buffered")
    d = report.diff(base, cand)
    assert [r["site"] for r in d["grew_bytes_per_request"]] == ["body", "leak"]
    assert d["grew_bytes_per_request"][0]["new_site"]
    assert [r["site"] for r in d["grew_allocs_per_request"]] == ["body", "leak"]
    assert [r["site"] for r in d["grew_live"]] == ["leak"]
    md = report.render_markdown(cand, d)
    assert "Sites that grew: bytes allocated per request" in md and "`body` (new)" in md
    assert "Top 5 by allocations per request" in md
    assert "body" in report.render_diff(d, md=False)


def test_short_func_collapses_templates():
    assert report._short_func("void memgate::f<boost::x<int>>(memgate::y<char>&)") == "void memgate::f<...>(memgate::y<...>&)"
