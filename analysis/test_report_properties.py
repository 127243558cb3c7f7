"""Property: the report (numbers, markdown, HTML, JSON) and run's summary render results whose
figures are extreme (0, negative, NaN, infinite, 2^63, the smallest float) without crashing."""
import copy
import json
import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import report
from analysis.render import html as html_render
from analysis.render import markdown as md_render
from analysis.render.summary import render_summary

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TESTDATA = os.path.join(os.path.dirname(__file__), "testdata")
EXTREMES = [0, 0.0, -1, -(1 << 63), 1 << 63, (1 << 64) + 1, math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324]


def _result(*path: str) -> dict:
    with open(os.path.join(TESTDATA, *path), encoding="utf-8") as f:
        return json.load(f)


BASE, CAND = _result("report", "baseline", "r-leak.json"), _result("report", "candidate", "r-leak.json")
RUN = _result("baseline_writev.json")  # as `memgate run` writes it: every figure the summary prints


def _numeric_leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _numeric_leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _numeric_leaves(v, (*path, i))
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and path[0] in (
            "metrics", "replicates", "noise"):
        yield path


def _with(result: dict, changes: dict) -> dict:
    out = copy.deepcopy(result)
    for path, value in changes.items():
        holder = out
        for k in path[:-1]:
            holder = holder[k]
        holder[path[-1]] = value
    return out


def _changes(result: dict) -> st.SearchStrategy:
    leaves = list(_numeric_leaves(result))
    some = st.dictionaries(st.sampled_from(leaves), st.sampled_from(EXTREMES), max_size=40)
    every = st.sampled_from(EXTREMES).map(lambda v: dict.fromkeys(leaves, v))  # every figure the same extreme
    return some | every


def _side(result: dict) -> dict:
    return {"path": "<generated>", "kind": "file", "results": {result["scenario"]["name"]: result}, "not_run": []}


@SETTINGS
@given(_changes(BASE), _changes(CAND))
def test_the_report_renders_extreme_figures(base_changes, cand_changes):
    base, cand = _with(BASE, base_changes), _with(CAND, cand_changes)
    data = report.build_report(_side(base), _side(cand))
    assert md_render.render(data)
    assert "</html>" in html_render.render(data)
    assert report.to_json(data)


@SETTINGS
@given(_changes(RUN))
def test_the_run_summary_renders_extreme_figures(changes):
    assert render_summary(_with(RUN, changes))
