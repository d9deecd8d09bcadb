"""Indicators vs TA-Lib (recursive ones) and vs plain per-symbol numpy/pandas loops (the rest),
on real bars with several symbols stacked and interleaved, so ``.over`` separation is exercised."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from screeners import indicators as ind

from conftest import REAL_DATA as REAL

DAILY = {
    "AAPL": "yahoofinance-AAPL-20040819-20180120.csv",
    "GOOG": "yahoofinance-GOOG-20040819-20180120.csv",
    "SPY": "yahoofinance-SPY-20080101-20180101.csv",
}
RTOL = 1e-8

pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="real data fixtures not available")


def _read_daily(symbol: str) -> pl.DataFrame:
    df = pl.read_csv(REAL / DAILY[symbol], try_parse_dates=True)
    return df.select(
        pl.lit(symbol).alias("symbol"),
        pl.col("Date").alias("date"),
        *(pl.col(c.title()).cast(pl.Float64).alias(c) for c in ("open", "high", "low", "close")),
        pl.col("Volume").cast(pl.Int64).alias("volume"),
    )


@pytest.fixture(scope="module")
def daily() -> pl.DataFrame:
    """AAPL, GOOG, SPY interleaved by date; GOOG's first 7 closes nulled (late-starting history)."""
    df = pl.concat([_read_daily(s) for s in DAILY]).sort("date", "symbol")
    first_goog = pl.int_range(pl.len()).over("symbol") < 7
    late = (pl.col("symbol") == "GOOG") & first_goog
    return df.with_columns(pl.when(late).then(None).otherwise(pl.col("close")).alias("close"))


def _per_symbol(df: pl.DataFrame, expr: pl.Expr, over: str | list[str] = "symbol") -> pl.DataFrame:
    return df.with_columns(expr.over(over).alias("out"))


def _check(got: np.ndarray, want: np.ndarray) -> None:
    assert np.array_equal(np.isnan(got), np.isnan(want)), "null/NaN positions differ"
    assert np.isfinite(want).sum() > 100
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)


# ---------------------------------------------------------------- TA-Lib comparisons
@pytest.mark.parametrize(
    ("name", "make", "ref"),
    [
        ("sma20", lambda: ind.sma("close", 20), lambda t, d: t.SMA(d["close"], 20)),
        ("ema10", lambda: ind.ema("close", 10), lambda t, d: t.EMA(d["close"], 10)),
        ("ema50", lambda: ind.ema(pl.col("close"), 50), lambda t, d: t.EMA(d["close"], 50)),
        ("rsi14", lambda: ind.rsi("close", 14), lambda t, d: t.RSI(d["close"], 14)),
        ("rsi2", lambda: ind.rsi("close", 2), lambda t, d: t.RSI(d["close"], 2)),
        ("trange", lambda: ind.true_range("high", "low", "close"),
         lambda t, d: t.TRANGE(d["high"], d["low"], d["close"])),
        ("atr14", lambda: ind.atr("high", "low", "close", 14),
         lambda t, d: t.ATR(d["high"], d["low"], d["close"], 14)),
        ("atr5", lambda: ind.atr("high", "low", "close", 5),
         lambda t, d: t.ATR(d["high"], d["low"], d["close"], 5)),
    ],
)
def test_against_talib(daily: pl.DataFrame, name: str, make, ref) -> None:
    talib = pytest.importorskip("talib")
    out = _per_symbol(daily, make())
    for sym in DAILY:
        part = out.filter(pl.col("symbol") == sym)
        arrays = {c: part[c].to_numpy().astype(np.float64) for c in ("high", "low", "close")}
        _check(part["out"].to_numpy().astype(np.float64), ref(talib, arrays))


def test_ema_warmup_counts_non_null_values(daily: pl.DataFrame) -> None:
    out = _per_symbol(daily, ind.ema("close", 10)).filter(pl.col("symbol") == "GOOG")["out"]
    assert out.head(7 + 9).null_count() == 16 and out[16] is not None
    closes = daily.filter(pl.col("symbol") == "GOOG")["close"]
    assert out[16] == pytest.approx(closes[7:17].mean(), rel=1e-12)


# ---------------------------------------------------------------- reference loops
def test_gap_percent(daily: pl.DataFrame) -> None:
    out = _per_symbol(daily, ind.gap_percent("open")).to_pandas()
    via_prev = daily.with_columns(
        ind.gap_percent("open", pl.col("close").shift(1).over("symbol")).alias("out")
    )["out"].to_numpy()
    for sym, g in out.groupby("symbol", sort=False):
        want = np.full(len(g), np.nan)
        o, c = g["open"].to_numpy(), g["close"].to_numpy()
        for i in range(1, len(g)):
            want[i] = (o[i] / c[i - 1] - 1.0) * 100.0
        np.testing.assert_allclose(g["out"].to_numpy(dtype=float), want, rtol=RTOL)
    np.testing.assert_allclose(out["out"].to_numpy(dtype=float), via_prev.astype(float), rtol=RTOL)


def test_consolidation_width(daily: pl.DataFrame) -> None:
    n = 10
    out = _per_symbol(daily, ind.consolidation_width("high", "low", n, close="open")).to_pandas()
    for _, g in out.groupby("symbol", sort=False):
        h, lo, c = (g[k].to_numpy() for k in ("high", "low", "open"))
        want = np.full(len(g), np.nan)
        for i in range(n - 1, len(g)):
            w = slice(i - n + 1, i + 1)
            want[i] = (h[w].max() - lo[w].min()) / c[w].mean() * 100.0
        _check(g["out"].to_numpy(dtype=float), want)


def test_relative_volume(daily: pl.DataFrame) -> None:
    n = 20
    out = _per_symbol(daily, ind.relative_volume("volume", n)).to_pandas()
    for _, g in out.groupby("symbol", sort=False):
        v = g["volume"].to_numpy(dtype=float)
        want = np.full(len(g), np.nan)
        for i in range(n, len(g)):
            want[i] = v[i] / v[i - n : i].mean()
        _check(g["out"].to_numpy(dtype=float), want)


def test_anchored_vwap(daily: pl.DataFrame) -> None:
    anchors = {"AAPL": "2010-05-06", "GOOG": "2008-09-15", "SPY": "2011-08-08"}
    mask = pl.lit(False)
    for sym, day in anchors.items():
        mask = mask | ((pl.col("symbol") == sym) & (pl.col("date") == pl.lit(day).str.to_date()))
    # the mask marks the anchor row only, and is True again later: must not re-anchor
    mask = mask | ((pl.col("symbol") == "SPY") & (pl.col("date") == pl.date(2015, 1, 2)))
    out = _per_symbol(daily, ind.anchored_vwap("high", "low", "close", "volume", mask)).to_pandas()
    for sym, g in out.groupby("symbol", sort=False):
        tp = ((g["high"] + g["low"] + g["close"]) / 3.0).to_numpy(dtype=float)
        v = g["volume"].to_numpy(dtype=float)
        start = int(np.flatnonzero(g["date"].astype(str).to_numpy() == anchors[sym])[0])
        want = np.full(len(g), np.nan)
        pv = vol = 0.0
        for i in range(start, len(g)):
            pv, vol = pv + tp[i] * v[i], vol + v[i]
            want[i] = pv / vol
        _check(g["out"].to_numpy(dtype=float), want)


# ---------------------------------------------------------------- intraday
@pytest.fixture(scope="module")
def intraday() -> pl.DataFrame:
    """S&P 500 1-minute bars (4 sessions) as 'SPX', plus 'ALT' (volume reversed within the file,
    prices scaled, every 7th bar dropped) so the symbols differ; interleaved by timestamp."""
    raw = pl.read_csv(REAL / "SP500_NOV2019_IDayRVol.csv", try_parse_dates=True).rename(str.lower)
    alt = raw.with_columns(
        pl.col("volume").reverse(), *(pl.col(c) * 0.5 for c in ("open", "high", "low", "close"))
    ).filter(pl.int_range(pl.len()) % 7 != 3)
    df = pl.concat([raw.with_columns(symbol=pl.lit("SPX")), alt.with_columns(symbol=pl.lit("ALT"))])
    return df.rename({"date": "ts"}).with_columns(
        pl.col("ts").dt.date().alias("date"), pl.col("ts").dt.time().alias("time_of_day")
    ).sort("ts", "symbol")


def test_session_vwap(intraday: pl.DataFrame) -> None:
    out = _per_symbol(intraday, ind.vwap("high", "low", "close", "volume"), ["symbol", "date"]).to_pandas()
    want = np.full(len(out), np.nan)
    state: dict[tuple, tuple[float, float]] = {}
    for i, r in enumerate(out.itertuples()):
        pv, vol = state.get((r.symbol, r.date), (0.0, 0.0))
        pv, vol = pv + (r.high + r.low + r.close) / 3.0 * r.volume, vol + r.volume
        state[(r.symbol, r.date)] = (pv, vol)
        want[i] = pv / vol
    _check(out["out"].to_numpy(dtype=float), want)


def test_relative_volume_at_time(intraday: pl.DataFrame) -> None:
    n = 2
    out = _per_symbol(intraday, ind.relative_volume_at_time("volume", n), ["symbol", "time_of_day"])
    out = out.to_pandas()
    want = np.full(len(out), np.nan)
    history: dict[tuple, list[float]] = {}
    for i, r in enumerate(out.itertuples()):
        past = history.setdefault((r.symbol, r.time_of_day), [])
        if len(past) >= n:
            want[i] = r.volume / np.mean(past[-n:])
        past.append(float(r.volume))
    _check(out["out"].to_numpy(dtype=float), want)


def test_relative_volume_at_time_sorted_matches_window(intraday: pl.DataFrame) -> None:
    n = 2
    keys = ["symbol", "time_of_day"]
    df = intraday.sort(*keys, "ts")
    got = df.select(out=ind.relative_volume_at_time_sorted("volume", n, keys))["out"]
    want = df.select(out=ind.relative_volume_at_time("volume", n).over(keys))["out"]
    assert want.null_count() < len(want) and got.equals(want)  # bit for bit, nulls included


def test_row_index_matches_window(daily: pl.DataFrame) -> None:
    df = daily.sort("symbol", "date")
    got = df.select(out=ind.row_index("symbol"))["out"]
    want = df.select(out=pl.int_range(pl.len(), dtype=pl.Int64).over("symbol"))["out"]
    assert got.equals(want) and got.max() > 1000


def test_rejects_bad_period() -> None:
    with pytest.raises(ValueError):
        ind.ema("close", 0)


def test_sorted_by_sorts_exactly_when_the_frame_is_out_of_order() -> None:
    """``sorted_by`` returns the frame sorted, and skips the sort exactly when a null-free frame is
    already in order (its fast check for string/date/integer keys and its general one agree with a
    real sort), on frames that are sorted, shuffled, nearly sorted (one swapped pair), tied, or hold
    nulls and floats."""
    import datetime as dt
    import random

    from screeners.indicators import sorted_by

    rng = random.Random(17)
    symbols = ["A", "AA", "B", "b", "É", "Z"]
    for case in range(300):
        n = rng.choice([0, 1, 2, 5, 40])
        frame = pl.DataFrame({
            "symbol": [rng.choice(symbols) for _ in range(n)],
            "date": [dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(4)) for _ in range(n)],
            "i": [rng.randrange(3) for _ in range(n)],
            "x": [rng.choice([0.5, 1.5, None]) for _ in range(n)],
        })
        if case % 3 == 0:
            frame = frame.sort("symbol", "date", "i")
            if case % 2 and n > 1:  # one swapped pair
                j = rng.randrange(n - 1)
                order = list(range(n))
                order[j], order[j + 1] = order[j + 1], order[j]
                frame = frame[order]
        if case % 7 == 0 and n:
            frame = frame.with_columns(symbol=pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise("symbol"))
        for keys in (["symbol"], ["symbol", "date"], ["symbol", "date", "i"], ["date", "symbol"], ["x"], ["symbol", "x"]):
            expected = frame.sort(keys, maintain_order=True)
            got = sorted_by(frame, *keys)
            assert got.select(keys).equals(expected.select(keys)), (case, keys, frame)  # ties: any order
            assert got.sort(pl.all()).equals(frame.sort(pl.all())), (case, keys)  # the same rows
            if not any(frame[k].has_nulls() for k in keys):  # with nulls it may sort anyway: same rows
                assert (got is frame) == frame.equals(expected), (case, keys)  # sorted only when it was not
