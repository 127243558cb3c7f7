"""Stack trimming, ranking, the diff and rendering, on synthetic data (no server)."""

import re

from analysis import profile as profile_data
from analysis.cxx_names import short_name
from analysis.render import flame, profile as profile_render, profile_html
from harness.profile import sites
from harness.profile.sites import Frame, Site


def test_trim_keeps_memgate_and_nghttp2_frames_and_drops_allocator_std_asio():
    stack = [Frame("malloc"), Frame("operator new(unsigned long)"), Frame("memgate::metrics::(anonymous namespace)::nghttp2_malloc(unsigned long, void*)"),
             Frame("nghttp2_mem_malloc"), Frame("std::vector<char>::_M_realloc_insert()"),
             Frame("nghttp2_submit_data"), Frame("boost::asio::detail::scheduler::run()"),
             Frame("memgate::http2::session::send_body(int)"), Frame("main")]
    key, kept = sites.trim_stack(stack)
    assert key == "nghttp2_submit_data"
    assert [f.func for f in kept] == ["nghttp2_submit_data", "memgate::http2::session::send_body(int)"]


def test_trim_does_not_take_memgate_template_arguments_for_memgate_code():
    f = Frame("void boost::asio::detail::executor_function::complete<memgate::app::x>(void*)")
    assert sites.trim_stack([Frame("malloc"), f, Frame("memgate::app::memory_sampler::sample(bool)")])[0] == \
        "memgate::app::memory_sampler::sample(bool)"
    key, kept = sites.trim_stack([Frame("malloc"), f, Frame("start_thread", module="/lib/libc.so.6")])
    assert key.startswith("void boost::asio::detail::executor_function::complete<memgate::app::x>") and kept


def test_site_rows_rank_and_scale():
    a = Site("a", [Frame("memgate::a()")])
    a.add({"allocs": 2, "bytes": 2000, "live_growth_bytes": 0}, a.stack)
    b = Site("b", [Frame("memgate::b()")])
    b.add({"allocs": 10, "bytes": 100, "live_growth_bytes": 640, "live_growth_count": 10}, b.stack)
    rows = sites.site_rows({"a": a, "b": b}, requests=10)
    assert [r["site"] for r in profile_data.rank(rows, "bytes_per_request")] == ["a", "b"]
    assert [r["site"] for r in profile_data.rank(rows, "allocs_per_request")] == ["b", "a"]
    assert [r["site"] for r in profile_data.rank(rows, "live_growth_bytes")] == ["b"]
    scaled = sites.site_rows({"a": a}, requests=10, scale=4.0)
    assert scaled[0]["bytes_per_request"] == 800.0


def _profile(rows, label):
    meta = {"label": label, "scenario": label, "requests": 10, "profiler": {"name": "heaptrack", "sampling": "none"}}
    return profile_data.build_profile(meta, rows)


def _row(site, bpr, apr, live):
    return {"site": site, "stack": [{"function": site}], "allocs": int(apr * 10), "bytes": int(bpr * 10),
            "allocs_per_request": apr, "bytes_per_request": bpr, "live_growth_bytes": live, "live_growth_count": 0,
            "live_end_bytes": max(live, 0)}


def test_diff_ranks_growth_and_ignores_noise_and_negative_baselines():
    base = _profile([_row("hdr", 1000, 4, 0), _row("conn", 34, 0.01, -100000)], "writev")
    cand = _profile([_row("hdr", 1000.4, 4.001, 0), _row("conn", 34, 0.01, 0), _row("body", 262144, 2, 0),
                     _row("leak", 64, 1, 64000)], "buffered")
    d = profile_data.diff(base, cand)
    assert [r["site"] for r in d["grew_bytes_per_request"]] == ["body", "leak"]
    assert d["grew_bytes_per_request"][0]["new_site"]
    assert [r["site"] for r in d["grew_allocs_per_request"]] == ["body", "leak"]
    assert [r["site"] for r in d["grew_live"]] == ["leak"]
    md = profile_render.render_markdown(cand, d)
    assert "Sites that grew: bytes allocated per request" in md and "`body` (new)" in md
    assert "Top 5 by allocations per request" in md
    assert "body" in profile_render.render_diff(d, md=False)


def test_short_func_collapses_templates():
    assert short_name("void memgate::f<boost::x<int>>(memgate::y<char>&)", 160) == "void memgate::f<...>(memgate::y<...>&)"


def test_a_block_from_the_free_lists_is_keyed_by_who_asked_for_it():
    stack = [Frame("malloc"), Frame("memgate::pool::take(unsigned long)", "/src/server/pool/free_lists.cpp", 60),
             Frame("memgate::http2::(anonymous namespace)::allocate(unsigned long)", "/src/server/http2/nghttp2_memory.cpp", 27),
             Frame("nghttp2_mem_malloc"), Frame("nghttp2_session_open_stream"),
             Frame("memgate::http2::session::receive(int)", "/src/server/http2/session.cpp", 104)]
    assert sites.trim_stack(stack)[0] == "nghttp2_session_open_stream"
    made = [Frame("malloc"), Frame("memgate::pool::take(unsigned long)", "/src/server/pool/free_lists.cpp", 60),
            Frame("memgate::pool::make<memgate::http2::stream_state>()", "/src/server/pool/free_lists.hpp", 50),
            Frame("memgate::http2::session::on_begin_headers(int)", "/src/server/http2/session.cpp", 184)]
    assert sites.trim_stack(made)[0] == "memgate::http2::session::on_begin_headers(int)"


def test_trim_drops_hooks_by_file_and_leads_with_the_beast_call():
    # the counting core's static helpers carry no namespace: dropped by their source file
    hook = Frame("note_allocated", "/src/harness/heapshim/heapshim.c", 160)
    key, kept = sites.trim_stack([Frame("malloc"), hook, Frame("nghttp2_submit_response"),
                                   Frame("memgate::http2::session::submit(int)", "/src/server/http2/session.cpp", 215)])
    assert key == "nghttp2_submit_response"
    stack = [Frame("operator new(unsigned long)"), Frame("std::vector<char>::reserve(unsigned long)", "vector.tcc", 79),
             Frame("boost::beast::http::basic_fields<std::allocator<char> >::new_element(int)", "fields.hpp", 1000),
             Frame("boost::beast::http::basic_fields<std::allocator<char> >::set(int)", "fields.hpp", 599),
             Frame("memgate::http1::session<x>::make_message(int)", "/src/server/http1/session.cpp", 140),
             Frame("memgate::http1::session<x>::make_message(int)", "/src/server/http1/session.cpp", 141),
             Frame("boost::asio::detail::scheduler::run()"),
             Frame("memgate::http1::session<x>::respond(int)", "/src/server/http1/session.cpp", 171)]
    key, kept = sites.trim_stack(stack)
    assert key == "memgate::http1::session<x>::make_message(int)"
    # the Beast API memgate called, then memgate frames (a repeated frame once), no std:: or asio
    assert [(f.func.split("(")[0], f.line) for f in kept] == [
        ("boost::beast::http::basic_fields<std::allocator<char> >::set", 599),
        ("memgate::http1::session<x>::make_message", 140), ("memgate::http1::session<x>::respond", 171)]
    row = sites.site_rows({key: _site(key, kept, 10, 1000)}, requests=10)[0]
    assert profile_render.site_where(row) == "session.cpp:140"
    via, callers = profile_render.split_stack(row)
    assert [f["line"] for f in via] == [599] and [f["line"] for f in callers] == [171]


def _site(key, frames, allocs, nbytes, live=0):
    s = Site(key, frames)
    s.add({"allocs": allocs, "bytes": nbytes, "live_growth_bytes": live}, frames)
    return s


def _f(func, file=None, line=None):
    return {"function": func, "file": file, "line": line}


def _synthetic_pair():
    """writev-like baseline, buffered-plus-leak candidate: the buffer reached from two h1 call paths."""
    body = "memgate::strategy::fresh_buffer::fresh_buffer(unsigned long)"
    respond = _f("memgate::http1::session<x>::respond()", "/s/server/http1/session.cpp", 179)
    chunk = _f("memgate::http1::session<x>::send_chunk()", "/s/server/http1/session.cpp", 245)
    top = _f("memgate::http1::session<x>::on_read()", "/s/server/http1/session.cpp", 78)
    fb = _f(body, "/s/server/strategy/response_copy.hpp", 22)
    leak = "memgate::app::leak_heap_bytes(unsigned long)"
    base = _profile([_row("hdr", 300, 3, 0)], "writev")
    cand_rows = [_row("hdr", 300, 3, 0), _row(leak, 64, 1, 640)]
    cand_rows[1]["stack"] = [_f(leak, "/s/server/app/fault_injection.cpp", 17), top]
    buf = _row(body, 65600, 2, 0)
    buf["stack"] = [fb, respond, top]
    buf["paths"] = [{"stack": [fb, respond, top], "allocs": 15, "bytes": 491_000, "live_growth_bytes": 0},
                    {"stack": [fb, chunk, top], "allocs": 5, "bytes": 165_000, "live_growth_bytes": 0}]
    cand_rows.append(buf)
    return base, _profile(cand_rows, "buffered")


def test_report_md_ranks_the_growing_sites_in_one_short_table():
    base, cand = _synthetic_pair()
    d = profile_data.diff(base, cand)
    assert [r["site"] for r in d["rows"]] == ["memgate::strategy::fresh_buffer::fresh_buffer(unsigned long)",
                                             "memgate::app::leak_heap_bytes(unsigned long)"]
    md = profile_render.render_report_md(d)
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| #")]
    assert len(rows) == 2
    assert rows[0].startswith("| 1 | `memgate::strategy::fresh_buffer::fresh_buffer(unsigned long)` (new) | response_copy.hpp:22 |")
    assert "memgate::http1::session<...>::respond (session.cpp:179) <- memgate::http1::session<...>::on_read (session.cpp:78)" in rows[0]
    assert "| 0 B -> 64.1 KiB | +64.1 KiB | 0.000 -> 2.000 | +2.000 |" in rows[0]
    assert rows[1].startswith("| 2 | `memgate::app::leak_heap_bytes(unsigned long)` (new) | fault_injection.cpp:17 |")
    assert rows[1].endswith("| 0 B -> 640 B | +640 B |")


def test_growth_tree_splits_a_site_among_its_call_paths():
    d = profile_data.diff(*_synthetic_pair())
    tree = profile_data.growth_tree(d, "bytes_per_request")
    assert tree["value"] == 65600 + 64
    (on_read,) = tree["children"]  # one outermost frame, then the callers in order of growth
    assert on_read["name"].startswith("memgate::http1::session<x>::on_read") and on_read["where"] == "session.cpp:78"
    kids = [(c["name"].split("::")[-1], round(c["value"])) for c in on_read["children"]]
    assert kids == [("respond()", round(65600 * 491 / 656)), ("send_chunk()", round(65600 * 165 / 656)),
                    ("leak_heap_bytes(unsigned long)", 64)]
    leaf = on_read["children"][0]["children"][0]
    assert leaf["site"].startswith("memgate::strategy::fresh_buffer") and leaf["new_site"] and not leaf["children"]
    assert leaf["self"] == leaf["value"]
    live = profile_data.growth_tree(d, "live")
    assert live["value"] == 640 and live["children"][0]["children"][0]["site"].startswith("memgate::app::leak_heap_bytes")


def test_report_html_is_self_contained_with_the_table_and_icicles():
    d = profile_data.diff(*_synthetic_pair())
    page = profile_html.render_profile_diff(profile_data.diff_views(d))
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"<script|<link|@import|src=|url\(", page)  # nothing to fetch, nothing to run
    assert set(re.findall(r"https?://[^\s\"']+", page)) <= {"http://www.w3.org/2000/svg"}
    table = page.split('<table class="growth">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 3 and "fresh_buffer::fresh_buffer(unsigned long)" in table and "response_copy.hpp:22" in table
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="icicle"') == 3  # bytes/req, allocs/req, live
    first = page.split('class="icicle"', 2)[1]
    # every frame of the bytes/request tree drawn: root, on_read, respond, send_chunk, leak, 2 x fresh_buffer
    assert first.count("<rect") == 7 and first.count('class="site"') == 3
    assert "at response_copy.hpp:22" in first and "the allocation site (new in the candidate)" in first
    frames, hidden = flame.layout(profile_data.growth_tree(d, "bytes_per_request"), 1000)
    assert hidden == 0 and frames[0]["w"] == 1000 and max(f["row"] for f in frames) == 3
    respond = next(f for f in frames if f["node"]["name"].endswith("respond()"))
    chunk = next(f for f in frames if f["node"]["name"].endswith("send_chunk()"))
    assert respond["x"] == 0 and chunk["x"] == respond["w"] and respond["w"] > chunk["w"]
