"""Exhaustion reversal screener: known answers on small 30m and daily frames built here."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from screeners import common
from screeners import exhaustion_reversal as er
from screeners.exhaustion_reversal import ExhaustionReversalParams as Params
from tradingstation.core import calendar, schemas

END = dt.date(2025, 11, 25)
SESSIONS = [*calendar.sessions_before(END, 15), END]  # 16 sessions
HALF_HOUR = dt.timedelta(minutes=30)
Bar = tuple[float, float, float, float, int]  # open, high, low, close, volume
COLUMNS = ("open", "high", "low", "close", "volume")
FLAT: Bar = (100.0, 100.2, 99.8, 100.0, 10_000)
BUSY: Bar = (100.0, 100.2, 99.8, 100.0, 30_000)
# Earlier sessions: the 10:30 and 11:00 slots normally trade 10,000, the others 30,000, so only a
# time-of-day comparison sees today's 10:30 and 11:00 bars as spikes.
PRIOR: list[Bar] = [BUSY, BUSY, FLAT, FLAT, *[BUSY] * 9]


def _today(spike: int = 30_000, reversal: Bar = (102.4, 102.5, 101.7, 101.8, 25_000)) -> list[Bar]:
    """A 1.3-ATR run from 100 to 102.6, then a reversal bar, then quiet bars."""
    return [
        (100.0, 100.9, 99.9, 100.8, 10_000),
        (100.8, 101.7, 100.7, 101.6, 10_000),
        (101.6, 102.6, 101.5, 102.4, spike),
        reversal,
        *[(101.8, 101.9, 101.7, 101.8, 10_000)] * 9,
    ]


def _mirror(bars: list[Bar]) -> list[Bar]:
    """Reflect prices around 100 (an up move becomes a down move)."""
    return [(200 - o, 200 - lo, 200 - h, 200 - c, v) for o, h, lo, c, v in bars]


def _intraday(
    symbol: str, today: list[Bar], prior: int = 10, extra: list[tuple[dt.datetime, Bar, str]] = ()
) -> pl.DataFrame:
    """``prior`` flat sessions of 13 regular 30m bars, then ``today`` on END, plus ``extra`` bars."""
    rows = []
    for d in SESSIONS[-prior - 1:]:
        bars = today if d == END else PRIOR
        rows += [(d, calendar.session_open(d) + k * HALF_HOUR, b, "regular") for k, b in enumerate(bars)]
    rows += [(END, ts, b, part) for ts, b, part in extra]
    return pl.DataFrame(
        {
            "date": [r[0] for r in rows],
            "symbol": symbol,
            "ts": [r[1] for r in rows],
            **{col: [r[2][i] for r in rows] for i, col in enumerate(COLUMNS)},
            "session": [r[3] for r in rows],
        },
        schema=schemas.INTRADAY_BARS,
    ).sort("ts")


def _daily(symbols: list[str]) -> pl.DataFrame:
    """Every session 99-101 around a 100 close: true range 2, so ATR(14) is exactly 2. END's own
    bar is wild (120 high): using it for END's ATR would be look-ahead."""
    rows = [(d, s, 120.0 if d == END else 101.0) for d in SESSIONS for s in symbols]
    return pl.DataFrame(
        {
            "date": [r[0] for r in rows],
            "symbol": [r[1] for r in rows],
            "ts": [calendar.session_open(r[0]) for r in rows],
            "open": 100.0,
            "high": [r[2] for r in rows],
            "low": 99.0,
            "close": 100.0,
            "volume": 1_000_000,
        },
        schema=schemas.DAILY_BARS,
    )


def _run(frames: dict[str, list[Bar]], params: Params = Params()) -> pl.DataFrame:
    intraday = pl.concat([_intraday(s, bars) for s, bars in frames.items()]).sort("ts", "symbol")
    return er.screen(intraday, _daily(list(frames)), params)


def test_up_exhaustion_short_known_answer() -> None:
    out = _run({"UPX": _today()})
    assert out.height == 1
    row = out.row(0, named=True)
    assert (row["date"], row["symbol"], row["side"]) == (END, "UPX", "short")
    assert row["screener"] == "exhaustion_reversal"
    assert row["ts"] == calendar.session_open(END) + 4 * HALF_HOUR  # end of the 4th bar
    assert row["atr"] == pytest.approx(2.0)  # prior sessions only
    assert row["extension_atr"] == pytest.approx(1.3) and row["session_extreme"] == 102.6
    assert row["rel_volume"] == pytest.approx(3.0)  # the climax bar before the reversal bar
    assert row["close_location"] == pytest.approx(0.7 / 0.8)
    vwap = ((301.6 + 304.0) * 1e4 + 306.5 * 3e4 + 306.0 * 2.5e4) / 3 / 7.5e4  # typical price x volume
    assert row["session_vwap"] == pytest.approx(vwap)
    # Risk 102.8 - 101.8 = 1; the VWAP (101.78) is closer than 1 R, so the target is 1 R.
    assert (row["entry"], row["stop"], row["target"]) == (101.8, 102.8, 100.8)
    expected = 1.3 + 3 * 3 / 4 + 2 * 0.875 + 0 + (101.8 - vwap) / 2
    assert row["score"] == pytest.approx(expected, abs=0.01)
    bar = "the 11:00 ET bar closed 101.8, 88% of the way down its range"
    for text in ("ran up 1.3 ATR (+2.6%)", "to 102.6", "3.0×", bar):
        assert text in row["reasons"]


def test_vwap_target_when_far_enough() -> None:
    row = _run({"UPX": _today()}, Params(min_reward_risk=0.0)).row(0, named=True)
    assert row["target"] == round(row["session_vwap"], 2) and row["target"] < row["entry"] < row["stop"]


def test_down_exhaustion_long_mirror() -> None:
    row = _run({"DNX": _mirror(_today())}).row(0, named=True)
    assert row["side"] == "long" and row["session_extreme"] == 97.4
    assert (row["entry"], row["stop"], row["target"]) == (98.2, 97.2, 99.2)
    assert row["stop"] < row["entry"] < row["target"]
    assert "sold off 1.3 ATR (-2.6%)" in row["reasons"] and "88% of the way up its range" in row["reasons"]


def test_volume_spike_boundary() -> None:
    quiet = (102.4, 102.5, 101.7, 101.8, 19_000)
    out = _run({"AT": _today(spike=20_000, reversal=quiet), "BELOW": _today(spike=19_000, reversal=quiet)})
    assert out["symbol"].to_list() == ["AT"]
    assert out["rel_volume"].to_list() == [pytest.approx(2.0)]


def test_extension_boundary_and_reversal_required() -> None:
    assert _run({"UPX": _today()}, Params(min_extension_atr=1.29)).height == 1
    assert _run({"UPX": _today()}, Params(min_extension_atr=1.31)).is_empty()
    strong_close = (102.4, 102.5, 101.7, 102.3, 25_000)  # upper part of its range: no reversal
    assert _run({"UPX": _today(reversal=strong_close)}).is_empty()
    engulf = (102.4, 102.5, 101.2, 101.4, 25_000)  # closes below the prior bar's low (101.5)
    row = _run({"UPX": _today(reversal=engulf)}).row(0, named=True)
    assert "below the prior bar's low" in row["reasons"]
    assert row["score"] > _run({"UPX": _today()})["score"][0]


def test_extended_hours_bars_are_ignored() -> None:
    pre = calendar.session_open(END) - 2 * HALF_HOUR
    post = calendar.session_close(END)
    extra = [
        (pre, (90.0, 130.0, 80.0, 95.0, 5_000_000), "pre"),
        (post, (101.8, 140.0, 60.0, 61.0, 9_000_000), "post"),
    ]
    with_extra = _intraday("UPX", _today(), extra=extra).sort("ts")
    assert er.screen(with_extra, _daily(["UPX"])).equals(_run({"UPX": _today()}))


def test_session_state_resets_each_day() -> None:
    frame = _intraday("UPX", _today())
    last_prior = frame.filter(pl.col("date") < END)["ts"].max()
    first = frame["ts"].min()
    frame = frame.with_columns(
        high=pl.when(pl.col("ts") == last_prior).then(105.0).otherwise(pl.col("high")),
        open=pl.when(pl.col("ts") == first).then(99.0).otherwise(pl.col("open")),
        low=pl.when(pl.col("ts") == first).then(98.9).otherwise(pl.col("low")),
    )
    row = er.screen(frame, _daily(["UPX"])).row(0, named=True)  # yesterday's 105 is not today's high
    assert row["session_extreme"] == 102.6 and row["extension_atr"] == pytest.approx(1.3)


def test_atr_from_30m_bars_without_daily() -> None:
    out = er.screen(_intraday("UPX", _today(), prior=15))
    row = out.row(0, named=True)
    assert row["atr"] == pytest.approx(0.4)  # flat sessions 99.8-100.2; today's bars excluded
    assert row["extension_atr"] == pytest.approx(2.6 / 0.4)


THIN_REVERSAL: Bar = (102.4, 102.5, 101.7, 101.8, 15_000)


def test_score_ordering_and_no_leak() -> None:
    frames = {
        "UPX": _today(),
        "BIG": _today(spike=40_000),
        "DNX": _mirror(_today()),
        "THIN": _today(spike=15_000, reversal=THIN_REVERSAL),  # 1.5x on both bars: no spike
    }
    out = _run(frames)
    assert out["symbol"].to_list()[0] == "BIG" and set(out["symbol"]) == {"BIG", "DNX", "UPX"}
    scores = dict(zip(out["symbol"], out["score"]))
    assert scores["BIG"] > scores["UPX"]
    assert out.filter(pl.col("symbol") == "UPX").equals(_run({"UPX": _today()}))


def test_schema_including_empty() -> None:
    schema = pl.Schema({**common.SIGNAL_SCHEMA, **er.DETAIL})
    assert _run({"UPX": _today(), "DNX": _mirror(_today())}).schema == schema
    assert _run({"Q": [FLAT] * 13}).schema == schema
    assert er.screen(pl.DataFrame(schema=schemas.INTRADAY_BARS)).schema == schema


def test_main_end_to_end(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "synthetic")
    argv = ["--tickers", "AAPL,MSFT", "--date", "2025-11-25", "--volume-spike-threshold", "2.0"]
    assert er.main(argv) == 0
    assert "exhaustion_reversal signal(s) for 2025-11-25" in capsys.readouterr().out
