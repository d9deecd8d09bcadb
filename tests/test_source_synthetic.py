"""SyntheticSource: deterministic, self-consistent across intervals, and inside the bar contract."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tradingstation.core import calendar, schemas
from tradingstation.resources.sources.synthetic_source import SyntheticSource

SYMBOLS = [f"T{i:03d}" for i in range(60)] + ["AAPL", "BRK.B"]
DAY = dt.date(2025, 3, 3)
PRICES = ["open", "high", "low", "close"]
AGG = [pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
       pl.col("volume").sum()]


@pytest.fixture(scope="module")
def source() -> SyntheticSource:
    return SyntheticSource()


@pytest.fixture(scope="module")
def minute(source: SyntheticSource) -> pl.DataFrame:
    # A normal session and the day-after-Thanksgiving early close (13:00 ET).
    bars = source.fetch(SYMBOLS, "1m", DAY, dt.date(2025, 3, 4)).bars
    early = source.fetch(SYMBOLS, "1m", dt.date(2024, 11, 29), dt.date(2024, 11, 29)).bars
    return pl.concat([bars, early])


def test_same_seed_same_bars_new_seed_new_bars(source: SyntheticSource) -> None:
    a = source.fetch(SYMBOLS, "1d", DAY, dt.date(2025, 3, 14)).bars
    assert a.equals(SyntheticSource(seed=7).fetch(SYMBOLS, "1d", DAY, dt.date(2025, 3, 14)).bars)
    assert not a.equals(SyntheticSource(seed=8).fetch(SYMBOLS, "1d", DAY, dt.date(2025, 3, 14)).bars)


def test_a_bar_does_not_depend_on_the_request_shape(source: SyntheticSource) -> None:
    alone = source.fetch(["AAPL"], "1d", DAY, DAY).bars
    year = source.fetch(["MSFT", "AAPL", *SYMBOLS[:5]], "1d", dt.date(2024, 6, 1), dt.date(2025, 6, 1)).bars
    assert year.height == 7 * len(calendar.sessions_in_range(dt.date(2024, 6, 1), dt.date(2025, 6, 1)))
    assert alone.equals(year.filter((pl.col("symbol") == "AAPL") & (pl.col("ts") == alone["ts"][0])))
    one_minute = source.fetch(["AAPL"], "1m", DAY, DAY).bars
    many = source.fetch(["ZZZ", "AAPL"], "1m", dt.date(2025, 2, 28), DAY).bars
    same = many.filter((pl.col("symbol") == "AAPL") & (pl.col("ts") >= one_minute["ts"].min()))
    assert one_minute.equals(same)


def test_daily_bars_are_inside_the_contract_and_varied(source: SyntheticSource) -> None:
    raw = source.fetch(SYMBOLS, "1d", dt.date(2024, 1, 1), dt.date(2024, 12, 31)).bars
    checked = schemas.validate_bars(raw, intraday=False)
    assert checked.quarantine.is_empty() and checked.bars.height == len(SYMBOLS) * 252
    assert (raw.select(PRICES) * 100).select(pl.all().round(6) % 1 == 0).to_numpy().all()  # cents
    medians = raw.group_by("symbol").agg(pl.col("close").median())["close"]
    assert medians.min() < 25 and medians.max() > 150  # price levels differ per symbol
    assert raw["close"].min() > 1 and raw["close"].max() < 2000


def test_intraday_bars_are_inside_the_contract(minute: pl.DataFrame) -> None:
    checked = schemas.validate_bars(minute, intraday=True)
    assert checked.quarantine.is_empty()
    counts = dict(checked.bars.group_by("session").len().iter_rows())
    assert counts["regular"] == len(SYMBOLS) * (390 * 2 + 210)
    extended_minutes = len(SYMBOLS) * ((330 + 240) * 3)
    assert 0.05 < (counts["pre"] + counts["post"]) / extended_minutes < 0.45  # sparse


def test_intraday_aggregates_exactly_to_the_daily_bar(source: SyntheticSource, minute: pl.DataFrame) -> None:
    bars = schemas.validate_bars(minute, intraday=True).bars.filter(pl.col("session") == "regular")
    agg = bars.group_by("symbol", "date").agg(AGG)
    daily = pl.concat([source.fetch(SYMBOLS, "1d", DAY, dt.date(2025, 3, 4)).bars,
                       source.fetch(SYMBOLS, "1d", dt.date(2024, 11, 29), dt.date(2024, 11, 29)).bars])
    daily = schemas.validate_bars(daily, intraday=False).bars
    joined = daily.join(agg, on=["symbol", "date"], suffix="_1m")
    assert joined.height == len(SYMBOLS) * 3
    for col in PRICES:
        assert ((joined[col] - joined[f"{col}_1m"]).abs() < 0.005).all(), col
    assert (joined["volume"] == joined["volume_1m"]).all()


def test_30m_bars_aggregate_the_same_regular_minutes(source: SyntheticSource, minute: pl.DataFrame) -> None:
    thirty = source.fetch(SYMBOLS, "30m", DAY, DAY).bars.sort("symbol", "ts")
    assert thirty.height == len(SYMBOLS) * 13
    regular = schemas.validate_bars(minute, intraday=True).bars.filter(
        (pl.col("session") == "regular") & (pl.col("date") == DAY)
    )
    expected = regular.sort("symbol", "ts").group_by_dynamic("ts", every="30m", group_by="symbol").agg(AGG)
    expected = expected.sort("symbol", "ts")
    assert thirty.select("symbol", "ts", *PRICES).equals(expected.select("symbol", "ts", *PRICES))
    assert (thirty["volume"] == expected["volume"].cast(pl.Float64)).all()


def test_regular_volume_is_u_shaped(minute: pl.DataFrame) -> None:
    bars = schemas.validate_bars(minute, intraday=True).bars.filter(
        (pl.col("session") == "regular") & (pl.col("date") == DAY)
    )
    ny = pl.col("ts").dt.convert_time_zone("America/New_York").dt.time()
    share = bars.with_columns(share=pl.col("volume") / pl.col("volume").sum().over("symbol"))
    first = share.filter(ny < dt.time(10, 0))["share"].mean()
    last = share.filter(ny >= dt.time(15, 30))["share"].mean()
    midday = share.filter((ny >= dt.time(12, 0)) & (ny < dt.time(13, 30)))["share"].mean()
    assert first > 1.5 * midday and last > 1.5 * midday


def test_big_gaps_with_heavy_premarket_exist_every_day(source: SyntheticSource) -> None:
    from tradingstation.core.universe_lists import load_sp500

    symbols, _ = load_sp500()
    start, end = dt.date(2025, 3, 3), dt.date(2025, 3, 7)
    daily = source.fetch(symbols, "1d", dt.date(2025, 2, 28), end).bars.sort("symbol", "ts")
    gaps = daily.with_columns(gap=pl.col("open") / pl.col("close").shift(1).over("symbol") - 1).filter(
        pl.col("ts").dt.date() >= start
    )
    big = gaps.filter(pl.col("gap").abs() > 0.04)
    per_day = big.group_by(pl.col("ts").dt.date()).len()
    assert per_day.height == 5 and per_day["len"].min() >= 1, per_day
    day = big["ts"].dt.date().min()
    gappers = big.filter(pl.col("ts").dt.date() == day)["symbol"].to_list()
    sample = gappers + [s for s in symbols[:40] if s not in gappers]
    pre = schemas.validate_bars(source.fetch(sample, "1m", day, day).bars, intraday=True).bars
    pre_vol = pre.filter(pl.col("session") == "pre").group_by("symbol").agg(pl.col("volume").sum())
    heavy = dict(pre_vol.iter_rows())
    quiet = sorted(heavy.get(s, 0) for s in sample if s not in gappers)
    assert min(heavy[s] for s in gappers) > quiet[len(quiet) // 2]


def test_any_symbol_and_invalid_tickers_are_failures(source: SyntheticSource) -> None:
    assert source.known_symbols() is None
    result = source.fetch(["brk.b", "bad ticker"], "1d", DAY, DAY)
    assert result.bars["symbol"].to_list() == ["BRK.B"] and list(result.failures) == ["bad ticker"]
    assert source.fetch(["AAPL"], "1d", dt.date(2025, 3, 1), dt.date(2025, 3, 2)).bars.is_empty()  # a weekend
