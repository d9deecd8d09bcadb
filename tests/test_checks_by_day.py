"""The one-pass checks of a backfill (integrity, gaps, steps, universe coverage) equal the per-session checks,
session by session."""

from __future__ import annotations

import random

import polars as pl

from lake_data import daily_frame
from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.quality.bar_contract import bar_integrity, bar_integrity_by_day
from tradingstation.quality.coverage import universe_coverage, universe_coverage_by_day
from tradingstation.quality.gaps import gap_window, missing_sessions, missing_sessions_by_day
from tradingstation.quality.steps import price_volume_steps, price_volume_steps_by_day, step_table
from tradingstation.quality.universe import included_symbols, session_universes


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


def _broken_daily_bars(rng: random.Random, days: list) -> pl.DataFrame:
    """Daily bars of 40 symbols over ``days`` with every kind of contract break sprinkled on a few sessions."""
    bars = daily_frame([d.isoformat() for d in days], [f"S{i:02d}" for i in range(40)]).with_row_index("i")
    n = bars.height
    picks = {kind: set(rng.sample(range(n), 3)) for kind in ("null", "price", "volume", "order", "dup", "date")}
    broken = bars.with_columns(
        close=pl.when(pl.col("i").is_in(list(picks["null"]))).then(None).otherwise(pl.col("close")),
        open=pl.when(pl.col("i").is_in(list(picks["price"]))).then(float("nan")).otherwise(pl.col("open")),
        volume=pl.when(pl.col("i").is_in(list(picks["volume"]))).then(-5).otherwise(pl.col("volume")),
        low=pl.when(pl.col("i").is_in(list(picks["order"]))).then(pl.col("high") * 2).otherwise(pl.col("low")),
        ts=pl.when(pl.col("i").is_in(list(picks["date"]))).then(pl.col("ts") + pl.duration(days=1))
        .otherwise(pl.col("ts")),
    )
    twins = broken.filter(pl.col("i").is_in(list(picks["dup"]))).with_columns(pl.col("close") + 0.01)
    # the same (symbol, ts) in two sessions is no duplicate within either (its date is wrong in one)
    elsewhere = broken.filter(pl.col("i") == 0).with_columns(date=pl.lit(days[-1]))
    return pl.concat([broken, twins, elsewhere]).drop("i").sample(fraction=1.0, shuffle=True, seed=3)


def test_integrity_of_many_days_in_one_pass_equals_each_day_on_its_own() -> None:
    rng = random.Random(7)
    days = calendar.sessions_before("2025-06-02", 25)
    bars = _broken_daily_bars(rng, days)
    asked = [*days, calendar.session("2025-06-02")]  # and a session without rows: checks nothing
    together = bar_integrity_by_day(bars, asked)
    assert list(together) == asked
    failed = 0
    for day in asked:
        alone = bar_integrity(bars.filter(pl.col("date") == day))
        _same(together[day], alone)
        failed += not alone.passed
    assert 0 < failed < len(days)  # the data has both: a test that could fail
    kinds = {k for f in together.values() for k, v in f.counts.items() if v and k not in
             ("rows_checked", "symbols_checked", "bad_rows")}
    assert kinds == {"null_values", "non_positive_or_non_finite_price", "negative_volume", "ohlc_out_of_order",
                     "duplicate_symbol_ts", "ts_outside_its_session_date"}


def test_steps_of_many_days_in_one_pass_equal_each_day_on_its_own() -> None:
    rng = random.Random(3)
    days = calendar.sessions_before("2025-06-02", 30)
    bars = daily_frame([d.isoformat() for d in days], [f"S{i:02d}" for i in range(60)]).with_row_index("i")
    jumps = {i: rng.choice([0.4, 1.7, 2.2, 0.7]) for i in rng.sample(range(bars.height), 12)}  # splits, bad prints
    heavy = set(rng.sample(sorted(jumps), 6))  # some with 5x the shares
    bars = bars.with_columns(
        *(pl.when(pl.col("i").is_in(list(jumps))).then(pl.col(c) * pl.col("i").replace_strict(jumps, default=1.0))
          .otherwise(pl.col(c)) for c in ("open", "high", "low", "close")),
        volume=pl.when(pl.col("i").is_in(list(heavy))).then(pl.col("volume") * 5).otherwise(pl.col("volume")),
    ).drop("i")
    asked = [*days, calendar.session("2025-06-02")]  # the first session has no previous bar; the last no bars
    together = price_volume_steps_by_day(step_table(bars), asked)
    assert list(together) == asked
    failed = 0
    for day in asked:
        alone = price_volume_steps(bars, [day])
        _same(together[day], alone)
        failed += not alone.passed
    assert 0 < failed < len(days)
    assert together[days[0]].counts["bars_checked"] == 0 and "no bar has a previous bar" in together[days[0]].description
    assert any(f.counts["volume_steps"] for f in together.values())


def test_each_session_reads_its_own_universe_or_borrows_the_nearest(tmp_path) -> None:  # noqa: ANN001
    rng = random.Random(9)
    lake = Lake(str(tmp_path))
    days = calendar.sessions_before("2025-06-02", 12)
    stored = days[2:10:2]  # four universe partitions, the second with nobody included
    symbols = [f"S{i:02d}" for i in range(30)]
    for n, day in enumerate(stored):
        chosen = set() if n == 1 else set(rng.sample(symbols, 20))
        frame = pl.DataFrame({"date": day, "symbol": symbols, "included": [s in chosen for s in symbols],
                              "reason": "", "last_close": 10.0, "avg_dollar_volume": 1e7, "list_name": "explicit",
                              "list_as_of": None, "sector": None, "industry": None, "exchange": None})
        lake.write("universe", day, schemas.conform(frame, schemas.UNIVERSE))
    found = session_universes(lake, days)
    for day in days:
        own = max([u for u in stored if u <= day], default=stored[0])  # its own, the latest before, the earliest
        assert found.used[day] == own
        assert found.symbols(day) == included_symbols(lake.read("universe", sessions=[own])), day
    assert found.symbols(stored[1]) == [] and len(found.symbols(stored[0])) == 20


def test_sessions_without_rows_get_counts_of_their_own() -> None:
    """A caller adds to a session's counts (the gap check does): no other session may see it."""
    days = calendar.sessions_before("2025-06-02", 2)
    bars = daily_frame([days[0].isoformat()], ["S00"]).clear()
    for found in (bar_integrity_by_day(bars, days), price_volume_steps_by_day(step_table(bars), days)):
        first, second = (found[d] for d in days)
        first.counts["window_sessions_not_in_lake"] = 3
        assert "window_sessions_not_in_lake" not in second.counts
