import copy
import json

import pytest

from analysis import calibration


def good():
    return {
        "schema": "memgate.calibration/1", "scenario": "default", "case": None, "created": "2026-12-01T12:00:00Z",
        "machine": {"cpus": 2}, "commit": "abc123", "target": {"kind": "refserver"}, "pairs": 3,
        "metrics": {
            "live_heap_bytes_per_request": {
                "unit": "bytes/request", "aa_differences": [0.0, -1.5, 1.0], "aa_spread": 1.5, "false_alarms": 0,
                "minimum_detectable": 4.5,
                "ladder": [{"injection": "malloc_per_request", "multiple": 0.25, "size": 2, "unit": "bytes/request",
                            "runs": 10, "caught": 1}],
                "smallest_caught": {"injection": "malloc_per_request", "size": 16, "unit": "bytes/request",
                                    "catch_rate": 1.0}},
            "rss_delta_bytes": {"unit": "bytes", "aa_differences": [0, 4096, -4096], "aa_spread": 4096,
                                "false_alarms": 0, "minimum_detectable": 12288, "ladder": [], "smallest_caught": None},
        },
    }


def write(tmp_path, data, name="default.calibration.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return p


def test_a_good_file_loads_with_its_spreads(tmp_path):
    c = calibration.load(write(tmp_path, good()))
    assert (c.scenario, c.case, c.pairs) == ("default", None, 3)
    assert c.spread("rss_delta_bytes") == 4096 and c.spread("allocations_per_request") is None
    heap = c.metrics["live_heap_bytes_per_request"]
    assert heap.ladder[0].injection == "malloc_per_request" and heap.smallest_caught.size == 16
    assert c.metrics["rss_delta_bytes"].smallest_caught is None


def _damage(data, path, value):
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


HEAP = ("metrics", "live_heap_bytes_per_request")


@pytest.mark.parametrize("path, value, field", [
    (("schema",), "memgate.calibration/2", "schema"),
    (("pairs",), 0, "pairs"),
    (("created",), "yesterday", "created"),
    (("machine",), KeyError, "machine"),
    (("metrics", "bogus_metric"), {}, "metrics.bogus_metric"),
    (HEAP + ("aa_spread",), -1, "metrics.live_heap_bytes_per_request.aa_spread"),
    (HEAP + ("aa_spread",), "3", "metrics.live_heap_bytes_per_request.aa_spread"),
    (HEAP + ("aa_differences",), [1.0], "metrics.live_heap_bytes_per_request.aa_differences"),
    (HEAP + ("aa_differences", 1), None, "metrics.live_heap_bytes_per_request.aa_differences[1]"),
    (HEAP + ("false_alarms",), 4, "metrics.live_heap_bytes_per_request.false_alarms"),
    (HEAP + ("minimum_detectable",), KeyError, "metrics.live_heap_bytes_per_request.minimum_detectable"),
    (HEAP + ("smallest_caught",), KeyError, "metrics.live_heap_bytes_per_request.smallest_caught"),
    (HEAP + ("smallest_caught", "catch_rate"), 1.5, "metrics.live_heap_bytes_per_request.smallest_caught.catch_rate"),
    (HEAP + ("ladder", 0, "injection"), "mmap", "metrics.live_heap_bytes_per_request.ladder[0].injection"),
    (HEAP + ("ladder", 0, "caught"), 11, "metrics.live_heap_bytes_per_request.ladder[0].caught"),
])
def test_a_damaged_file_is_refused_naming_the_file_and_the_field(tmp_path, path, value, field):
    p = write(tmp_path, _damage(copy.deepcopy(good()), path, value))
    with pytest.raises(calibration.CalibrationError) as e:
        calibration.load(p)
    assert e.value.field == field and str(p) in str(e.value) and f"field '{field}'" in str(e.value)


def test_a_file_that_is_not_json_is_refused_naming_the_file(tmp_path):
    p = write(tmp_path, '{"schema": ')
    with pytest.raises(calibration.CalibrationError, match="not JSON") as e:
        calibration.load(p)
    assert str(p) in str(e.value) and e.value.field is None
    with pytest.raises(calibration.CalibrationError, match="cannot read"):
        calibration.load(tmp_path / "absent.json")


def test_beside_a_baseline_file_and_a_matrix_directory(tmp_path):
    assert calibration.beside("ci/baselines/default.json").as_posix() == "ci/baselines/default.calibration.json"
    assert calibration.beside(tmp_path, "h1-small") == tmp_path / "h1-small.calibration.json"
    with pytest.raises(ValueError, match="which case"):
        calibration.beside(tmp_path)


def test_aa_spread_is_the_95th_percentile_of_absolute_differences_by_nearest_rank():
    assert calibration.aa_spread([]) == 0
    assert calibration.aa_spread([1, -3, 2]) == 3
    assert calibration.aa_spread(list(range(-20, 20))) == 19  # ceil(0.95 x 40) = 38th of 0,1,1,2,2,...,19,19,20
