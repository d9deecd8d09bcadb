"""Bad bars cannot make a signal: zero volume (0/0 ratios) and unadjusted splits.

Polars orders NaN above every number, so a 0/0 relative volume passes every ``>=`` threshold: the
ratio helpers return null instead, ``common.finish`` drops rows with a non-finite score or price,
and the dashboard takes no such signal. An unadjusted split (``screeners.splits``) suppresses the
daily setups across it, logged with the reason. Bars are built here, by hand or by editing
synthetic bars (volume zeroed, prices halved).
"""

from __future__ import annotations

import datetime as dt
import logging

import polars as pl
import pytest

from screeners import (
    avwap_anchors,
    avwap_reclaim,
    breakout,
    common,
    ema_pullback,
    exhaustion_reversal,
    gapgo,
    orb,
    splits,
)
from screeners import indicators as ind
from screeners.dashboard import DashboardParams, build_dashboard, combine_signals
from tradingstation.core import calendar, schemas
from tradingstation.resources.sources.base import Interval
from tradingstation.resources.sources.synthetic_source import SyntheticSource

from conftest import REAL_DATA

DAY = calendar.session("2025-11-25")


def _no_nan(frame: pl.DataFrame) -> bool:
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    return not floats or not frame.select(pl.any_horizontal(pl.col(floats).is_nan()).any()).item()


# --- zero volume ---------------------------------------------------------------------------------


def test_ratio_helpers_give_null_not_nan_on_a_zero_denominator() -> None:
    df = pl.DataFrame({"s": ["A"] * 4, "v": [0, 0, 0, 5], "d": [0.0, 0.0, 2.0, None]})
    out = df.select(
        ratio=ind.ratio("v", "d"),
        rvol=ind.relative_volume("v", 2),
        rvol_sorted=ind.relative_volume_at_time_sorted("v", 2, ["s"]),
    )
    assert out["ratio"].to_list() == [None, None, 0.0, None]
    assert out["rvol"].to_list() == [None, None, None, None]  # 0/0 and 5/0: no ratio
    assert out["rvol_sorted"].to_list() == [None, None, None, None]
    assert df.with_columns(out).filter(pl.col("rvol") >= 2.0).is_empty()  # NaN would have passed
    assert pl.DataFrame({"x": [float("nan")]}).filter(pl.col("x") >= 2.0).height == 1  # why it matters


def _orb_bars(volume: int) -> pl.DataFrame:
    """A 100-101 opening range and a close at 101.2 at minute 20, every bar trading ``volume``."""
    t0 = calendar.session_open(DAY)
    spec = [(m, 101.0, 100.0, 100.5) for m in range(20)] + [(20, 101.3, 100.9, 101.2)]
    rows = [(DAY, "ZV", t0 + dt.timedelta(minutes=m), c, h, lo, c, volume, "regular") for m, h, lo, c in spec]
    return pl.DataFrame(rows, schema=schemas.INTRADAY_BARS.names(), orient="row").cast(schemas.INTRADAY_BARS)


def test_zero_volume_bars_make_no_orb_signal() -> None:
    assert orb.screen(_orb_bars(0)).is_empty()  # 0 >= 1.5 x 0 held, and its score was 0/0
    spike = _orb_bars(10_000).with_columns(
        volume=pl.when(pl.col("ts") == pl.col("ts").max()).then(30_000).otherwise(pl.col("volume"))
    )
    assert orb.screen(spike).height == 1  # the same bars with volume do fire


def _daily(symbol: str, closes: list[float], volumes: list[int]) -> pl.DataFrame:
    dates = [*calendar.sessions_before(DAY, len(closes) - 1), DAY]
    return pl.DataFrame(
        {"date": dates, "symbol": symbol, "ts": [calendar.session_open(d) for d in dates], "open": closes,
         "high": [c * 1.01 for c in closes], "low": [c * 0.99 for c in closes], "close": closes, "volume": volumes},
        schema=schemas.DAILY_BARS,
    )


def test_zero_volume_bars_are_no_volume_spike_anchors() -> None:
    closes = [100.0 + (i % 7) for i in range(80)]
    silent = _daily("ZV", closes, [0] * 80)
    spiky = _daily("SPK", closes, [1_000_000] * 79 + [3_000_000])
    found = avwap_anchors.find_anchors(pl.concat([silent, spiky]))
    spikes = found.filter(pl.col("anchor_type") == "volume_spike")
    assert spikes["symbol"].to_list() == ["SPK"] and spikes["anchor_date"].to_list() == [DAY]
    assert _no_nan(found) and found.filter(pl.col("symbol") == "ZV")["avwap"].is_null().all()


def test_finish_drops_non_finite_rows_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    raw = pl.DataFrame({
        "date": [DAY] * 3, "ts": [calendar.session_close(DAY)] * 3, "symbol": ["OK", "NANS", "INFE"],
        "side": ["long"] * 3, "score": [5.0, float("nan"), 6.0], "entry": [10.0, 10.0, float("inf")],
        "stop": [9.0] * 3, "target": [12.0] * 3, "reasons": ["r"] * 3, "ratio": [float("nan")] * 3,
    })
    with caplog.at_level(logging.WARNING, logger="screeners.common"):
        out = common.finish(raw, "toy", {"ratio": pl.Float64})
    assert out["symbol"].to_list() == ["OK"] and out["ratio"].to_list() == [None]  # detail NaN -> null
    assert "toy: dropped 2 signal(s) with a null, NaN or infinite score or price: NANS, INFE" in caplog.text


@pytest.fixture(scope="module")
def synthetic() -> dict[str, pl.DataFrame]:
    """Synthetic bars of 60 S&P symbols: 200 daily sessions before DAY, 6 of 1-minute, 11 of 30-minute."""
    # A fixed sample (the synthetic source makes bars for any symbol): the first 60 rows of the former
    # hand-written S&P 500 file, among which ORB, the reversal and the breakout all fire on DAY.
    symbols = """AAPL MSFT NVDA AVGO ORCL CRM ADBE AMD CSCO ACN IBM INTU NOW TXN QCOM AMAT ADI MU LRCX KLAC
        PANW ANET INTC SNPS CDNS CRWD APH MSI ADSK ROP FTNT WDAY NXPI MCHP TEL IT CTSH GLW MPWR HPQ
        HPE ON ANSS KEYS DELL CDW FICO TYL NTAP PTC TDY STX WDC FSLR ZBRA GDDY TER SMCI TRMB JBL""".split()
    source = SyntheticSource()

    def fetch(interval: Interval, back: int, end: dt.date) -> pl.DataFrame:
        raw = source.fetch(symbols, interval, calendar.sessions_before(end, back)[0], end).bars
        return schemas.validate_bars(raw, intraday=interval != Interval.DAY).bars

    return {"daily": fetch(Interval.DAY, 200, calendar.previous_session(DAY)),
            "minutes": fetch(Interval.MINUTE_1, 5, DAY), "bars30": fetch(Interval.MINUTE_30, 10, DAY)}


def _all_signals(bars: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    daily, minutes, bars30 = bars["daily"], bars["minutes"], bars["bars30"]
    return {
        "gapgo": gapgo.screen(daily, minutes),
        "orb": orb.screen(minutes),
        "avwap_reclaim": avwap_reclaim.screen_daily(daily),
        "breakout": breakout.screen(daily),
        "ema_pullback": ema_pullback.screen(daily),
        "exhaustion_reversal": exhaustion_reversal.screen(bars30, daily),
    }


def test_symbols_without_volume_make_no_signal_and_no_nan_anywhere(synthetic) -> None:
    """The symbols that fire on the synthetic bars, their volume zeroed in every frame (a halted or
    dead ticker that a vendor still prints bars for): no signal of theirs, no NaN in any output."""
    before = _all_signals(synthetic)
    fired = {name: set(out["symbol"]) for name, out in before.items()}
    assert fired["orb"] and fired["exhaustion_reversal"] and fired["breakout"]  # something to silence
    silenced = fired["orb"] | fired["exhaustion_reversal"] | fired["avwap_reclaim"]
    silent = pl.col("symbol").is_in(list(silenced))
    zeroed = {k: f.with_columns(volume=pl.when(silent).then(0).otherwise(pl.col("volume"))) for k, f in synthetic.items()}
    after = _all_signals(zeroed)
    for name, out in after.items():
        assert not set(out["symbol"]) & silenced, name
        assert _no_nan(out), name
    anchors = avwap_anchors.find_anchors(zeroed["daily"])
    assert anchors.filter(silent & (pl.col("anchor_type") == "volume_spike")).is_empty() and _no_nan(anchors)
    # a NaN-scored signal stored by an older run does not reach the plan either
    stored = before["breakout"].head(1).with_columns(score=pl.lit(float("nan")), symbol=pl.lit("OLD"))
    signals = combine_signals([*after.values(), stored])
    plan = build_dashboard(signals, zeroed["daily"], calendar.session_close(DAY), DAY, DashboardParams(top_n=500))
    assert plan.height and "OLD" not in plan["symbol"].to_list() and _no_nan(plan)


# --- unadjusted splits -----------------------------------------------------------------------------


def _steps(symbol: str, step: float, dollar_volume_x: float) -> pl.DataFrame:
    """25 quiet sessions at 100 on 1M shares, then a day opening at 100 x ``step`` whose dollar
    volume is ``dollar_volume_x`` times the usual."""
    closes = [100.0] * 25 + [100.0 * step]
    shares = [1_000_000] * 25 + [int(1_000_000 * dollar_volume_x / step)]
    return _daily(symbol, closes, shares)


def test_detect_finds_unadjusted_splits_and_not_real_moves() -> None:
    bars = pl.concat([
        _steps("TWO", 0.502, 1.1),  # 2:1 on ordinary money traded
        _steps("REV", 10.1, 0.9),  # a 1:10 reverse split
        _steps("TRIP", 0.665, 0.8),  # 3:2
        _steps("CRASH", 0.5, 12.0),  # halved on 12x the dollars: a real collapse
        _steps("GAP", 0.92, 1.0),  # an ordinary 8% gap
    ])
    found = splits.detect(bars)
    assert dict(zip(found["symbol"], found["split"])) == {"TWO": "2:1", "REV": "1:10", "TRIP": "3:2"}
    assert (found["date"] == DAY).all() and found.schema == splits.SPLIT_SCHEMA


def test_a_real_split_left_unadjusted_is_found() -> None:
    """AAPL's 7:1 split of 2014-06-09, un-adjusted: the real bars before it times 7, volume / 7."""
    raw = pl.read_csv(REAL_DATA / "yahoofinance-AAPL-20040819-20180120.csv", try_parse_dates=True)
    before = pl.col("date") < dt.date(2014, 6, 9)
    aapl = raw.select(symbol=pl.lit("AAPL"), date=pl.col("Date").cast(pl.Date), open="Open", high="High",
                      low="Low", close="Close", volume="Volume")
    assert splits.detect(aapl).is_empty()  # adjusted: no split visible, and no real day looks like one
    unadjusted = aapl.with_columns(
        *(pl.when(before).then(pl.col(c) * 7).otherwise(pl.col(c)).alias(c) for c in ("open", "high", "low", "close")),
        volume=pl.when(before).then(pl.col("volume") // 7).otherwise(pl.col("volume")),
    )
    found = splits.detect(unadjusted)
    assert found.select("date", "split").rows() == [(dt.date(2014, 6, 9), "7:1")]


def test_a_2_for_1_split_suppresses_the_daily_setups_across_it(synthetic, monkeypatch, caplog) -> None:
    """Every symbol halves on one session (2:1, twice the shares): breakout, EMA pullback and AVWAP
    reclaim fire on the fake step when nothing suppresses them; with the split found, none of their
    signals from the split on stays (each logged with its reason), and those before it are unchanged."""
    daily = synthetic["daily"]
    split_day = calendar.sessions_before(calendar.previous_session(DAY), 20)[0]
    after = pl.col("date") >= split_day
    halved = daily.with_columns(
        *(pl.when(after).then(pl.col(c) / 2).otherwise(pl.col(c)).alias(c) for c in ("open", "high", "low", "close")),
        volume=pl.when(after).then(pl.col("volume") * 2).otherwise(pl.col("volume")),
    )
    screens = {"breakout": breakout.screen, "ema_pullback": ema_pullback.screen,
               "avwap_reclaim": avwap_reclaim.screen_daily}
    found = splits.detect(halved)
    assert found.height >= 55 and set(found["date"]) == {split_day}  # nearly all 60 (a few trade 5x+ that day)
    split_symbols = pl.col("symbol").is_in(found["symbol"].implode())

    with monkeypatch.context() as m:  # what they would say without the split check
        m.setattr(splits, "suppress_across", lambda s, *a, **k: (s, s.clear().with_columns(reason=pl.lit(""))))
        unchecked = {name: screen(halved) for name, screen in screens.items()}
    faked = sum(out.filter(split_symbols & after).height for out in unchecked.values())
    assert unchecked["breakout"].filter(split_symbols & (pl.col("date") == split_day)).height >= 20 and faked > 30

    with caplog.at_level(logging.WARNING, logger="screeners.common"):
        checked = {name: screen(halved) for name, screen in screens.items()}
    for name, out in checked.items():
        assert out.filter(split_symbols & after).is_empty(), name
        kept = out.filter(~after)  # before the split: the same signals as on clean bars
        assert kept.equals(screens[name](daily).filter(~after)), name
    assert f"breakout: dropped {unchecked['breakout'].filter(split_symbols & after).height} signal(s)" in caplog.text
    assert f"(2:1 on {split_day}: open 0.5" in caplog.text and "across an unadjusted split" in caplog.text
