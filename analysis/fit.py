"""Least-squares growth over a timeline: bytes per request, with a 95 % confidence interval."""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

Z_975 = 1.959963984540054  # the normal distribution's 97.5th percentile


@dataclasses.dataclass(frozen=True)
class Fit:
    slope: float
    low: float   # 95 % confidence interval of the slope
    high: float
    points: int


def t_975(df: int) -> float:
    """Student's t 97.5th percentile (Cornish-Fisher expansion; within 1 % from 3 degrees of freedom up)."""
    z = Z_975
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2) \
        + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3)


def line_fit(xs: Sequence[float], ys: Sequence[float]) -> Fit | None:
    """Ordinary least squares of ys over xs with the slope's t interval; None with fewer than 3
    points, no spread in xs, or figures too large to fit in a float. Timeline points are serially
    correlated, so the interval is a lower bound on the uncertainty: the gate pairs it with a floor
    on the total growth."""
    if len(xs) != len(ys):
        raise ValueError(f"slope: {len(xs)} x values but {len(ys)} y values")
    n = len(xs)
    if n < 3:
        return None
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) * (x - mx) for x in xs)
    if sxx == 0 or not math.isfinite(sxx):
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    residual = sum((y - my - b * (x - mx)) * (y - my - b * (x - mx)) for x, y in zip(xs, ys))
    if not (math.isfinite(b) and math.isfinite(residual)):
        return None
    half = t_975(n - 2) * math.sqrt(residual / (n - 2) / sxx)
    return Fit(b, b - half, b + half, n)


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Ordinary least-squares slope of ys over xs; None with fewer than 3 points or no spread in xs."""
    f = line_fit(xs, ys)
    return None if f is None else f.slope


def under_load(timeline: list[dict]) -> list[dict]:
    """The points taken while requests were still being served: up to the first that reached the
    final count. Later ones (connections held idle, then closing) say nothing about growth per request."""
    counted = [p for p in timeline if p.get("requests") is not None]
    last = max((p["requests"] for p in counted), default=None)
    end = next((i for i, p in enumerate(counted) if p["requests"] == last), len(counted) - 1)
    return counted[:end + 1]


def timeline_fit(timeline: list[dict], field: str, min_points: int = 3) -> Fit | None:
    """The fit of `field` over `requests` for the points under load that have it; None with fewer than min_points."""
    points = [(p["requests"], p[field]) for p in under_load(timeline) if p.get(field) is not None]
    if len(points) < min_points:
        return None
    return line_fit([float(x) for x, _ in points], [float(y) for _, y in points])


def growth_per_request(timeline: list[dict], field: str) -> float | None:
    """Slope of `field` over `requests` for the points under load that have it."""
    f = timeline_fit(timeline, field)
    return None if f is None else f.slope
