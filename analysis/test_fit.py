import pytest

from analysis import fit


def test_exact_line():
    xs = [0, 1000, 2000, 3000]
    assert fit.slope(xs, [100 + 64 * x for x in xs]) == pytest.approx(64)


def test_noise_around_a_flat_line_fits_near_zero():
    xs = list(range(0, 10000, 500))
    ys = [1_000_000 + (4096 if i % 2 else -4096) for i in range(len(xs))]
    assert abs(fit.slope(xs, ys)) < 1  # +-4 KiB of noise: well under a byte per request


def test_too_few_points_or_no_spread_is_none():
    assert fit.slope([1, 2], [3, 4]) is None
    assert fit.slope([5, 5, 5], [1, 2, 3]) is None
    with pytest.raises(ValueError):
        fit.slope([1, 2, 3], [1, 2])


def test_growth_per_request_skips_points_without_a_count():
    timeline = [{"requests": 0, "rss_bytes": 0}, {"requests": None, "rss_bytes": 999}, {"requests": 10, "rss_bytes": 80},
                {"requests": 20, "rss_bytes": 160}, {"requests": 30, "rss_bytes": None}]
    assert fit.growth_per_request(timeline, "rss_bytes") == pytest.approx(8)
