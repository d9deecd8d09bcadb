"""EMA pullback screener: known answers on small daily frames built here."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from screeners import common, ema_pullback
from screeners.ema_pullback import EmaPullbackParams
from tradingstation.core import calendar, schemas

from lake_data import daily_frame_from_rows

END = dt.date(2025, 11, 25)
DATES = [*calendar.sessions_before(END, 63), END]  # 64 sessions
Bar = tuple[float, float, float, float]  # open, high, low, close


def _ema(values: list[float], n: int) -> list[float | None]:
    """TA-Lib style EMA, written out independently of the library."""
    out: list[float | None] = [None] * len(values)
    out[n - 1] = sum(values[:n]) / n
    for i in range(n, len(values)):
        out[i] = out[i - 1] + 2 / (n + 1) * (values[i] - out[i - 1])
    return out


def _bars(symbol: str, rows: list[Bar], last_volume: int = 1_000_000) -> pl.DataFrame:
    volumes = [1_000_000] * (len(rows) - 1) + [last_volume]
    return daily_frame_from_rows(symbol, [(o, h, lo, c, v) for (o, h, lo, c, *_), v in zip(rows, volumes)], DATES)


UP_TREND: list[Bar] = [(c - 0.2, c + 0.5, c - 0.5, c) for c in (100.0 + i for i in range(60))]
UP_DIP: list[Bar] = [(158.5, 158.8, 156.8, 157.0), (157.0, 157.2, 153.8, 154.0), (154.0, 154.2, 151.8, 152.0)]
DOWN_TREND: list[Bar] = [(c + 0.2, c + 0.5, c - 0.5, c) for c in (200.0 - i for i in range(60))]
DOWN_RALLY: list[Bar] = [
    (141.5, 143.2, 141.2, 143.0),
    (143.0, 146.2, 142.8, 146.0),
    (146.0, 148.1, 145.8, 148.0),
]
UP_EMA = _ema([r[3] for r in UP_TREND + UP_DIP] + [153.0], 21)[-1]  # 150.53 on the bounce day
DOWN_EMA = _ema([r[3] for r in DOWN_TREND + DOWN_RALLY] + [147.0], 21)[-1]  # 149.47


def _up(
    symbol: str,
    low: float = UP_EMA - 0.1,
    close: float = 153.0,
    open_: float | None = None,
    volume: int = 2_000_000,
) -> pl.DataFrame:
    last = (low + 0.5 if open_ is None else open_, close + 0.4, low, close)
    return _bars(symbol, UP_TREND + UP_DIP + [last], volume)


def _down(symbol: str, volume: int = 2_000_000) -> pl.DataFrame:
    high = DOWN_EMA + 0.1
    return _bars(symbol, DOWN_TREND + DOWN_RALLY + [(high - 0.5, high, 146.6, 147.0)], volume)


def _frame(*frames: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(frames).sort("date", "symbol")


def test_long_pullback_known_answer() -> None:
    closes = [r[3] for r in UP_TREND + UP_DIP] + [153.0]
    fast, slow = _ema(closes, 21), _ema(closes, 50)
    out = ema_pullback.screen(_frame(_up("UP")), EmaPullbackParams(stop_atr=0.0))
    assert out.height == 1
    row = out.row(0, named=True)
    assert (row["date"], row["side"], row["screener"]) == (END, "long", "ema_pullback")
    assert row["ts"] == calendar.session_close(END)
    assert row["ema_fast"] == pytest.approx(fast[-1]) and row["ema_slow"] == pytest.approx(slow[-1])
    assert row["ema_spread_pct"] == pytest.approx((fast[-1] / slow[-1] - 1) * 100)
    assert row["ema_slope_pct"] == pytest.approx((fast[-1] / fast[-6] - 1) * 100)
    assert row["pullback_extreme"] == pytest.approx(UP_EMA - 0.1)
    assert row["touch_atr"] == pytest.approx(0.1 / row["atr"])
    low = round(UP_EMA - 0.1, 2)
    assert row["entry"] == 153.0 and row["stop"] == low
    assert row["target"] == pytest.approx(153.0 + 2 * (153.0 - low), abs=0.011)
    assert row["rel_volume"] == pytest.approx(2.0)
    expected = (
        2.5 * min(row["ema_spread_pct"] / 5, 1)
        + 2 * min(row["ema_slope_pct"] / 2.5, 1)
        + 2 * (1 - row["touch_atr"])
        + 1.5
        + 2 * min(max((70 - row["rsi"]) / 20, 0), 1)
    )
    assert row["score"] == pytest.approx(expected, abs=0.01)
    assert "uptrend with EMA21 above EMA50" in row["reasons"]
    for text in (f"({round(UP_EMA, 2)})", "closed 153.0", "2.0×"):
        assert text in row["reasons"]


def test_default_stop_is_a_quarter_atr_under_the_pullback_low() -> None:
    row = ema_pullback.screen(_frame(_up("UP"))).row(0, named=True)
    assert row["stop"] == pytest.approx(UP_EMA - 0.1 - 0.25 * row["atr"], abs=0.006)
    assert row["stop"] < row["entry"] < row["target"]


def test_stop_hangs_under_the_lowest_low_of_the_pullback() -> None:
    dip = UP_DIP[:2] + [(154.0, 154.2, 150.2, 152.0)]  # a red day two sessions back dipped lower
    last = (UP_EMA + 0.4, 153.4, UP_EMA - 0.1, 153.0)
    frame = _bars("DIP", UP_TREND + dip + [last], 2_000_000)
    row = ema_pullback.screen(frame, EmaPullbackParams(stop_atr=0.0)).row(0, named=True)
    assert row["pullback_extreme"] == 150.2 and row["stop"] == 150.2
    assert row["target"] == pytest.approx(153.0 + 2 * 2.8)
    assert row["touch_atr"] == pytest.approx(0.1 / row["atr"])  # the touch is still today's low


def test_short_mirror_known_answer() -> None:
    out = ema_pullback.screen(_frame(_down("DN")), EmaPullbackParams(stop_atr=0.0))
    row = out.row(0, named=True)
    assert out.height == 1 and row["side"] == "short"
    high = round(DOWN_EMA + 0.1, 2)
    assert row["entry"] == 147.0 and row["stop"] == high
    assert row["target"] == pytest.approx(147.0 - 2 * (high - 147.0), abs=0.011)
    assert row["ema_spread_pct"] > 0 and row["ema_slope_pct"] > 0  # signed in the trade's direction
    assert "downtrend with EMA21 below EMA50" in row["reasons"]


def test_touch_boundary() -> None:
    near = _up("NEAR", low=UP_EMA * 1.0099, close=153.0)
    far = _up("FAR", low=UP_EMA * 1.0101, close=153.0)
    assert ema_pullback.screen(_frame(near, far))["symbol"].to_list() == ["NEAR"]
    assert ema_pullback.screen(_frame(far), EmaPullbackParams(touch_pct=1.2)).height == 1


def test_no_bounce_no_signal() -> None:
    red = _up("RED", close=153.0, open_=153.9)  # red close under the prior high
    assert ema_pullback.screen(_frame(red)).is_empty()


def test_close_tolerance_below_ema() -> None:
    # A gap-down day whose high (149.5) stays under the EMA, then a close just under the EMA
    # (149.8 vs 149.91) that clears that high: a bounce only while within the close tolerance.
    rows = UP_TREND + UP_DIP[:2] + [(149.4, 149.5, 147.5, 148.0), (149.6, 150.0, 149.0, 149.8)]
    frame = _frame(_bars("TOL", rows, 2_000_000))
    assert ema_pullback.screen(frame).height == 1
    assert ema_pullback.screen(frame, EmaPullbackParams(close_tolerance_pct=0.05)).is_empty()


def test_no_trend_no_signal() -> None:
    flat = _bars("FLAT", [(100.0, 100.5, 99.5, 100.0)] * 63 + [(99.95, 100.6, 99.9, 100.5)], 2_000_000)
    assert ema_pullback.screen(_frame(flat)).is_empty()


def test_score_ordering_and_no_leak() -> None:
    loud, quiet = _up("LOUD", volume=3_000_000), _up("QUIET", volume=1_000_000)
    out = ema_pullback.screen(_frame(loud, quiet, _down("DN")))
    assert set(out["symbol"]) == {"LOUD", "QUIET", "DN"}
    scores = dict(zip(out["symbol"], out["score"]))
    assert scores["LOUD"] > scores["QUIET"]
    assert out["score"].to_list() == sorted(out["score"].to_list(), reverse=True)
    for sym, alone in (("LOUD", loud), ("DN", _down("DN"))):
        assert out.filter(pl.col("symbol") == sym).equals(ema_pullback.screen(alone))


def test_schema_including_empty() -> None:
    schema = pl.Schema({**common.SIGNAL_SCHEMA, **ema_pullback.DETAIL})
    assert ema_pullback.screen(_frame(_up("UP"), _down("DN"))).schema == schema
    assert ema_pullback.screen(pl.DataFrame(schema=schemas.DAILY_BARS)).schema == schema


def test_main_end_to_end(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "synthetic")
    assert ema_pullback.main(["--tickers", "AAPL,MSFT", "--date", "2025-11-25", "--ema-period", "21"]) == 0
    assert "ema_pullback signal(s) for 2025-11-25" in capsys.readouterr().out
