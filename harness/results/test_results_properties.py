"""Properties of result files and matrix indexes: what memgate writes it reads back unchanged, and
a damaged file (cut short, a byte changed, garbage added) is either still a valid file or
refused with InvalidResult / MatrixError naming it; never another exception."""
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.results import atomic, files, index
from harness.results.schema import SCHEMA_VERSION, TOOL

# tmpfs when there is one: every write fsyncs, which a disk shared with a build makes slow.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") else None
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(1 << 63), max_value=1 << 64)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10))
JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=10)
RESULTS = st.dictionaries(st.text(max_size=8), JSON, max_size=6).map(
    lambda body: {**body, "tool": TOOL, "schema_version": SCHEMA_VERSION})

CASE = st.fixed_dictionaries({
    "ordinal": st.integers(0, 1000), "name": st.text(max_size=10), "file": st.text(max_size=10),
    "params": st.dictionaries(st.text(max_size=5), JSON_SCALARS, max_size=3), "digest": st.text(max_size=8),
    "shard": st.none() | st.integers(1, 4), "result": st.text(max_size=10),
    "status": st.sampled_from(["ok", "failed", "pending", "other_shard"]), "failure_kind": st.none() | st.text(max_size=6),
    "wall_s": st.none() | st.floats(0, 1e6), "requests_per_s": st.none() | st.floats(0, 1e9),
    "run_id": st.none() | st.text(max_size=6)})
INDEXES = st.builds(
    lambda matrix_id, names, shard, cases: {**index.header(matrix_id, names, len(cases), shard), "cases": cases},
    st.text(max_size=8), st.lists(st.text(max_size=8), max_size=3),
    st.none() | st.tuples(st.integers(1, 4), st.integers(1, 4)), st.lists(CASE, max_size=4))


def damage_file(path: str, how: tuple[int, int, int]) -> None:
    kind, at, byte = how
    with open(path, "rb") as f:
        data = f.read()
    at = at % (len(data) + 1)
    if kind == 0:
        data = data[:at]                                   # cut short
    elif kind == 1:
        data = data[:at] + bytes([byte]) + data[at + 1:]   # one byte changed
    else:
        data = data[:at] + bytes([byte]) * 3 + data[at:]   # garbage in the middle
    with open(path, "wb") as f:
        f.write(data)


DAMAGE = st.tuples(st.integers(0, 2), st.integers(0, 1 << 16), st.integers(0, 255))


@SETTINGS
@given(RESULTS)
def test_a_result_file_round_trips(result):
    with tempfile.TemporaryDirectory(dir=SCRATCH) as d:
        path = os.path.join(d, "r.json")
        atomic.write_json(path, result)
        assert files.load(path) == result


@SETTINGS
@given(RESULTS, DAMAGE)
def test_a_damaged_result_file_is_refused_naming_it(result, how):
    with tempfile.TemporaryDirectory(dir=SCRATCH) as d:
        path = os.path.join(d, "r.json")
        atomic.write_json(path, result)
        damage_file(path, how)
        try:
            loaded = files.load(path)
        except files.InvalidResult as e:
            assert str(e).startswith(path + ": ")
        else:
            assert isinstance(loaded, dict) and loaded["tool"] == TOOL


@SETTINGS
@given(INDEXES)
def test_a_matrix_index_round_trips(idx):
    with tempfile.TemporaryDirectory(dir=SCRATCH) as d:
        index.write_index(d, idx)
        assert index.load_index(d) == idx


@SETTINGS
@given(INDEXES, DAMAGE)
def test_a_damaged_matrix_index_is_refused_naming_it(idx, how):
    with tempfile.TemporaryDirectory(dir=SCRATCH) as d:
        index.write_index(d, idx)
        path = os.path.join(d, index.INDEX)
        damage_file(path, how)
        try:
            loaded = index.load_index(d)
        except index.MatrixError as e:
            assert str(e).startswith(path + ": ")
        else:
            assert loaded["kind"] == index.KIND and isinstance(loaded["cases"], list)
            assert all(isinstance(c, dict) and set(index.CASE_KEYS) <= set(c) for c in loaded["cases"])
