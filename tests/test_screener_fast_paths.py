"""The screeners' fast paths pinned to ``screeners/indicators.py`` on real bars.

``exhaustion_reversal`` and ``breakout`` re-derive ATR, VWAP, volume averages and row positions
without ``.over`` windows, for speed. Each fast path must give what the indicator it replaces
gives (bit for bit where the operations are the same, to a few ulps where a sum is reordered), on
real daily bars (AAPL, GOOG, SPY, INTC stacked) and real intraday bars (the S&P 500 minutes of
2019-11-05..08 as 30-minute bars, plus an altered copy so symbols differ).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from screeners import breakout as bo
from screeners import exhaustion_reversal as er
from screeners import indicators as ind

from conftest import REAL_DATA as REAL

DAILY = {
    "AAPL": "yahoofinance-AAPL-20040819-20180120.csv",
    "GOOG": "yahoofinance-GOOG-20040819-20180120.csv",
    "INTC": "yahoofinance-INTC-19950101-20040412.csv",
    "SPY": "yahoofinance-SPY-20080101-20180101.csv",
}
KEY = ["symbol", "date"]
NY = "America/New_York"

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="real data fixtures not available")


@pytest.fixture(scope="module")
def daily() -> pl.DataFrame:
    """Real daily bars of four symbols, sorted by (symbol, date), as the screeners get them."""
    frames = []
    for symbol, name in DAILY.items():
        df = pl.read_csv(REAL / name, try_parse_dates=True)
        frames.append(
            df.select(
                pl.lit(symbol).alias("symbol"),
                pl.col("Date").alias("date"),
                *(pl.col(c.title()).cast(pl.Float64).alias(c) for c in ("open", "high", "low", "close")),
                pl.col("Volume").cast(pl.Int64).alias("volume"),
            )
        )
    return pl.concat(frames).sort(KEY)


@pytest.fixture(scope="module")
def bars_30m() -> pl.DataFrame:
    """Regular-session 30-minute bars (UTC ``ts`` = bar start) of 'SPX' and 'ALT' (volume reversed,
    prices halved), sorted by (symbol, ts): 4 sessions of 13 bars each."""
    raw = pl.read_csv(REAL / "SP500_NOV2019_IDayRVol.csv", try_parse_dates=True).rename(str.lower)
    prices = ("open", "high", "low", "close")
    alt = raw.with_columns(pl.col("volume").reverse(), *(pl.col(c) * 0.5 for c in prices))
    minutes = pl.concat([raw.with_columns(symbol=pl.lit("SPX")), alt.with_columns(symbol=pl.lit("ALT"))])
    minutes = minutes.filter(pl.col("date").dt.time() < dt.time(16, 0))  # the file has a few 16:00 prints
    minutes = minutes.with_columns(ts=pl.col("date").dt.replace_time_zone(NY)).sort("symbol", "ts")
    bars = minutes.group_by_dynamic("ts", every="30m", group_by="symbol").agg(
        pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
        pl.col("volume").sum(),
    )
    bars = bars.with_columns(date=pl.col("ts").dt.date(), ts=pl.col("ts").dt.convert_time_zone("UTC"))
    return bars.select("date", "symbol", "ts", "open", "high", "low", "close", "volume").sort("symbol", "ts")


def _sessions(reg: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series, pl.Series, pl.Series, pl.Series]:
    """What ``exhaustion_reversal.screen`` derives before its fast paths: the ordered bars, each
    row's symbol number and session number, each session's first row, and the symbol names."""
    reg, sid, names = er._order(reg, "ts")
    first = ((sid != sid.shift(1)) | (reg["date"] != reg["date"].shift(1))).fill_null(True)
    g, starts = first.cast(pl.Int64).cum_sum() - 1, first.arg_true().cast(pl.Int64)
    return reg, sid, g, starts, names


# ---------------------------------------------------------------- exhaustion reversal
@pytest.mark.parametrize("n", [14, 5])
def test_prior_atr_is_the_atr_indicator_of_the_bar_before(daily: pl.DataFrame, n: int) -> None:
    # Queried: sessions of three daily symbols and one without daily bars; INTC has bars, no query.
    dates = daily.filter(pl.col("symbol") == "AAPL")["date"].gather_every(37)
    names = pl.Series(["AAPL", "GOOG", "SPY", "ZZZ"])
    queries = pl.DataFrame({"symbol": names}).join(pl.DataFrame({"date": dates}), how="cross").sort(KEY)
    sid = queries["symbol"].replace_strict(names, pl.int_range(len(names), eager=True), return_dtype=pl.Int64)
    got = er._prior_atr(daily, n, names, sid, queries["date"])

    atr = daily.with_columns(atr=ind.atr("high", "low", "close", n).over("symbol")).drop_nulls("atr")
    want = queries.sort("date").join_asof(
        atr.select("symbol", "date", "atr").sort("date"), on="date", by="symbol", strategy="backward",
        allow_exact_matches=False,  # strictly before the session
        check_sortedness=False,  # sorted by date; polars cannot verify it per 'by' group
    ).sort(KEY)["atr"]
    assert want.null_count() < len(want) // 2 and got.null_count() == want.null_count()
    assert got.equals(want)  # bit for bit: the same operations, one per window


def test_time_of_day_relative_volume_fast_path(
    bars_30m: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = 3
    reg, sid, g, starts, _ = _sessions(bars_30m)
    tod = reg["ts"].dt.convert_time_zone(NY).dt.time()
    want = reg.select(ind.relative_volume_at_time("volume", n).over(pl.col("symbol"), tod)).to_series()

    def no_window(*args: object) -> pl.Expr:
        raise AssertionError("the fast path should not fall back to the window")

    monkeypatch.setattr(er.ind, "relative_volume_at_time", no_window)
    got = er._tod_relative_volume(reg, sid, g, starts, n)
    assert want.null_count() == 2 * n * 13 and got.equals(want)  # whole volumes: exact sums


def test_time_of_day_relative_volume_with_a_missing_bar_takes_the_window(bars_30m: pl.DataFrame) -> None:
    n = 2
    gap = bars_30m.filter(~((pl.col("symbol") == "ALT") & (pl.col("ts") == pl.col("ts").max())))
    reg, sid, g, starts, _ = _sessions(gap)
    tod = reg["ts"].dt.convert_time_zone(NY).dt.time()
    want = reg.select(ind.relative_volume_at_time("volume", n).over(pl.col("symbol"), tod)).to_series()
    assert er._tod_relative_volume(reg, sid, g, starts, n).equals(want)


def test_session_vwap_and_running_extremes_at_any_bar(bars_30m: pl.DataFrame) -> None:
    reg, sid, g, starts, _ = _sessions(bars_30m)
    rows = pl.int_range(reg.height, dtype=pl.Int64, eager=True).filter(
        pl.int_range(reg.height, eager=True) % 3 != 0  # a sample of bars, first bars of sessions included
    )
    j = rows - starts.gather(g.gather(rows))
    want = reg.with_columns(
        _j=ind.row_index("symbol", "date"),
        vwap=ind.vwap("high", "low", "close", "volume").over(KEY),
        run_high=pl.col("high").cum_max().over(KEY),
        run_low=pl.col("low").cum_min().over(KEY),
        session_open=pl.col("open").first().over(KEY),
        prev_high=pl.col("high").shift(1).over(KEY),
        prev_low=pl.col("low").shift(1).over(KEY),
    )[rows]
    assert j.equals(want["_j"], check_names=False)
    sig = reg[rows].with_columns(_row=rows, _j=j)
    assert er._session_vwap(reg, sig).equals(want["vwap"], check_names=False)
    running = er._running(reg, sig.filter(pl.col("_j") >= 1))  # candidates are never a session's first bar
    later = want.filter(pl.col("_j") >= 1)
    for column in ("run_high", "run_low", "session_open", "prev_high", "prev_low"):
        assert running[column].equals(later[column]), column


# ---------------------------------------------------------------- breakout
def test_breakout_volume_average_and_row_index(daily: pl.DataFrame) -> None:
    p = bo.BreakoutParams(min_relative_volume=0.0, min_price=0.0, min_avg_volume=0)
    cand = bo._candidates(daily, p)
    want = daily.with_columns(
        _i=ind.row_index("symbol"),
        check_i=pl.int_range(pl.len(), dtype=pl.Int64).over("symbol"),
        rel_volume=ind.relative_volume("volume", p.volume_days).over("symbol"),
        avg_volume=pl.col("volume").cast(pl.Float64).shift(1).rolling_mean(p.volume_days).over("symbol"),
    ).filter(pl.col("_i") >= max(p.min_consolidation_days, p.volume_days))
    assert want["_i"].equals(want["check_i"], check_names=False)
    assert cand.height == want.height > 10_000  # every row past the warm-up, each symbol's own
    for column in ("_i", "rel_volume", "avg_volume"):
        assert cand[column].equals(want[column]), column  # whole volumes: exact sums


def test_breakout_bases_are_the_consolidation_indicator_of_the_bars_before(daily: pl.DataFrame) -> None:
    p = bo.BreakoutParams(min_relative_volume=0.0, min_price=0.0, min_avg_volume=0, max_range_pct=15.0)
    n0, n1 = p.min_consolidation_days, p.max_consolidation_days
    bases = bo._bases(daily, bo._candidates(daily, p), p, n0, n1).filter(pl.col("base_days") >= n0)
    assert bases.height > 1000 and bases["base_days"].n_unique() == n1 - n0 + 1
    before = {  # each length's range over the n bars before the row (the row itself excluded), nulls NaN
        n: {
            name: series.to_numpy()
            for name, series in daily.select(
                width=ind.consolidation_width("high", "low", n).shift(1).over("symbol"),
                high=pl.col("high").rolling_max(n).shift(1).over("symbol"),
                low=pl.col("low").rolling_min(n).shift(1).over("symbol"),
            ).to_dict().items()
        }
        for n in range(n0, n1 + 1)
    }
    at, n = bases["_r"].to_list(), bases["base_days"]
    for column, field in (("range_high", "high"), ("range_low", "low"), ("range_pct", "width")):
        want = np.array([before[k][field][r] for k, r in zip(n, at)])
        if column == "range_pct":  # a compensated sum against a rolling mean: a few ulps apart
            np.testing.assert_allclose(bases[column].to_numpy(), want, rtol=1e-13, atol=0)
        else:
            assert np.array_equal(bases[column].to_numpy(), want), column
    widths = np.array([[before[k]["width"][r] for k in range(n0, n1 + 1)] for r in at])
    qualifies = np.cumprod(widths <= p.max_range_pct, axis=1).sum(axis=1)  # lengths n0.. in a row
    assert np.array_equal(n.to_numpy(), n0 - 1 + qualifies)  # the longest qualifying base
