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

Options (each also an ini key: memgate_results_dir, memgate_save, memgate_baseline):

- ``--memgate-results-dir=DIR``: keep result JSON files there (default: the test's tmp_path);
- ``--memgate-save=FILE``: store the results of every marked test, by test id;
- ``--memgate-baseline=FILE``: gate each marked test's results against that stored run (analysis/gate.py);
  a regression fails the test naming the metric, the candidate and baseline values and the limit.

The session ends with a table of every checked metric of every marked test: value, baseline, limit, verdict
(ok, FAIL, or UNDECIDED: too noisy to tell against the stored run, which does not fail the test; more
replicates decide).
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any, Callable

import pytest

from analysis import gate
from analysis.metrics import BY_NAME
from analysis.render.table import render_rows
from analysis.units import format_cell
from harness.driver import scenario as scenario_mod
from harness.driver.runner import Hooks, run_scenario
from harness.results import atomic
from harness.results.files import read_json
from harness.results.schema import SCHEMA_VERSION, TOOL, VERSION, header_problem

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

STORED_KIND = "pytest-session"  # a --memgate-save file: {..., "kind": STORED_KIND, "tests": {test id: [result, ...]}}

SUMMARY_COLUMNS = [(key, key, "text") for key in ("test", "scenario", "metric", "value", "baseline", "limit", "verdict")]
SUMMARY_VERDICT = {gate.PASS: "ok", gate.FAIL: "FAIL", gate.UNDECIDED: "UNDECIDED"}  # a gate check's outcome
UNDECIDED_HINT = ("memgate: {n} check(s) UNDECIDED against the stored baseline: the evidence is too noisy to tell "
                  "(a replicate over the limit without the noise allowance, within it with noise); they do not fail "
                  f"the test. More replicates decide: repeat=N on the marker (from {gate.DECISIVE_REPLICATES} on, "
                  "the majority decides), in the stored run too")

OPTIONS = (("memgate_results_dir", "DIR", "keep memgate result JSON files in this directory"),
           ("memgate_save", "FILE", "store the results of the memgate-marked tests in FILE"),
           ("memgate_baseline", "FILE", "gate the memgate-marked tests against the results stored in FILE"))


def _bounds(marker: pytest.Mark) -> dict[str, float]:
    return _split_memgate_marker(marker.kwargs)[2] if marker.name == "memgate" else dict(marker.kwargs)


def _cell(metric: str, value: float | None) -> str:
    known = BY_NAME.get(metric)
    return format_cell(value, known.kind if known else "float")


def load_stored(path: str) -> dict[str, list[dict[str, Any]]]:
    """The results a --memgate-save file holds, by test id; a bad file is a usage error naming it."""
    try:
        data = read_json(path, pytest.UsageError, "no such file")
    except pytest.UsageError as e:
        raise pytest.UsageError(f"--memgate-baseline {e}: store one first with --memgate-save={path}") from None
    problem = header_problem(data, "file") or (None if data.get("kind") == STORED_KIND else
                                               f"not a --memgate-save file (kind {data.get('kind')!r})")
    if problem:
        raise pytest.UsageError(f"--memgate-baseline {path}: {problem}; store one with --memgate-save={path}")
    return data["tests"]


class Manager:
    """Plugin state: results recorded per test item (for markers), the stored baseline, the summary rows."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.results: dict[str, list[dict[str, Any]]] = {}
        self.checked: dict[str, list[dict[str, Any]]] = {}  # what --memgate-save stores
        self.rows: list[dict[str, str]] = []
        self.baseline_path = self.option("memgate_baseline")
        self.baseline = load_stored(self.baseline_path) if self.baseline_path else None

    def option(self, name: str) -> str | None:
        return self.config.getoption(name) or self.config.getini(name) or None

    def results_dir(self, tmp_path) -> str:
        return str(self.option("memgate_results_dir") or tmp_path)

    def check(self, nodeid: str, results: list[dict[str, Any]], markers: list[pytest.Mark]) -> list[str]:
        """A marked test's results against its markers' bounds and the stored baseline: the failures, one line
        each; every checked metric also becomes a row of the summary."""
        self.checked[nodeid] = results
        stored = self.baseline.get(nodeid, []) if self.baseline is not None else None
        failures = []
        for n, result in enumerate(results):
            name = result["scenario"]["name"]
            row = {"test": nodeid + (f" #{n + 1}" if len(results) > 1 else ""), "scenario": name}
            base = stored[n] if stored and n < len(stored) else None
            rows_before = len(self.rows)
            for marker in markers:
                violations = MARKERS[marker.name](result, **marker.kwargs)
                if violations:
                    failures.append(f"@{marker.name}: scenario {name}: " + "; ".join(v.long_repr() for v in violations))
                broken = {v.metric for v in violations}
                for metric, bound in _bounds(marker).items():
                    self.rows.append({**row, "metric": metric, "value": _cell(metric, result["metrics"].get(metric)),
                                      "baseline": _cell(metric, base["metrics"].get(metric)) if base else "",
                                      "limit": _cell(metric, bound), "verdict": "FAIL" if metric in broken else "ok"})
            if stored is not None:
                failures += self._against(row, base, result)
            if len(self.rows) == rows_before:
                self.rows.append({**row, "verdict": "measured (no bound, no --memgate-baseline)"})
        return failures

    def _against(self, row: dict[str, str], base: dict[str, Any] | None, result: dict[str, Any]) -> list[str]:
        if base is None:
            self.rows.append({**row, "baseline": "none stored", "verdict": "not compared"})
            return []
        report = gate.evaluate(base, result)
        for c in report.checks:
            self.rows.append({**row, "metric": c.metric, "value": _cell(c.metric, c.candidate),
                              "baseline": _cell(c.metric, c.baseline), "limit": _cell(c.metric, c.limit),
                              "verdict": SUMMARY_VERDICT[c.outcome]})
        where = f"memgate baseline {self.baseline_path}: scenario {row['scenario']}"
        if report.invalid:
            self.rows.append({**row, "verdict": "INVALID"})
            return [f"{where}: cannot compare: " + "; ".join(report.invalid)]
        return [f"{where}: " + "; ".join(c.long_repr() for c in report.failures)] if report.failures else []

    def save(self, path: str) -> None:
        atomic.write_json(path, {"tool": TOOL, "schema_version": SCHEMA_VERSION, "version": VERSION,
                                 "kind": STORED_KIND, "tests": self.checked})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memgate")
    for name, metavar, help in OPTIONS:
        group.addoption("--" + name.replace("_", "-"), dest=name, default=None, metavar=metavar, help=help)
        parser.addini(name, help, default="")


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
    markers = [m for name in MARKERS for m in item.iter_markers(name)]
    if not markers:
        return
    if not results:
        pytest.fail(f"@{markers[0].name} on a test that ran no memgate_run", pytrace=False)
    failures = manager.check(item.nodeid, results, markers)
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    manager = _manager(session.config)
    path = manager.option("memgate_save")
    if path and manager.checked:
        manager.save(path)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    manager = _manager(config)
    if not manager.checked:
        return
    terminalreporter.write_sep("-", "memgate" + (f" against {manager.baseline_path}" if manager.baseline_path else ""))
    for line in render_rows(SUMMARY_COLUMNS, manager.rows).splitlines():
        terminalreporter.write_line(line)
    undecided = sum(row["verdict"] == SUMMARY_VERDICT[gate.UNDECIDED] for row in manager.rows)
    if undecided:
        terminalreporter.write_line(UNDECIDED_HINT.format(n=undecided))
    saved = manager.option("memgate_save")
    if saved:
        terminalreporter.write_line(f"memgate: stored {len(manager.checked)} test(s) in {saved}")
