import pytest

from analysis.metrics import DEFAULT_THRESHOLDS
from harness.driver import scenario as sc


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_defaults_resolve_without_a_file():
    s = sc.load(None)
    c = s.config
    assert s.name == "adhoc"
    assert (c["protocol"], c["allocator"], c["copy"], c["endpoint"], c["requests"]) == ("h2c", "glibc", "writev", "/bytes/65536", 100000)
    assert c["streams"] == 10 and c["server_threads"] == 1 and c["pin"] is True
    assert set(c) == set(sc.KEYS)


def test_h1_defaults_to_one_stream():
    assert sc.load(None, [("protocol", "h1")]).config["streams"] == 1


def test_file_name_becomes_scenario_name(tmp_path):
    s = sc.load(write(tmp_path, 'requests = 10\n', "leak-check.toml"))
    assert s.name == "leak-check" and s.config["requests"] == 10


def test_shipped_default_scenario_is_valid():
    import os
    from harness.driver.binaries import REPO_ROOT
    s = sc.load(os.path.join(REPO_ROOT, "scenarios", "default.toml"))
    assert s.config["protocol"] == "h2c" and s.config["requests"] == 100000
    assert (s.config["connections"], s.config["streams"]) == (4, 10)
    assert len(s.config["description"]) > 100


@pytest.mark.parametrize("text,expected", [
    ("42", 42), ("1.5", 1.5), ("true", True), ("h1", "h1"), ("/bytes/10", "/bytes/10"),
    ('"quoted"', "quoted"), ('["--inject-leak=64"]', ["--inject-leak=64"]), ("h2-tls", "h2-tls"),
    ("{ a = 1 }", {"a": 1}),
])
def test_set_values_are_toml_or_bare_words(text, expected):
    assert sc.parse_set_value(text) == expected


def test_set_item_splits_on_first_equals():
    assert sc.parse_set('server_args=["--inject-leak=64"]') == ("server_args", ["--inject-leak=64"])


@pytest.mark.parametrize("item", ["noequals", "=5", 'k=[unclosed'])
def test_bad_set_items_are_rejected_quoting_them(item):
    with pytest.raises(ValueError) as e:
        sc.parse_set(item)
    assert repr(item) in str(e.value) or repr(item.partition("=")[2]) in str(e.value)


@pytest.mark.parametrize("overrides,key,reason", [
    ([("bogus", 1)], "bogus", "unknown key"),
    ([("requests", "many")], "requests", "expected int"),
    ([("requests", True)], "requests", "expected int"),
    ([("requests", 0)], "requests", "below the minimum"),
    ([("protocol", "h3")], "protocol", "'h3' is not one of"),
    ([("allocator", "tcmalloc")], "allocator", "not one of"),
    ([("copy", "sendfile")], "copy", "not one of"),
    ([("pin", "yes")], "pin", "expected bool"),
    ([("server_args", "--inject-leak=64")], "server_args", "expected list[str]"),
    ([("server_args", ["--port=80"])], "server_args", "free port"),
    ([("server_args", ["--copy=buffered"])], "server_args", "use the key copy"),
    ([("server_args", ["inject"])], "server_args", "not a --flag"),
    ([("endpoint", "bytes/10")], "endpoint", "starting with '/'"),
    ([("endpoint", "/mem")], "endpoint", "control endpoint"),
    ([("pipeline", 4)], "pipeline", "needs protocol h1"),
    ([("protocol", "h1"), ("streams", 8)], "streams", "needs HTTP/2"),
    ([("upload_bytes", 100)], "upload_bytes", "needs method POST"),
    ([("method", "POST"), ("upload_bytes", 10)], "endpoint", "only served at /upload"),
    ([("method", "POST"), ("endpoint", "/upload")], "upload_bytes", "needs upload_bytes > 0"),
    ([("endpoint", "/upload")], "method", "POST only"),
    ([("thresholds", {"nope": 1})], "thresholds.nope", "unknown threshold"),
    ([("thresholds.rss_delta_factor", "x")], "thresholds.rss_delta_factor", "expected number"),
    ([("thresholds.rss_delta_factor", -1)], "thresholds.rss_delta_factor", "negative"),
    ([("time_limit_s", 0)], "time_limit_s", "below the minimum"),
    ([("name", "a b")], "name", "letters, digits"),
    ([("endpoint", "/stream/inf")], "endpoint", "never ends; set cancel_after_bytes"),
    ([("protocol", "h1"), ("pipeline", 4), ("cancel_after_bytes", 10)], "cancel_after_bytes", "use pipeline = 1"),
    ([("hold_connections", True), ("connections", 10), ("requests", 5)], "hold_connections", "at least connections"),
    ([("hold_connections", True), ("requests_per_connection", 5)], "hold_connections", "must be 0"),
    ([("memory_ceiling_mib", 0)], "memory_ceiling_mib", "below the minimum"),
    ([("bad_twin", {"name": "x"})], "bad_twin.name", "not a key a bad twin may set"),
    ([("bad_twin", {"bogus": 1})], "bad_twin.bogus", "not a key a bad twin may set"),
    ([("bad_twin", {"protocol": "h3"})], "protocol", "'h3' is not one of"),
])
def test_rejections_name_key_and_reason(overrides, key, reason):
    with pytest.raises(sc.ScenarioError) as e:
        sc.load(None, overrides)
    assert e.value.key == key
    assert reason in str(e.value)
    assert f"key '{key}'" in str(e.value)


def test_file_errors_name_the_file(tmp_path):
    path = write(tmp_path, 'protocol = "h1"\npipeline = 2\nstreams = 3\n')
    with pytest.raises(sc.ScenarioError) as e:
        sc.load(path)
    assert path in str(e.value) and "streams" in str(e.value)
    bad = write(tmp_path, "requests = = 3\n", "bad.toml")
    with pytest.raises(sc.ScenarioError, match="not valid TOML"):
        sc.load(bad)
    with pytest.raises(sc.ScenarioError, match="no such scenario file"):
        sc.load(str(tmp_path / "missing.toml"))


def test_set_overrides_file_values_and_thresholds_merge(tmp_path):
    path = write(tmp_path, 'requests = 10\n[thresholds]\nnoise_k = 2\n')
    s = sc.load(path, [("requests", 20), ("thresholds.rss_delta_factor", 4)])
    assert s.config["requests"] == 20
    assert s.config["thresholds"] == {"noise_k": 2, "rss_delta_factor": 4}


def test_valid_h1_pipeline_and_post_upload():
    c = sc.load(None, [("protocol", "h1"), ("pipeline", 4)]).config
    assert c["pipeline"] == 4 and c["streams"] == 1
    c = sc.load(None, [("method", "POST"), ("endpoint", "/upload"), ("upload_bytes", 4096)]).config
    assert c["upload_bytes"] == 4096


def test_bad_twin_applies_its_keys_over_the_clean_scenario(tmp_path):
    path = write(tmp_path, 'name = "up"\nmethod = "POST"\nendpoint = "/upload"\nupload_bytes = 4096\n'
                           'server_args = ["--max-connections=50"]\n[bad_twin]\nrequest_body = "buffered"\n')
    clean = sc.load(path)
    twin = sc.bad_twin(clean)
    assert twin.name == "up.bad-twin"
    assert (clean.config["request_body"], twin.config["request_body"]) == ("streamed", "buffered")
    assert twin.config["server_args"] == ["--max-connections=50"] and twin.config["upload_bytes"] == 4096
    with pytest.raises(sc.ScenarioError, match="no bad twin"):
        sc.bad_twin(sc.load(None))


def test_matrix_cases_keep_the_files_bad_twin(tmp_path):
    path = write(tmp_path, '[bad_twin]\nserver_args = ["--inject-leak=8"]\n[matrix]\nprotocol = ["h1", "h2c"]\n')
    twins = [sc.bad_twin(c) for c in sc.load_cases(path)]
    assert [t.config["protocol"] for t in twins] == ["h1", "h2c"]
    assert all(t.config["server_args"] == ["--inject-leak=8"] for t in twins)


def test_thresholds_a_scenario_may_set_are_the_registry_defaults():
    every = {k: 1 for k in DEFAULT_THRESHOLDS}
    assert sc.from_dict({"thresholds": every}).config["thresholds"] == every
    with pytest.raises(sc.ScenarioError, match="unknown threshold"):
        sc.from_dict({"thresholds": {"no_such_max": 1}})


@pytest.mark.parametrize("raw, key, reason", [
    ({"twin_metric": "live_heap_bytes_per_request"}, "twin_metric", "this scenario has no bad_twin"),
    ({"twin_metric": "latency_p99_us", "bad_twin": {"copy": "buffered"}}, "twin_metric", "'latency_p99_us' is not one of"),
    ({"near_twin": {"copy": "buffered"}}, "near_twin", "goes with a bad_twin table"),
    ({"bad_twin": {"copy": "buffered"}, "near_twin": {"twin_metric": "rss_delta_bytes"}}, "near_twin.twin_metric",
     "not a key a near twin may set"),
])
def test_twin_metric_and_near_twin_are_checked(raw, key, reason):
    with pytest.raises(sc.ScenarioError) as e:
        sc.from_dict(raw)
    assert e.value.key == key and reason in e.value.reason


def test_near_twin_is_its_own_scenario_without_the_twin_keys():
    clean = sc.from_dict({"name": "fam", "twin_metric": "live_heap_bytes_per_request",
                          "bad_twin": {"server_args": ["--inject-leak=64"]},
                          "near_twin": {"server_args": ["--inject-leak=16", "--inject-leak-via=malloc"]}})
    near = sc.bad_twin(clean, table="near_twin")
    assert near.name == "fam.near-twin"
    assert near.config["server_args"] == ["--inject-leak=16", "--inject-leak-via=malloc"]
    assert near.config["twin_metric"] is None and not near.config["bad_twin"] and not near.config["near_twin"]
    assert sc.bad_twin(clean).name == "fam.bad-twin"
