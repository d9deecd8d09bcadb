"""The one-pass checks of a backfill (gaps, universe coverage) equal the per-session checks, session by session."""

from __future__ import annotations

import random

import polars as pl

from tradingstation.core import calendar
from tradingstation.quality.coverage import universe_coverage, universe_coverage_by_day
from tradingstation.quality.gaps import gap_window, missing_sessions, missing_sessions_by_day


def _same(a, b) -> None:  # noqa: ANN001  (two Findings)
    assert (a.check, a.passed, a.description, a.counts, a.offenders, a.offender_count) == (
        b.check, b.passed, b.description, b.counts, b.offenders, b.offender_count)
    assert a.details.equals(b.details), (a.details, b.details)


def test_many_days_in_one_pass_equal_each_day_on_its_own() -> None:
    rng = random.Random(11)
    days = calendar.sessions_before("2025-06-02", 80)
    history = sorted({w for d in days for w in gap_window(d)})
    symbols = [f"S{i:02d}" for i in range(30)]
    rows = []
    for symbol in symbols:
        start, stop = rng.randrange(0, 30), rng.randrange(len(history) - 20, len(history) + 1)
        rows += [(symbol, d) for d in history[start:stop]]  # late starts, early stops
    holes = set(rng.sample(range(len(rows)), 2))  # and two sessions skipped
    rows = [row for i, row in enumerate(rows) if i not in holes]
    bars = pl.DataFrame(rows, schema={"symbol": pl.String, "date": pl.Date}, orient="row")
    # each session's universe: a symbol out of it that day is no gap
    expected = pl.DataFrame([(d, s) for d in history for s in symbols if rng.random() > 0.05],
                            schema={"date": pl.Date, "symbol": pl.String}, orient="row")

    for narrowed in (None, expected):
        together = missing_sessions_by_day(bars, days, narrowed)
        assert list(together) == days
        failed = 0
        for day in days:
            window = gap_window(day)
            alone = missing_sessions(bars.filter(pl.col("date").is_in(window)), window, narrowed)
            _same(together[day], alone)
            failed += not alone.passed
        assert 0 < failed < len(days)  # the data has both: a test that could fail


def test_a_day_without_bars_in_its_window_checks_nothing() -> None:
    days = calendar.sessions_before("2025-06-02", 3)
    bars = pl.DataFrame({"symbol": ["A"], "date": [calendar.session("2024-01-02")]})
    for day, found in missing_sessions_by_day(bars, days).items():
        _same(found, missing_sessions(bars.clear(), gap_window(day)))
        assert found.passed and found.counts["symbols_checked"] == 0


def test_coverage_of_many_days_in_one_pass_equals_each_day_on_its_own() -> None:
    rng = random.Random(5)
    days = calendar.sessions_before("2025-06-02", 30)
    symbols = [f"S{i:03d}" for i in range(150)]
    included = {d: rng.sample(symbols, 120) for d in days}
    included[days[3]] = []  # a session whose universe is empty passes, checking nothing
    rows = [(s, d) for d in days for s in symbols if rng.random() > (0.03 if d in days[::4] else 0.001)]
    bars = pl.DataFrame(rows, schema={"symbol": pl.String, "date": pl.Date}, orient="row")
    together = universe_coverage_by_day(bars, included)
    failed = 0
    for day in days:
        alone = universe_coverage(bars.filter(pl.col("date") == day), included[day], [day])
        _same(together[day], alone)
        failed += not alone.passed
    assert 0 < failed < len(days)
