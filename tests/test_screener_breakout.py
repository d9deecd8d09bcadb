"""Breakout screener: known answers on small daily frames built here."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from screeners import breakout, common
from tradingstation.core import calendar, schemas

from lake_data import daily_frame_from_rows

END = dt.date(2025, 11, 25)
N = 30
DATES = [*calendar.sessions_before(END, N - 1), END]


def _bars(symbol: str, rows: list[tuple[float, float, float, float, int]]) -> pl.DataFrame:
    """Daily bars (open, high, low, close, volume) ending on END, one per session."""
    return daily_frame_from_rows(symbol, rows, DATES)


def _setup(symbol: str, base: float, last: tuple[float, ...], volume: int, up: bool = True) -> pl.DataFrame:
    """A steep 18-day run (never tight), an 11-day base at ``base`` +/-1%, then ``last``."""
    step = base * 0.01
    run = [base * (0.73 + 0.01 * i) if up else base * (1.27 - 0.01 * i) for i in range(18)]
    rows = [(c, c + step, c - step, c, 1_000_000) for c in run]
    rows += [(base, base + step, base - step, base, 1_000_000)] * 11
    rows.append((*last, volume))
    return _bars(symbol, rows)


def _frame(*frames: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(frames).sort("date", "symbol")  # symbols interleaved


AAA = _setup("AAA", 100.0, (100.5, 104.0, 100.2, 103.5), 2_500_000)  # long on 2.5x
BBB = _setup("BBB", 100.0, (100.5, 104.0, 100.2, 103.5), 1_200_000)  # thin volume: no breakout
CCC = _setup("CCC", 50.0, (49.8, 49.9, 46.5, 47.0), 3_000_000, up=False)  # short on 3x
DDD = _setup("DDD", 100.0, (100.5, 104.0, 100.2, 103.5), 4_000_000)  # like AAA on 4x


def test_long_breakout_known_answer() -> None:
    out = breakout.screen(_frame(AAA, BBB))
    assert out["symbol"].to_list() == ["AAA"]
    row = out.row(0, named=True)
    assert row["date"] == END and row["side"] == "long" and row["screener"] == "breakout"
    assert row["ts"] == calendar.session_close(END)
    assert (row["range_high"], row["range_low"], row["base_days"]) == (101.0, 99.0, 11)
    assert row["range_pct"] == pytest.approx(2.0)
    assert row["rel_volume"] == pytest.approx(2.5)
    assert (row["entry"], row["stop"], row["target"]) == (103.5, 100.0, 105.5)
    loc = 3.3 / 3.8
    assert row["close_location"] == pytest.approx(loc)
    expected = 4 * 1.5 / 3 + 2.5 * (1 - 2 / 8) + 1.5 * 7 / 26 + 2 * loc
    assert row["score"] == pytest.approx(expected, abs=0.01)
    assert "above the 11-day range 99.0-101.0" in row["reasons"]
    assert "2.5×" in row["reasons"] and "2.0% wide" in row["reasons"] and "105.5" in row["reasons"]


def test_short_breakdown_known_answer() -> None:
    out = breakout.screen(_frame(CCC))
    row = out.row(0, named=True)
    assert out.height == 1 and row["side"] == "short"
    assert (row["range_high"], row["range_low"]) == (50.5, 49.5)
    assert (row["entry"], row["stop"], row["target"]) == (47.0, 50.0, 46.0)
    assert row["target"] < row["entry"] < row["stop"]
    assert row["close_location"] == pytest.approx(2.9 / 3.4)
    assert "below the 11-day range" in row["reasons"] and "3.0×" in row["reasons"]


def test_thin_volume_is_not_a_breakout_boundary() -> None:
    assert breakout.screen(_frame(BBB)).is_empty()
    at = _setup("AT", 100.0, (100.5, 104.0, 100.2, 103.5), 1_500_000)  # exactly 1.5x fires
    below = _setup("BELOW", 100.0, (100.5, 104.0, 100.2, 103.5), 1_499_000)
    assert breakout.screen(_frame(at, below))["symbol"].to_list() == ["AT"]


def test_range_width_and_length_limits() -> None:
    frame = _frame(AAA)
    assert breakout.screen(frame, breakout.BreakoutParams(max_range_pct=2.1)).height == 1
    assert breakout.screen(frame, breakout.BreakoutParams(max_range_pct=1.9)).is_empty()
    assert breakout.screen(frame, breakout.BreakoutParams(min_consolidation_days=11)).height == 1
    assert breakout.screen(frame, breakout.BreakoutParams(min_consolidation_days=12)).is_empty()
    capped = breakout.screen(frame, breakout.BreakoutParams(max_consolidation_days=8))
    assert capped["base_days"].to_list() == [8]


def test_close_inside_range_does_not_fire() -> None:
    inside = _setup("IN", 100.0, (100.0, 101.5, 99.5, 100.9), 5_000_000)
    assert breakout.screen(_frame(inside)).is_empty()


def test_score_ordering_and_no_leak_between_symbols() -> None:
    tight = [(100.0, 101.0, 99.0, 100.0, 1_000_000)]
    breakout_day = [(100.5, 104.0, 100.2, 103.5, 3_000_000)]
    # LATE: exactly 20 prior sessions, all tight, so its base is 20 days (not longer by borrowing
    # DDD's bars). NEW: 9 prior sessions, too few for the 20-day volume average: no signal.
    late = _bars("LATE", tight * 20 + breakout_day)
    new = _bars("NEW", tight * 9 + breakout_day)
    out = breakout.screen(_frame(AAA, BBB, CCC, DDD, late, new))
    assert set(out["symbol"]) == {"AAA", "CCC", "DDD", "LATE"}
    assert out["score"].to_list() == sorted(out["score"].to_list(), reverse=True)
    scores = dict(zip(out["symbol"], out["score"]))
    assert scores["DDD"] > scores["CCC"] > scores["AAA"]  # 4x > 3x > 2.5x volume
    assert out.filter(pl.col("symbol") == "LATE")["base_days"].to_list() == [20]
    assert out.filter(pl.col("symbol") == "AAA").equals(breakout.screen(_frame(AAA)))


def test_schema_including_empty() -> None:
    schema = pl.Schema({**common.SIGNAL_SCHEMA, **breakout.DETAIL})
    assert breakout.screen(_frame(AAA, CCC)).schema == schema
    assert breakout.screen(pl.DataFrame(schema=schemas.DAILY_BARS)).schema == schema
    assert breakout.screen(_frame(BBB)).schema == schema


def test_main_end_to_end(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "synthetic")
    argv = ["--tickers", "AAPL,MSFT", "--date", "2025-11-25", "--min-consolidation-days", "5"]
    assert breakout.main(argv) == 0
    assert "breakout signal(s) for 2025-11-25" in capsys.readouterr().out
