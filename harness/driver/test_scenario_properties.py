"""Property: any TOML document either loads as a scenario or is refused with a ScenarioError that
names a key (or, for text that is not TOML, says so); never another exception."""
import json
import math
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.metrics import DEFAULT_THRESHOLDS
from harness.driver import scenario
from harness.driver.targets import spec

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values a scenario's keys take, so that generated documents often get past the first check.
PLAUSIBLE = st.sampled_from([
    "h1", "h2c", "h2-tls", "glibc", "jemalloc", "writev", "buffered", "streamed", "GET", "POST", "/bytes/64",
    "/upload", "/stream/inf", "/mem", "/json?items=3", "--inject-leak=64", "--port=1", "command", "attach",
    "refserver", "127.0.0.1", "mem_endpoint", "none", "shim", "SIGTERM", "GET /", "pattern", "length", "{tls_cert}",
    0, 1, 2, 10, -1, 65536, 1 << 40, 0.5, True, False, "", "a b"])
SCALARS = (PLAUSIBLE | st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1) | st.floats()
           | st.booleans() | st.text(st.characters(blacklist_categories=("Cs",)), max_size=12))
JUNK_KEYS = st.text(max_size=4)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(JUNK_KEYS | st.sampled_from(list(scenario.KEYS)), inner, max_size=3),
                      max_leaves=6)


def _table(keys) -> st.SearchStrategy:
    """A table whose keys are mostly the ones it may hold."""
    return st.dictionaries(st.sampled_from(list(keys)) | JUNK_KEYS, SCALARS | VALUES, max_size=4)


# Each top-level key with values of the shape it takes (and others).
TOP_VALUES = {
    "thresholds": _table(DEFAULT_THRESHOLDS), "target": _table(spec.KEYS), "bad_twin": _table(scenario.KEYS),
    "endpoints": st.lists(_table(["path", "weight"]), max_size=3),
    "matrix": st.dictionaries(st.sampled_from([*scenario.KEYS, "exclude", "include"]),
                              st.lists(SCALARS | _table(scenario.KEYS), max_size=3), max_size=3),
}
KNOWN_KEY_DOCUMENTS = st.lists(st.sampled_from(list(scenario.KEYS)), unique=True, max_size=8).flatmap(
    lambda keys: st.fixed_dictionaries({k: TOP_VALUES.get(k, SCALARS) | VALUES for k in keys}))
DOCUMENTS = (KNOWN_KEY_DOCUMENTS
             | st.builds(lambda doc, matrix: {**doc, "matrix": matrix}, KNOWN_KEY_DOCUMENTS, TOP_VALUES["matrix"])
             | st.dictionaries(JUNK_KEYS | st.sampled_from(list(scenario.KEYS)), VALUES, max_size=4))


def _toml_string(text: str) -> str:
    # A JSON string is a TOML basic string once DEL is escaped too (JSON leaves it raw).
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(doc: dict) -> str:
    return "".join(f"{_toml_string(k)} = {_toml_value(v)}\n" for k, v in doc.items())


def _load(text: str):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            return scenario.load_cases(path), None
        except scenario.ScenarioError as e:
            return None, e


@SETTINGS
@given(DOCUMENTS)
def test_a_toml_document_loads_or_is_refused_naming_a_key(doc):
    cases, error = _load(toml_document(doc))
    if error is None:
        assert cases and all(isinstance(c.config, dict) for c in cases)
    else:
        assert error.key is not None and f"key '{error.key}'" in str(error), f"refused without naming a key: {error}"
        assert str(error).startswith(error.source)


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_loads_or_is_refused_with_a_scenario_error(text):
    _, error = _load(text)
    assert error is None or str(error)
