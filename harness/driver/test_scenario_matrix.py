"""[matrix] expansion, endpoint mixes, and `memgate scenarios check` over the shipped set."""

import os
import subprocess

import pytest

from harness.driver import loadgen, scenario as sc
from harness.driver.binaries import REPO_ROOT

MEMGATE = os.path.join(REPO_ROOT, "memgate")


def write(tmp_path, text, name="m.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_cross_product_with_exclude_and_include(tmp_path):
    path = write(tmp_path, """
requests = 100
[matrix]
protocol = ["h1", "h2c", "h2-tls"]
streams = [1, 10]
exclude = [{ protocol = "h1", streams = 10 }]
include = [{ protocol = "h1", streams = 1, pipeline = 4 }]
""")
    cases = sc.load_cases(path)
    got = [(c.config["protocol"], c.config["streams"], c.config["pipeline"]) for c in cases]
    assert got == [("h1", 1, 1), ("h2c", 1, 1), ("h2c", 10, 1), ("h2-tls", 1, 1), ("h2-tls", 10, 1), ("h1", 1, 4)]
    assert [c.name for c in cases][:3] == ["m.protocol-h1.streams-1", "m.protocol-h2c.streams-1", "m.protocol-h2c.streams-10"]
    assert cases[-1].name == "m.protocol-h1.streams-1.pipeline-4"
    assert cases[2].params == {"protocol": "h2c", "streams": 10}
    assert all(c.config["requests"] == 100 for c in cases)


def test_exclude_matching_part_of_the_axes_drops_every_match(tmp_path):
    path = write(tmp_path, """
[matrix]
allocator = ["glibc", "jemalloc", "mimalloc"]
copy = ["writev", "buffered"]
exclude = [{ copy = "buffered" }]
""")
    assert [c.config["copy"] for c in sc.load_cases(path)] == ["writev"] * 3


def test_include_only_matrix_names_cases(tmp_path):
    path = write(tmp_path, """
name = "gate"
[matrix]
include = [{ name = "big", endpoint = "/bytes/1048576" }, { protocol = "h1" }]
""")
    cases = sc.load_cases(path)
    assert [c.name for c in cases] == ["gate.big", "gate.protocol-h1"]
    assert cases[0].config["endpoint"] == "/bytes/1048576" and cases[0].params == {"endpoint": "/bytes/1048576"}


def test_set_overrides_win_over_axes(tmp_path):
    path = write(tmp_path, '[matrix]\nrequests = [10, 20]\nprotocol = ["h1", "h2c"]\n')
    cases = sc.load_cases(path, [("requests", 5)])
    assert [c.config["requests"] for c in cases] == [5, 5, 5, 5]


@pytest.mark.parametrize("body,key,reason", [
    ('[matrix]\ncolour = ["red"]\n', "matrix.colour", "unknown axis"),
    ('[matrix]\nprotocol = "h1"\n', "matrix.protocol", "non-empty list"),
    ('[matrix]\nprotocol = []\n', "matrix.protocol", "non-empty list"),
    ('[matrix]\nprotocol = ["h1", "h1"]\n', "matrix.protocol", "appears twice"),
    ('[matrix]\nname = ["a"]\n', "matrix.name", "cannot be an axis"),
    ('[matrix]\nprotocol = ["h1"]\nexclude = [{ copy = "buffered" }]\n', "matrix.exclude[0].copy", "not an axis"),
    ('[matrix]\nprotocol = ["h1", "h2c"]\nexclude = [{ protocol = "h3" }]\n', "matrix.exclude[0].protocol", "never matches"),
    ('[matrix]\nprotocol = ["h1"]\nexclude = [{ protocol = "h1" }]\n', "matrix", "expands to no case"),
    ('[matrix]\ninclude = [{ colour = 1 }]\n', "matrix.include[0].colour", "unknown key"),
    ('[matrix]\ninclude = "x"\n', "matrix.include", "list of non-empty tables"),
    ('matrix = 3\n', "matrix", "expected a table"),
    # an impossible combination inside the product is refused, naming the case
    ('[matrix]\nprotocol = ["h1", "h2c"]\nstreams = [1, 10]\n', "streams", "needs HTTP/2"),
    ('[matrix]\nprotocol = ["h2c"]\nrequests = ["many"]\n', "requests", "expected int"),
])
def test_matrix_errors_name_file_key_and_reason(tmp_path, body, key, reason):
    path = write(tmp_path, body)
    with pytest.raises(sc.ScenarioError) as e:
        sc.load_cases(path)
    assert e.value.key == key, str(e.value)
    assert reason in str(e.value) and path in str(e.value)


def test_impossible_case_error_names_the_case(tmp_path):
    path = write(tmp_path, '[matrix]\nprotocol = ["h1", "h2c"]\nstreams = [1, 10]\n')
    with pytest.raises(sc.ScenarioError) as e:
        sc.load_cases(path)
    assert "matrix case protocol='h1', streams=10" in str(e.value)


def test_run_refuses_a_matrix_file(tmp_path):
    path = write(tmp_path, '[matrix]\nprotocol = ["h1", "h2c"]\n')
    with pytest.raises(sc.ScenarioError, match="expands to 2 case"):
        sc.load(path)


def test_endpoint_mix_maps_onto_urls_and_weights():
    c = sc.load(None, [("endpoints", [{"path": "/bytes/64", "weight": 3}, {"path": "/json?items=5"}])]).config
    assert c["endpoints"] == [{"path": "/bytes/64", "weight": 3}, {"path": "/json?items=5", "weight": 1}]
    assert c["endpoint"] == "/bytes/64"
    argv = loadgen.argv_for("lg", c, 8080, 10)
    assert argv[:6] == ["lg", "--url", "http://127.0.0.1:8080/bytes/64", "--url", "http://127.0.0.1:8080/json?items=5", "--weights"]
    assert argv[6] == "3,1"
    single = loadgen.argv_for("lg", sc.load(None).config, 8080, 10)
    assert "--weights" not in single and single.count("--url") == 1


@pytest.mark.parametrize("overrides,key,reason", [
    ([("endpoints", [{"path": "/bytes/1"}]), ("endpoint", "/bytes/2")], "endpoints", "not both"),
    ([("endpoints", [])], "endpoints", "empty mix"),
    ([("endpoints", [{"weight": 2}])], "endpoints[0].path", "missing"),
    ([("endpoints", [{"path": "bytes"}])], "endpoints[0].path", "starting with '/'"),
    ([("endpoints", [{"path": "/a", "weight": 0}])], "endpoints[0].weight", "below the minimum"),
    ([("endpoints", [{"path": "/a", "weight": "x"}])], "endpoints[0].weight", "expected int"),
    ([("endpoints", [{"path": "/a", "size": 1}])], "endpoints[0].size", "unknown key"),
    ([("endpoints", [{"path": "/a"}, {"path": "/a"}])], "endpoints", "appears twice"),
    ([("endpoints", [{"path": "/a", "weight": 600000}, {"path": "/b", "weight": 600000}])], "endpoints", "at most 1000000"),
    ([("endpoints", [{"path": "/bytes/1"}, {"path": "/mem"}])], "endpoints", "control endpoint"),
    ([("endpoints", ["/bytes/1"])], "endpoints", "expected list[table]"),
])
def test_endpoint_mix_rejections(overrides, key, reason):
    with pytest.raises(sc.ScenarioError) as e:
        sc.load(None, overrides)
    assert e.value.key == key and reason in str(e.value)


def test_shipped_scenarios_all_valid_with_descriptions():
    p = subprocess.run([MEMGATE, "scenarios", "check"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    shipped = ["ci-gate", "default", "http2-large-response", "protocols", "small-requests"]
    for name in shipped:
        assert f"scenarios/{name}.toml" in p.stdout
    for name in shipped:
        for case in sc.load_cases(os.path.join(REPO_ROOT, "scenarios", f"{name}.toml")):
            assert len(case.config["description"]) > 200, case.name  # a real paragraph


def test_shipped_set_covers_what_issue_5_asks():
    cases = {c.name: c.config for f in ("http2-large-response", "protocols", "small-requests", "ci-gate")
             for c in sc.load_cases(os.path.join(REPO_ROOT, "scenarios", f"{f}.toml"))}
    assert {c["copy"] for n, c in cases.items() if n.startswith("http2-large-response")} == {"writev", "buffered"}
    assert {c["protocol"] for n, c in cases.items() if n.startswith("protocols.")} == {"h1", "h2c", "h2-tls"}
    assert all(c["requests"] >= 100000 for n, c in cases.items() if n.startswith("small-requests"))
    gate = {n: c for n, c in cases.items() if n.startswith("ci-gate.")}
    # small enough for every PR: total measured+warm-up traffic bounded (bytes moved is what costs time on 2 cores)
    moved = sum((c["requests"] + c["warmup_requests"]) * c["repeat"] for c in gate.values())
    assert 3 <= len(gate) <= 8 and moved <= 400000


def test_check_fails_on_a_bad_file_naming_it(tmp_path):
    bad = write(tmp_path, 'description = "x"\n[matrix]\nprotocol = ["h1", "h2c"]\nstreams = [1, 10]\n', "bad.toml")
    good = write(tmp_path, 'description = "a paragraph"\n', "good.toml")
    p = subprocess.run([MEMGATE, "scenarios", "check", good, bad], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert f"FAIL {bad}" in p.stderr and "'streams'" in p.stderr and "needs HTTP/2" in p.stderr
    assert f"ok   {good}" in p.stdout and "1 of 2" in p.stderr
    empty = write(tmp_path, 'requests = 5\n', "nodesc.toml")
    p = subprocess.run([MEMGATE, "scenarios", "check", empty], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "'description'" in p.stderr
