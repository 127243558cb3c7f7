"""Reading result files: JSON with a schema check, errors that name the file."""

from __future__ import annotations

import json
from typing import Any

from harness.results.schema import header_problem


class InvalidResult(ValueError):
    pass


def read_json(path: str, error: type[Exception], missing: str) -> Any:
    """The JSON at path; a missing file or bad JSON raises `error` naming the path."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise error(f"{path}: {missing}") from None
    except ValueError as e:  # bad JSON, bytes that are not UTF-8, an integer too long to read
        raise error(f"{path}: not JSON ({e})") from None


def load(path: str) -> dict[str, Any]:
    data = read_json(path, InvalidResult, "no such result file (`memgate run -o FILE` writes one)")
    problem = header_problem(data, "result file")
    if problem:
        raise InvalidResult(f"{path}: {problem}")
    return data
