"""pytest plugin: memory tests in any project's own suite.

Installed (pip install, see pyproject.toml) pytest loads it itself through its pytest11 entry point; from a
checkout, load it with ``-p harness.driver.pytest_plugin`` (or ``pytest_plugins = [...]`` in a conftest).

    def test_no_leak(memgate_run):
        result = memgate_run("scenarios/default.toml", requests=5000)
        assert_growth(result, live_heap_bytes_per_request=8)

    @pytest.mark.memgate_limit(live_heap_bytes_per_request=8, peak_rss_growth_bytes=4 << 20)
    def test_bounded(memgate_run):
        memgate_run({"endpoint": "/bytes/1048576"}, requests=2000)   # every run of the test is checked

    @pytest.mark.memgate(scenario="scenarios/default.toml", requests=2000, live_heap_bytes_per_request=8)
    def test_default_scenario():   # the plugin runs the scenario before the body, then checks the bounds
        pass

Option / ini key: ``--memgate-results-dir`` / ``memgate_results_dir``: keep result JSON files there
(default: the test's tmp_path).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable

import pytest

from analysis.metrics import BY_NAME
from harness.driver import scenario as scenario_mod
from harness.driver.runner import Hooks, run_scenario
from harness.results import atomic

# Bounds assert_growth understands: metrics (analysis/metrics.py) whose growth a test may bound.
GROWTH_BOUNDS = ("live_heap_bytes_per_request", "live_heap_delta_bytes", "rss_delta_bytes", "rss_bytes_per_request",
                 "rss_before_trim_delta_bytes", "peak_rss_growth_bytes", "client_failures")


@dataclasses.dataclass
class GrowthViolation:
    metric: str
    value: float | None
    bound: float

    def long_repr(self) -> str:
        return f"{self.metric} = {self.value} {BY_NAME[self.metric].unit}, bound {self.bound}"


class MemgateRunFailed(AssertionError):
    pass


def check_growth(result: dict[str, Any], **bounds: float) -> list[GrowthViolation]:
    """The bounds a result breaks (empty if none). A failed measurement raises MemgateRunFailed."""
    unknown = set(bounds) - set(GROWTH_BOUNDS)
    if unknown:
        raise ValueError(f"unknown growth bound(s) {sorted(unknown)}; known: {sorted(GROWTH_BOUNDS)}")
    if result.get("status") != "ok":
        f = result.get("failure") or {}
        raise MemgateRunFailed(f"memgate run failed ({f.get('kind')}): {f.get('message')}")
    metrics = result["metrics"]
    out = []
    for metric, bound in bounds.items():
        value = metrics.get(metric)
        if value is None or value > bound:
            out.append(GrowthViolation(metric, value, bound))
    return out


def assert_growth(result: dict[str, Any], **bounds: float) -> None:
    """Fails with every broken bound named, its value and the bound."""
    violations = check_growth(result, **bounds)
    if violations:
        name = (result.get("scenario") or {}).get("name")
        raise AssertionError(f"memgate scenario {name}: growth bound broken: " + "; ".join(v.long_repr() for v in violations))


def _split_memgate_marker(kwargs: dict[str, Any]) -> tuple[str | None, dict[str, Any], dict[str, float]]:
    """@memgate(scenario=..., <growth bounds>, <scenario keys>) -> (scenario, overrides, bounds)."""
    rest = {k: v for k, v in kwargs.items() if k != "scenario"}
    bounds = {k: v for k, v in rest.items() if k in GROWTH_BOUNDS}
    return kwargs.get("scenario"), {k: v for k, v in rest.items() if k not in bounds}, bounds


def _check_memgate_marker(result: dict[str, Any], **kwargs: Any) -> list[GrowthViolation]:
    return check_growth(result, **_split_memgate_marker(kwargs)[2])


MARKERS: dict[str, Callable[..., list[GrowthViolation]]] = {"memgate_limit": check_growth,
                                                            "memgate": _check_memgate_marker}


class Manager:
    """Plugin state: results recorded per test item (for markers)."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.results: dict[str, list[dict[str, Any]]] = {}

    def results_dir(self, tmp_path) -> str:
        configured = self.config.getoption("memgate_results_dir") or self.config.getini("memgate_results_dir")
        return str(configured) if configured else str(tmp_path)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memgate")
    group.addoption("--memgate-results-dir", dest="memgate_results_dir", default=None,
                    help="keep memgate result JSON files in this directory")
    parser.addini("memgate_results_dir", "keep memgate result JSON files in this directory", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "memgate_limit(**bounds): every memgate_run result of the test must keep within the bounds "
        f"(names: {', '.join(GROWTH_BOUNDS)})")
    config.addinivalue_line(
        "markers",
        "memgate(scenario=None, **keys_and_bounds): run the scenario (a TOML path, or the defaults) with the "
        "scenario keys given, before the test body, and keep its result within the growth bounds given")
    config.pluginmanager.register(Manager(config), "memgate_manager")


def _manager(config: pytest.Config) -> Manager:
    return config.pluginmanager.get_plugin("memgate_manager")


@pytest.fixture
def memgate_run(request: pytest.FixtureRequest, tmp_path):
    """Callable: memgate_run(scenario=None, *, repeat=None, hooks=None, **overrides) -> result dict.

    scenario is a TOML path, a dict of keys, or None (defaults); overrides are scenario keys.
    The result is also written (atomically) as JSON; its path is result["result_path"].
    """
    manager = _manager(request.config)
    counter = {"n": 0}

    def run(scenario: str | os.PathLike | dict | None = None, *, repeat: int | None = None,
            hooks: Hooks | None = None, **overrides: Any) -> dict[str, Any]:
        if isinstance(scenario, dict):
            raw = {**scenario, **overrides}
            raw.setdefault("name", _safe_name(request.node.name))
            sc = scenario_mod.from_dict(raw, source=f"{request.node.nodeid} (dict)")
        else:
            sc = scenario_mod.load(os.fspath(scenario) if scenario is not None else None, list(overrides.items()))
        result = run_scenario(sc, repeat=repeat, hooks=hooks)
        counter["n"] += 1
        path = os.path.join(manager.results_dir(tmp_path), f"{_safe_name(request.node.name)}-{counter['n']}.json")
        atomic.write_json(path, result)
        result["result_path"] = path
        manager.results.setdefault(request.node.nodeid, []).append(result)
        return result

    return run


@pytest.fixture(autouse=True)
def _memgate_marker_run(request: pytest.FixtureRequest, memgate_run) -> None:
    marker = request.node.get_closest_marker("memgate")
    if marker is not None:
        scenario, overrides, _ = _split_memgate_marker(marker.kwargs)
        memgate_run(scenario, **overrides)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:100] or "test"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    outcome = yield
    if outcome.excinfo is not None:
        return
    manager = _manager(item.config)
    results = manager.results.pop(item.nodeid, [])
    for name, checker in MARKERS.items():
        for marker in item.iter_markers(name):
            if not results:
                pytest.fail(f"@{name} on a test that ran no memgate_run", pytrace=False)
            for result in results:
                violations = checker(result, **marker.kwargs)
                if violations:
                    pytest.fail(f"@{name}: scenario {result['scenario']['name']}: "
                                + "; ".join(v.long_repr() for v in violations), pytrace=False)
