import json
import os

import pytest

from harness.driver import SCHEMA_VERSION, result_file


def test_write_then_load_roundtrip(tmp_path):
    path = tmp_path / "sub" / "r.json"
    data = {"tool": "memgate", "schema_version": SCHEMA_VERSION, "x": [1, 2]}
    result_file.write_atomic(str(path), data)
    assert result_file.load(str(path)) == data
    assert os.listdir(path.parent) == ["r.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"old": true}')
    with pytest.raises(TypeError):
        result_file.write_atomic(str(path), {"bad": object()})
    assert json.loads(path.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["r.json"]


def test_replace_is_atomic_rename(tmp_path, monkeypatch):
    calls = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append((a, b)), real(a, b)))
    result_file.write_atomic(str(tmp_path / "r.json"), {"a": 1})
    assert len(calls) == 1 and calls[0][1] == str(tmp_path / "r.json")
    assert os.path.dirname(calls[0][0]) == str(tmp_path)


@pytest.mark.parametrize("content,msg", [("not json", "not JSON"), ('{"tool": "other"}', "not a memgate result"),
                                         ('{"tool": "memgate", "schema_version": 99}', "schema_version 99")])
def test_load_rejects_bad_files(tmp_path, content, msg):
    p = tmp_path / "r.json"
    p.write_text(content)
    with pytest.raises(result_file.InvalidResult, match=msg):
        result_file.load(str(p))
