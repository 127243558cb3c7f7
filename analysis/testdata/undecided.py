"""A baseline/candidate pair the gate leaves UNDECIDED, made from the report fixtures' r-steady pair:
one candidate replicate's peak RSS growth sits midway between the limit without the noise
allowance and the limit with it."""

from __future__ import annotations

import copy
import json
import os

from analysis import gate

REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report")
METRIC = "peak_rss_growth_bytes"


def _load(side: str, name: str) -> dict:
    with open(os.path.join(REPORT, side, f"{name}.json"), encoding="utf-8") as f:
        return json.load(f)


def undecided_pair() -> tuple[dict, dict]:
    baseline, candidate = _load("baseline", "r-steady"), copy.deepcopy(_load("candidate", "r-steady"))
    check = next(c for c in gate.evaluate(baseline, candidate).checks if c.metric == METRIC)
    candidate["replicates"][0]["metrics"][METRIC] = (check.strict_limit + check.limit) / 2
    assert gate.evaluate(baseline, candidate).verdict == "UNDECIDED"
    return baseline, candidate


def regression_pair() -> tuple[dict, dict]:
    """The fixtures' r-leak pair: a regression on live heap."""
    return _load("baseline", "r-leak"), _load("candidate", "r-leak")
