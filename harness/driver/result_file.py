"""Result files: atomic writes, loading with a schema check."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from harness.driver import SCHEMA_VERSION


class InvalidResult(ValueError):
    pass


def write_atomic(path: str, data: dict[str, Any]) -> None:
    """Writes JSON to a temp file beside `path`, fsyncs, then os.replace: readers never see half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_json(path: str, error: type[Exception], missing: str) -> Any:
    """The JSON at path; a missing file or bad JSON raises `error` naming the path."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except json.JSONDecodeError as e:
        raise error(f"{path}: not JSON ({e})") from None


def load(path: str) -> dict[str, Any]:
    data = read_json(path, InvalidResult, "no such result file")
    if not isinstance(data, dict) or data.get("tool") != "memgate":
        raise InvalidResult(f"{path}: not a memgate result file")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InvalidResult(f"{path}: schema_version {data.get('schema_version')!r}, this memgate reads {SCHEMA_VERSION}")
    return data
