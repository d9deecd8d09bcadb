"""Known-answer tests for the Gap & Go screener on small frames built here."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from screeners import common, gapgo
from screeners.gapgo import GapgoParams
from tradingstation.core import calendar, schemas

DAY = dt.date(2025, 11, 25)
PRIOR = calendar.sessions_before(DAY, 20)  # 20 sessions before DAY, oldest first
AVG_VOL = 2_500_000  # -> normal pre-market = 2% = 50,000 shares


def _daily(
    symbol: str, prev_close: float, prev_high: float, prev_low: float, vol: int = AVG_VOL, history: int = 20
) -> pl.DataFrame:
    """``history`` flat sessions at prev_close trading ``vol``, the last one with the given
    high/low, plus a bar for DAY itself whose close must never be used (look-ahead bait)."""
    rows, today_close, prior = [], 999.0, PRIOR[-history:]
    for i, d in enumerate([*prior, DAY]):
        last, today = i == len(prior) - 1, d == DAY
        close = today_close if today else prev_close
        high = prev_high if last else (max(close, today_close) if today else prev_close)
        low = prev_low if last else (min(close, prev_close) if today else prev_close)
        rows.append((d, symbol, calendar.session_open(d), close, high, low, close, vol))
    return pl.DataFrame(rows, schema=schemas.DAILY_BARS.names(), orient="row").cast(schemas.DAILY_BARS)


def _pre(symbol: str, closes: list[float], volume: int, high: float | None = None, low: float | None = None) -> pl.DataFrame:
    """One pre-market bar per close from 08:00 ET, each trading ``volume`` shares; optional extremes
    on the first bar; plus a regular-session bar at an absurd price that must be ignored."""
    start = dt.datetime.combine(DAY, dt.time(8, 0), tzinfo=calendar.NY).astimezone(dt.UTC)
    rows = []
    for i, c in enumerate(closes):
        h, lo = c + 0.1, c - 0.1
        if i == 0:
            h, lo = max(h, high or h), min(lo, low or lo)
        rows.append((DAY, symbol, start + dt.timedelta(minutes=i), c, h, lo, c, volume, "pre"))
    rows.append((DAY, symbol, calendar.session_open(DAY), 500.0, 500.0, 500.0, 500.0, 10**7, "regular"))
    return pl.DataFrame(rows, schema=schemas.INTRADAY_BARS.names(), orient="row").cast(schemas.INTRADAY_BARS)


def _frames(specs: dict[str, tuple]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """specs: symbol -> (daily kwargs, pre args); interleaved by time so symbols mix row by row."""
    daily = pl.concat([_daily(s, **d) for s, (d, _) in specs.items()]).sort("ts", "symbol")
    intra = pl.concat([_pre(s, *p) for s, (_, p) in specs.items()]).sort("ts", "symbol")
    return daily, intra


UP = ({"prev_close": 100.0, "prev_high": 102.0, "prev_low": 99.0}, ([104.0, 104.5, 105.0], 50_000, 105.5, 104.0))
FLAT3 = ({"prev_close": 50.0, "prev_high": 50.5, "prev_low": 49.0}, ([51.5, 51.5], 100_000))
DOWN = ({"prev_close": 40.0, "prev_high": 41.0, "prev_low": 39.0, "vol": 1_250_000, "history": 6}, ([38.0, 37.6], 100_000, 38.5, 37.0))


def _one(out: pl.DataFrame, symbol: str) -> dict:
    rows = out.filter(pl.col("symbol") == symbol).to_dicts()
    assert len(rows) == 1, out
    return rows[0]


def test_gap_up_fires_long_with_exact_levels() -> None:
    daily, intra = _frames({"AAA": UP, "BBB": FLAT3})
    out = gapgo.screen(daily, intra)
    assert out["symbol"].to_list() == ["AAA"]  # a 3% gap does not fire
    s = _one(out, "AAA")
    assert s["side"] == "long" and s["screener"] == "gapgo" and s["date"] == DAY
    assert s["prev_close"] == 100.0  # yesterday's close, not DAY's look-ahead bar
    assert s["gap_pct"] == pytest.approx(5.0)
    assert s["premarket_volume"] == 150_000 and s["relative_volume"] == pytest.approx(3.0)
    assert (s["premarket_high"], s["premarket_low"]) == (105.5, 103.9)
    assert s["entry"] == 105.51 and s["stop"] == 103.89
    assert s["target"] == pytest.approx(105.51 + 2 * (105.51 - 103.89), abs=0.006)
    assert s["stop"] < s["entry"] < s["target"]
    assert s["ts"] == intra.filter((pl.col("symbol") == "AAA") & (pl.col("session") == "pre"))["ts"].max()
    # 4 * 5/12 + 3 * 0.3 + 2 (above prior-day high 102) + 1 (price band)
    assert s["score"] == pytest.approx(4 * 5 / 12 + 0.9 + 2 + 1, abs=0.01)
    for text in ("+5.0%", "3.0×", "150k", "above prior-day high 102.0"):
        assert text in s["reasons"], s["reasons"]


def test_gap_down_fires_short() -> None:
    daily, intra = _frames({"CCC": DOWN, "AAA": UP})
    s = _one(gapgo.screen(daily, intra), "CCC")
    assert s["side"] == "short"
    assert s["gap_pct"] == pytest.approx(-6.0)
    assert s["avg_daily_volume"] == 1_250_000 and s["relative_volume"] == pytest.approx(8.0)  # own 6 days only
    assert s["entry"] == 36.99 and s["stop"] == 38.51  # below pm low 37.0, above pm high 38.5
    assert s["target"] == pytest.approx(36.99 - 2 * (38.51 - 36.99), abs=0.006)
    assert s["target"] < s["entry"] < s["stop"]
    assert "-6.0%" in s["reasons"] and "below prior-day low 39.0" in s["reasons"]


def test_thresholds_do_not_fire() -> None:
    thin = (UP[0], ([105.0, 105.0], 37_500))  # 75k shares: 1.5x relative volume
    small_abs = (UP[0], ([105.0], 40_000))  # 0.8x and under 50k shares
    cheap = ({"prev_close": 1.0, "prev_high": 1.0, "prev_low": 1.0}, ([1.2, 1.2], 100_000))
    dear = ({"prev_close": 600.0, "prev_high": 600.0, "prev_low": 600.0}, ([630.0, 630.0], 100_000))
    just_under = (UP[0], ([103.9, 103.9], 100_000))  # +3.9%
    tiny = ({**UP[0], "vol": 100_000}, ([105.0, 105.0], 20_000))  # 20x its normal 2k, but 40k shares
    specs = {"T1": thin, "T2": small_abs, "T3": cheap, "T4": dear, "T5": just_under, "T6": tiny, "AAA": UP}
    daily, intra = _frames(specs)
    assert gapgo.screen(daily, intra)["symbol"].to_list() == ["AAA"]
    # and the knobs move the boundaries
    loose = GapgoParams(min_gap=3.5, min_relative_volume=1.0, min_premarket_volume=10_000, max_price=1000.0)
    assert set(gapgo.screen(daily, intra, loose)["symbol"]) == {"AAA", "T1", "T4", "T5", "T6"}


def test_score_orders_bigger_gap_on_more_volume_first() -> None:
    big = ({"prev_close": 20.0, "prev_high": 20.5, "prev_low": 19.0}, ([23.0, 23.0], 200_000))  # +15%, 8x
    daily, intra = _frames({"AAA": UP, "BIG": big})
    out = gapgo.screen(daily, intra)
    assert out["symbol"].to_list() == ["BIG", "AAA"]
    assert out["score"][0] > out["score"][1] and out["score"].is_between(0, 10).all()


def test_inside_prior_range_scores_lower_and_says_so() -> None:
    wide = ({"prev_close": 100.0, "prev_high": 110.0, "prev_low": 99.0}, UP[1])
    daily_a, intra_a = _frames({"AAA": UP})
    daily_w, intra_w = _frames({"AAA": wide})
    a, w = _one(gapgo.screen(daily_a, intra_a), "AAA"), _one(gapgo.screen(daily_w, intra_w), "AAA")
    assert a["score"] - w["score"] == pytest.approx(2.0, abs=0.01)
    assert "below prior-day high 110.0" in w["reasons"]


def test_missing_history_and_no_premarket_give_no_signal() -> None:
    daily, intra = _frames({"AAA": UP})
    assert gapgo.screen(daily.filter(pl.col("date") == DAY), intra).is_empty()  # no prior close
    short = ({**UP[0], "history": 4}, UP[1])  # 4 sessions are too few for an average volume
    assert gapgo.screen(*_frames({"AAA": short})).is_empty()
    assert gapgo.screen(daily, intra.filter(pl.col("session") != "pre")).is_empty()


def test_schema_also_when_empty() -> None:
    want = pl.Schema({**common.SIGNAL_SCHEMA, **gapgo.DETAIL})
    daily, intra = _frames({"AAA": UP, "BBB": FLAT3})
    assert gapgo.screen(daily, intra).schema == want
    assert gapgo.screen(daily, intra.filter(pl.col("symbol") == "BBB")).schema == want
    empty = gapgo.screen(daily.clear(), intra.clear())
    assert empty.is_empty() and empty.schema == want


def test_main_runs_end_to_end(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "synthetic")
    assert gapgo.main(["--tickers", "AAPL,MSFT", "--date", "2025-11-25", "--min-gap", "0.1"]) == 0
    assert "gapgo signal(s) for 2025-11-25" in capsys.readouterr().out
