"""Replicate statistics in the standard library: Mann-Whitney U and a bootstrap interval.

Both are for small samples (3 to 20 replicates per side). With fewer than 2 values on
either side they return None: a single run has no spread, and the report says so.
"""

from __future__ import annotations

import functools
import math
import random
import statistics
from typing import Sequence

# Below this many replicates per side a two-sided U test cannot reach p < 0.05 at all
# (3 vs 3: the smallest p is 0.1); the report warns, as google/benchmark does below 9.
MIN_POWERFUL_REPLICATES = 4


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


@functools.lru_cache(maxsize=None)
def _u_counts(n1: int, n2: int) -> tuple[int, ...]:
    """Number of orderings of n1 x's and n2 y's giving each U = 0 .. n1*n2 (no ties)."""
    # f(n1, n2, u) = f(n1 - 1, n2, u - n2) + f(n1, n2 - 1, u)
    if n1 == 0 or n2 == 0:
        return (1,)
    a = _u_counts(n1 - 1, n2)
    b = _u_counts(n1, n2 - 1)
    out = [0] * (n1 * n2 + 1)
    for u in range(len(out)):
        if 0 <= u - n2 < len(a):
            out[u] += a[u - n2]
        if u < len(b):
            out[u] += b[u]
    return tuple(out)


def mann_whitney_u(x: Sequence[float], y: Sequence[float]) -> tuple[float, float] | None:
    """(U of x, two-sided p). Exact distribution without ties and n1*n2 <= 400; otherwise the
    normal approximation with tie correction and continuity correction."""
    n1, n2 = len(x), len(y)
    if n1 < 2 or n2 < 2:
        return None
    pooled = sorted([(v, 0) for v in x] + [(v, 1) for v in y])
    ranks = [0.0] * len(pooled)
    ties = []
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, pooled) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    u_small = min(u1, n1 * n2 - u1)
    if not ties and n1 * n2 <= 400:
        counts = _u_counts(n1, n2)
        total = sum(counts)
        tail = sum(counts[: int(math.floor(u_small)) + 1]) / total
        return u1, min(1.0, 2 * tail)
    n = n1 + n2
    tie_term = sum(t ** 3 - t for t in ties) / (n * (n - 1))
    var = n1 * n2 / 12 * ((n + 1) - tie_term)
    if var <= 0:
        return u1, 1.0  # every value equal
    z = (abs(u1 - n1 * n2 / 2) - 0.5) / math.sqrt(var)
    p = math.erfc(max(z, 0.0) / math.sqrt(2))
    return u1, min(1.0, p)


def bootstrap_median_difference(baseline: Sequence[float], candidate: Sequence[float], *,
                                resamples: int = 2000, confidence: float = 0.95,
                                seed: int = 20240605) -> tuple[float, float] | None:
    """Percentile bootstrap interval for median(candidate) - median(baseline); seeded, so a
    report is reproducible. None when either side has fewer than 2 values."""
    if len(baseline) < 2 or len(candidate) < 2:
        return None
    rng = random.Random(seed)
    diffs = []
    for _ in range(resamples):
        b = statistics.median(rng.choices(baseline, k=len(baseline)))
        c = statistics.median(rng.choices(candidate, k=len(candidate)))
        diffs.append(c - b)
    diffs.sort()
    alpha = (1 - confidence) / 2
    lo = diffs[int(math.floor(alpha * (resamples - 1)))]
    hi = diffs[int(math.ceil((1 - alpha) * (resamples - 1)))]
    return lo, hi
