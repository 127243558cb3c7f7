"""Least-squares growth over a timeline: bytes per request."""

from __future__ import annotations

from typing import Sequence


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Ordinary least-squares slope of ys over xs; None with fewer than 3 points or no spread in xs."""
    if len(xs) != len(ys):
        raise ValueError(f"slope: {len(xs)} x values but {len(ys)} y values")
    n = len(xs)
    if n < 3:
        return None
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return sxy / sxx


def growth_per_request(timeline: list[dict], field: str) -> float | None:
    """Slope of `field` over `requests` for the timeline points that have both."""
    points = [(p["requests"], p[field]) for p in timeline if p.get("requests") is not None and p.get(field) is not None]
    return slope([float(x) for x, _ in points], [float(y) for _, y in points])
