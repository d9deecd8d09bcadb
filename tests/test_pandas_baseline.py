"""The per-symbol pandas baseline finds what the polars screeners find: an independent check of both.

Synthetic bars for 40 S&P symbols: 200 daily sessions before the target session, 20 sessions of
1-minute bars and 40 of 30-minute bars ending on it. Every screener screens every session of its
input, so the comparison covers all of them (the target session, or for the daily screeners the
last daily session, included), which gives each screener enough signals to compare (gapgo 6,
exhaustion_reversal 27, ORB 12 at its defaults and 132 with looser rules, the others 38 to 583).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import polars as pl
import pytest

from benchmarks import pandas_baseline as pb
from screeners import avwap_anchors, avwap_reclaim, breakout, ema_pullback, exhaustion_reversal, gapgo, orb
from screeners.breakout import BreakoutParams
from screeners.orb import OrbParams
from tradingstation.core import calendar, schemas
from tradingstation.resources.sources.synthetic_source import SyntheticSource

TARGET = calendar.session("2025-11-25")
PRICES = ["entry", "stop", "target"]  # both sides round them to cents: compared to the cent
# Scores: the screener rounds them to 2 decimals and the baseline does not, so allow that rounding.
SCORE_TOLERANCE = 0.0051


@pytest.fixture(scope="module")
def bars() -> dict[str, pl.DataFrame]:
    # A fixed sample (the synthetic source makes bars for any symbol): the first 40 rows of the former
    # hand-written S&P 500 file, so the signal counts below do not move with the index list.
    symbols = """AAPL MSFT NVDA AVGO ORCL CRM ADBE AMD CSCO ACN IBM INTU NOW TXN QCOM AMAT ADI MU LRCX KLAC
        PANW ANET INTC SNPS CDNS CRWD APH MSI ADSK ROP FTNT WDAY NXPI MCHP TEL IT CTSH GLW MPWR HPQ""".split()
    source = SyntheticSource()

    def fetch(interval: str, sessions_back: int, end: dt.date) -> pl.DataFrame:
        first = calendar.sessions_before(end, sessions_back)[0]
        raw = source.fetch(symbols, interval, first, end).bars
        return schemas.validate_bars(raw, intraday=interval != "1d").bars

    minutes = fetch("1m", 19, TARGET)
    return {
        "daily": fetch("1d", 200, calendar.previous_session(TARGET)),
        "minutes": minutes,
        "bars30": fetch("30m", 39, TARGET),
    }


@pytest.fixture(scope="module")
def pandas_bars(bars: dict[str, pl.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: frame.to_pandas() for name, frame in bars.items()}


@pytest.fixture(scope="module")
def anchor_pair(bars, pandas_bars) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Anchors as of the last 8 daily sessions, from each side (the reclaim test uses each its own)."""
    as_of = calendar.sessions_before(TARGET, 8)
    expected = avwap_anchors.find_anchors(bars["daily"], as_of=as_of)
    got = pl.from_pandas(pb.anchors(pandas_bars["daily"], as_of=as_of))
    return expected, got.with_columns(pl.col("date", "anchor_date").cast(pl.Date))


def compare(expected: pl.DataFrame, got: pd.DataFrame) -> str | None:
    """None when both find the same (date, symbol, side) set with the same prices to the cent and
    scores within SCORE_TOLERANCE; otherwise a description of the first differences."""
    got_pl = pl.from_pandas(got).with_columns(pl.col("date").cast(pl.Date)) if len(got) else expected.clear()
    key = ["date", "symbol", "side"]
    joined = expected.select(*key, "score", *PRICES).join(
        got_pl.select(*key, "score", *PRICES), on=key, how="full", coalesce=True, suffix="_pandas"
    )
    only = joined.filter(pl.col("entry").is_null() | pl.col("entry_pandas").is_null())
    if only.height:
        return f"signal sets differ ({expected.height} polars vs {len(got)} pandas):\n{only.head(10)}"
    far = pl.any_horizontal(
        *((pl.col(c) - pl.col(f"{c}_pandas")).abs() > 0.005 for c in PRICES),
        (pl.col("score") - pl.col("score_pandas")).abs() > SCORE_TOLERANCE,
    )
    bad = joined.filter(far)
    return f"prices or scores differ:\n{bad.head(10)}" if bad.height else None


def check(expected: pl.DataFrame, got: pd.DataFrame, at_least: int) -> None:
    assert expected.height >= at_least, f"too few signals ({expected.height}) for a meaningful comparison"
    problem = compare(expected, got)
    assert problem is None, problem


def test_anchors_agree(anchor_pair):
    expected, got = anchor_pair
    assert expected.height > 500 and expected["anchor_type"].n_unique() == 7
    key = ["date", "symbol", "anchor_date", "anchor_type"]
    joined = expected.join(got, on=key, how="full", coalesce=True, suffix="_pandas")
    assert joined.filter(pl.col("avwap").is_null() | pl.col("avwap_pandas").is_null()).is_empty()
    assert (joined["avwap"] - joined["avwap_pandas"]).abs().max() < 1e-9 * joined["avwap"].max()
    assert (joined["bars_since"] == joined["bars_since_pandas"]).all()


def test_gapgo_agrees(bars, pandas_bars):
    expected = gapgo.screen(bars["daily"], bars["minutes"])
    check(expected, pb.gapgo(pandas_bars["daily"], pandas_bars["minutes"]), at_least=3)


def test_orb_agrees(bars, pandas_bars):
    # The defaults flag about 1% of the symbols a session: compared over all 20 sessions.
    expected = orb.screen(bars["minutes"])
    assert expected["rvol_time"].is_not_null().any()  # the time-of-day volume term is exercised
    check(expected, pb.orb(pandas_bars["minutes"]), at_least=10)
    # Looser rules exercise the other paths: later confirmed closes and the in-play filter.
    loose = OrbParams(first_close_only=False, min_rvol_time=0.8)
    expected = orb.screen(bars["minutes"], loose)
    assert expected.filter(pl.col("date") == TARGET).height >= 5 and expected["rvol_time"].min() >= 0.8
    check(expected, pb.orb(pandas_bars["minutes"], loose), at_least=50)


def test_avwap_reclaim_agrees(bars, pandas_bars, anchor_pair):
    expected_anchors, got_anchors = anchor_pair
    expected = avwap_reclaim.screen(bars["daily"], expected_anchors)
    got = pb.avwap_reclaim(pandas_bars["daily"], got_anchors.to_pandas())
    # The best anchor's type can differ on a tie (e.g. one bar both a swing high and a swing low,
    # same points: polars' sort is not stable), which changes no price or score: not compared.
    check(expected, got, at_least=10)


def test_breakout_agrees(bars, pandas_bars):
    check(breakout.screen(bars["daily"]), pb.breakout(pandas_bars["daily"]), at_least=50)


def test_ema_pullback_agrees(bars, pandas_bars):
    check(ema_pullback.screen(bars["daily"]), pb.ema_pullback(pandas_bars["daily"]), at_least=50)


def test_exhaustion_reversal_agrees(bars, pandas_bars):
    expected = exhaustion_reversal.screen(bars["bars30"], bars["daily"])
    got = pb.exhaustion_reversal(pandas_bars["bars30"], pandas_bars["daily"])
    check(expected, got, at_least=10)


def test_compare_catches_a_different_rule(bars, pandas_bars):
    """The comparison can fail: a baseline run with another volume threshold disagrees."""
    expected = breakout.screen(bars["daily"])
    stricter = pb.breakout(pandas_bars["daily"], BreakoutParams(min_relative_volume=2.0))
    assert "signal sets differ" in compare(expected, stricter)
    shifted = pb.breakout(pandas_bars["daily"]).assign(stop=lambda d: d["stop"] + 0.01)
    assert "prices" in compare(expected, shifted)
