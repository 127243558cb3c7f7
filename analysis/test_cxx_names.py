from analysis.cxx_names import HTML, bare_name, brief_name, collapse_templates, short_name
from analysis.render.flame import frame_label

SIGNATURE = "void memgate::f<boost::x<int>, char>(memgate::y<char>&) const"


def test_templates_collapse_to_one_marker_per_outer_list():
    assert collapse_templates(SIGNATURE) == "void memgate::f<...>(memgate::y<...>&) const"
    assert collapse_templates("a>b") == "a>b"  # a stray '>' is kept


def test_bare_name_drops_return_type_templates_and_parameters():
    assert bare_name(SIGNATURE) == "memgate::f"
    assert bare_name("(anonymous)") == ""


def test_short_name_keeps_the_signature_and_cuts_in_its_style():
    assert short_name(SIGNATURE, 160) == "void memgate::f<...>(memgate::y<...>&) const"
    assert short_name(SIGNATURE, 20) == "void memgate::f<...." and len(short_name(SIGNATURE, 20)) == 20
    assert short_name(SIGNATURE, 20, HTML) == "void memgate::f<\u2026>(\u2026"


def test_brief_name_is_the_callers_name_alone():
    assert brief_name(SIGNATURE) == "memgate::f<...>"
    assert brief_name(SIGNATURE, 12) == "memg..."  # cut before the return type is dropped
    assert brief_name(SIGNATURE, 90, HTML) == "memgate::f<\u2026>"
    assert brief_name("") == ""
    assert frame_label(SIGNATURE) == "f<\u2026>" and frame_label("nghttp2_submit_data") == "nghttp2_submit_data"
