"""[matrix] tables: axes, exclude and include rules -> the list of cases, and each case's name.

Kept apart from scenario.py, which validates what each case resolves to: this module only
knows which keys exist, so a matrix's shape is checked before any case is resolved.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Collection


class MatrixError(ValueError):
    """A [matrix] table that does not expand: the key (``matrix.<...>``) and the reason."""

    def __init__(self, key: str, reason: str):
        self.key = key
        self.reason = reason
        super().__init__(f"key '{key}': {reason}")


# Axes may vary any scenario key except these (they describe the file, not a case).
NOT_AXES = ("name", "description", "matrix")


def case_name(base: str, params: dict[str, Any]) -> str:
    parts = [base]
    for key, value in params.items():
        text = value if isinstance(value, str) else _json_text(value)
        text = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "x"
        parts.append(f"{key}-{text}")
    return ".".join(parts)


def _json_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "_".join(_json_text(v) for v in value) or "none"
    if isinstance(value, dict):
        return "_".join(f"{k}_{_json_text(v)}" for k, v in value.items())
    return str(value)


def expand_matrix(matrix: Any, keys: Collection[str], name_error: Callable[[Any], str | None]) -> list[dict[str, Any]]:
    """[matrix] -> the list of cases (each a dict of axis values), in a fixed order.

    Axes (key = [values...]) expand to their cross product, in the order the axes are
    written; `exclude` entries drop every case whose values match all the entry's keys;
    `include` entries add one case each (after the product), unless an identical case
    exists. With no axes, the cases are the include entries alone. ``keys`` are the scenario
    keys an axis or include entry may set; ``name_error`` says what is wrong with a case name.
    """
    if not isinstance(matrix, dict):
        raise MatrixError("matrix", f"expected a table, got {type(matrix).__name__}")
    axes: dict[str, list[Any]] = {}
    for key, values in matrix.items():
        if key in ("exclude", "include"):
            continue
        if key in NOT_AXES:
            raise MatrixError(f"matrix.{key}", f"{key} cannot be an axis (each case's name is made from its axes)")
        if key not in keys:
            raise MatrixError(f"matrix.{key}", f"unknown axis; an axis is a scenario key, one of: {', '.join(k for k in keys if k not in NOT_AXES)}")
        if not isinstance(values, list) or not values:
            raise MatrixError(f"matrix.{key}", f"an axis is a non-empty list of values, got {values!r}")
        seen = []
        for v in values:
            if v in seen:
                raise MatrixError(f"matrix.{key}", f"value {v!r} appears twice")
            seen.append(v)
        axes[key] = values
    rules: dict[str, list[dict[str, Any]]] = {}
    for rule in ("exclude", "include"):
        entries = matrix.get(rule, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) and e for e in entries):
            raise MatrixError(f"matrix.{rule}", "expected a list of non-empty tables, e.g. [{protocol = \"h1\", streams = 10}]")
        rules[rule] = entries
    for i, entry in enumerate(rules["exclude"]):
        for key, value in entry.items():
            if key not in axes:
                raise MatrixError(f"matrix.exclude[{i}].{key}", f"not an axis of this matrix (axes: {', '.join(axes) or 'none'})")
            if value not in axes[key]:
                raise MatrixError(f"matrix.exclude[{i}].{key}", f"{value!r} is not a value of the axis ({axes[key]!r}): the rule never matches")
    for i, entry in enumerate(rules["include"]):
        for key in entry:
            if key == "name":
                err = name_error(entry[key])
                if err:
                    raise MatrixError(f"matrix.include[{i}].name", err)
            elif key not in keys or key in NOT_AXES:
                raise MatrixError(f"matrix.include[{i}].{key}", "unknown key; an include entry sets scenario keys (and may give its case a name)")
    cases: list[dict[str, Any]] = []
    if axes:
        combos: list[dict[str, Any]] = [{}]
        for key, values in axes.items():
            combos = [{**c, key: v} for c in combos for v in values]
        used = [0] * len(rules["exclude"])
        for combo in combos:
            hit = [i for i, e in enumerate(rules["exclude"]) if all(combo[k] == v for k, v in e.items())]
            for i in hit:
                used[i] += 1
            if not hit:
                cases.append(combo)
        for i, n in enumerate(used):
            if n == 0:  # pragma: no cover - unreachable after the value checks above, kept as a guard
                raise MatrixError(f"matrix.exclude[{i}]", "matches no case")
    for entry in rules["include"]:
        if entry not in cases:
            cases.append(dict(entry))  # a "name" key stays in the entry: load_cases turns it into the case name
    if not cases:
        raise MatrixError("matrix", "expands to no case (no axes and no include, or everything excluded)")
    return cases
