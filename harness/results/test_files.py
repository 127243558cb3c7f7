import json
import os
import stat

import pytest

from harness.results import atomic, files
from harness.results.schema import SCHEMA_VERSION


def test_write_then_load_roundtrip(tmp_path):
    path = tmp_path / "sub" / "r.json"
    data = {"tool": "memgate", "schema_version": SCHEMA_VERSION, "x": [1, 2]}
    atomic.write_json(str(path), data)
    assert files.load(str(path)) == data
    assert os.listdir(path.parent) == ["r.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"old": true}')
    with pytest.raises(TypeError):
        atomic.write_json(str(path), {"bad": object()})
    assert json.loads(path.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["r.json"]


def test_replace_is_atomic_rename(tmp_path, monkeypatch):
    calls = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append((a, b)), real(a, b)))
    atomic.write_json(str(tmp_path / "r.json"), {"a": 1})
    assert len(calls) == 1 and calls[0][1] == str(tmp_path / "r.json")
    assert os.path.dirname(calls[0][0]) == str(tmp_path)


def test_the_file_and_then_its_directory_reach_the_disk(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    atomic.write_text(str(tmp_path / "report.md"), "# text\n")
    assert (tmp_path / "report.md").read_text() == "# text\n"
    assert len(synced) == 2 and os.path.dirname(synced[0]) == str(tmp_path) and synced[1] == str(tmp_path)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_mode_the_umask_allows(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic.write_json(str(tmp_path / "r.json"), {"a": 1})
        atomic.copy_file(str(tmp_path / "r.json"), str(tmp_path / "copy.json"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "r.json").st_mode) == mode
    assert stat.S_IMODE(os.stat(tmp_path / "copy.json").st_mode) == mode


def test_copy_is_byte_for_byte(tmp_path):
    src = tmp_path / "a.json"
    src.write_bytes(b'{"x": "\xc3\xa9"}')
    atomic.copy_file(str(src), str(tmp_path / "out" / "b.json"))
    assert (tmp_path / "out" / "b.json").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("content,msg", [("not json", "not JSON"), ('{"tool": "other"}', "not a memgate result"),
                                         ('{"tool": "memgate", "schema_version": 99}', "schema_version 99")])
def test_load_rejects_bad_files(tmp_path, content, msg):
    p = tmp_path / "r.json"
    p.write_text(content)
    with pytest.raises(files.InvalidResult, match=msg):
        files.load(str(p))
