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


def test_the_fit_uses_the_points_under_load_only_and_gives_an_interval():
    # held connections after the last request, then closing: not growth per request
    timeline = [{"requests": r, "heap": 1000 + 32 * r + (50 if i % 2 else -50)} for i, r in enumerate(range(0, 1001, 100))]
    timeline += [{"requests": 1000, "heap": 9_000_000}, {"requests": 1000, "heap": 1000}]
    f = fit.timeline_fit(timeline, "heap")
    assert f.points == 11 and f.slope == pytest.approx(32, abs=0.5) and f.low < f.slope < f.high and f.high - f.low < 1
    assert fit.timeline_fit(timeline[:3] + timeline[-2:], "heap", min_points=5) is None


def test_t_quantile_is_close_to_the_table():
    for df, t in ((3, 3.182), (10, 2.228), (30, 2.042), (1000, 1.962)):
        assert fit.t_975(df) == pytest.approx(t, rel=0.01)
