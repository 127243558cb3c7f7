"""Binary units with signs: +20.0 MiB, −2.9 MiB (U+2212 minus)."""

from __future__ import annotations

import math
from typing import Any

MINUS = "\u2212"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def _non_finite(value: float) -> str | None:
    """NaN and the infinities, which a result file can hold (JSON as Python reads it), as words."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else f"{MINUS}inf"
    return None


def format_bytes(value: float | None, *, signed: bool = False, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if (word := _non_finite(value)) is not None:
        return word
    sign = ""
    if value < 0:
        sign = MINUS
    elif signed and value > 0:
        sign = "+"
    magnitude = abs(float(value))
    unit = 0
    while magnitude >= 1024 and unit < len(_UNITS) - 1:
        magnitude /= 1024
        unit += 1
    if unit == 0:
        return f"{sign}{magnitude:.0f} B" if magnitude == int(magnitude) else f"{sign}{magnitude:.{digits}f} B"
    return f"{sign}{magnitude:.{digits}f} {_UNITS[unit]}"


def format_number(value: float | None, *, signed: bool = False, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    if (word := _non_finite(value)) is not None:
        return word + suffix
    sign = MINUS if value < 0 else ("+" if signed and value > 0 else "")
    magnitude = abs(value)
    text = f"{magnitude:,.0f}" if magnitude >= 1000 or float(magnitude).is_integer() else f"{magnitude:,.{digits}f}"
    return f"{sign}{text}{suffix}"


def format_ratio(base: float | None, cand: float | None) -> str:
    if base is None or cand is None:
        return "n/a"
    if base == 0:
        return "n/a" if cand == 0 else "new"
    change = (cand - base) / abs(base) * 100
    sign = MINUS if change < 0 else "+"
    return f"{sign}{abs(change):.1f}%"


def format_cell(value: Any, kind: str, signed: bool = False) -> str:
    """One table cell, the same in the text table, report.md and report.html."""
    if kind == "text":
        return "" if value is None else str(value)
    if value is None:
        return "n/a"
    if kind == "bytes":
        return format_bytes(value, signed=signed)
    if kind == "count":
        return format_number(value, signed=signed)
    if kind == "rate":
        return format_number(value, signed=signed)
    if kind == "us":
        return format_number(value, signed=signed, suffix=" us")
    return format_number(value, signed=signed, digits=2)


def cut(text: str, limit: int, ellipsis: str = "...") -> str:
    return text if len(text) <= limit else text[:limit - len(ellipsis)] + ellipsis
