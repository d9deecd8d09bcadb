"""Known-answer tests for screeners.avwap_anchors on small hand-built daily frames."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from screeners.avwap_anchors import ANCHOR_SCHEMA, AnchorParams, find_anchors, main

from lake_data import daily_frame_from_rows, sessions_from

D0 = dt.date(2025, 6, 2)  # a Monday


def sessions(n: int) -> list[dt.date]:
    return sessions_from(D0, n)


def frame(symbol: str, rows: list[tuple[float, float, float, float, int]]) -> pl.DataFrame:
    """Daily bars in the bar contract from (open, high, low, close, volume) rows."""
    return daily_frame_from_rows(symbol, rows, sessions(len(rows)))


X_ROWS = [
    (100, 101, 99, 100, 1000),  # 0
    (100, 102, 99.5, 101, 1000),  # 1
    (101, 103, 100, 102, 1000),  # 2
    (106.1, 108, 105, 107, 1000),  # 3: gap up +4.02%
    (107, 110, 106, 109, 3000),  # 4: 3x volume, swing high (window 2), highest high
    (109, 109.5, 104, 105, 1000),  # 5
    (105, 106, 103, 104, 1000),  # 6: confirms the swing high at 4
    (104, 105, 100, 101, 1000),  # 7: swing low, lowest low
    (101, 104, 101, 103, 1000),  # 8
    (103, 105, 102, 104, 1000),  # 9: confirms the swing low at 7
    (104, 106, 103, 105, 1000),  # 10
    (100.905, 106, 100.5, 105.5, 1000),  # 11: gap -3.9%, below the threshold
]
FLAT = [(50, 51, 49, 50, 1000)] * 12
PARAMS = AnchorParams(lookback_days=8, gap_threshold=4.0, volume_spike=2.0, swing_window=2, volume_avg_days=3)


def bars() -> pl.DataFrame:
    """X and a flat Y interleaved by date (so per-symbol windows must not leak)."""
    return pl.concat([frame("X", X_ROWS), frame("Y", FLAT)]).sort("date", "symbol")


def kinds(out: pl.DataFrame, symbol: str) -> set[tuple[int, str]]:
    """(bars_since, anchor_type) pairs for one symbol."""
    sub = out.filter(pl.col("symbol") == symbol)
    return set(zip(sub["bars_since"].to_list(), sub["anchor_type"].to_list()))


def test_anchor_types_window_and_avwap_known_answer() -> None:
    out = find_anchors(bars(), PARAMS)
    assert out.schema == ANCHOR_SCHEMA
    d = sessions(12)
    assert out["date"].unique().to_list() == [d[11]]
    # the gap at bar 3 is outside the 8-bar window; the -3.9% gap at 11 is below threshold
    assert kinds(out, "X") == {
        (7, "volume_spike"),
        (7, "swing_high"),
        (7, "highest_high"),
        (4, "swing_low"),
        (4, "lowest_low"),
    }
    x = out.filter(pl.col("symbol") == "X")
    from_low = x.filter(pl.col("anchor_type") == "swing_low").row(0, named=True)
    assert from_low["anchor_date"] == d[7]
    assert from_low["avwap"] == pytest.approx(103.4)  # typical 102, 102.67, 103.67, 104.67, 104
    assert from_low["close"] == 105.5
    assert from_low["distance_pct"] == pytest.approx((105.5 / 103.4 - 1) * 100)
    from_high = x.filter(pl.col("anchor_type") == "highest_high").row(0, named=True)
    assert from_high["avwap"] == pytest.approx(1052500 / 10000)  # the 3x bar weighs 3000


def test_flat_symbol_ties_pick_latest_bar_and_do_not_leak() -> None:
    out = find_anchors(bars(), PARAMS)
    assert kinds(out, "Y") == {(0, "highest_high"), (0, "lowest_low")}  # no strict swings, no gaps
    y = out.filter(pl.col("symbol") == "Y")
    assert y["avwap"].to_list() == [50.0, 50.0]


def test_gap_threshold_boundary_and_longer_lookback() -> None:
    out = find_anchors(bars(), AnchorParams(**{**PARAMS.__dict__, "lookback_days": 9}))
    assert (8, "gap_up") in kinds(out, "X")
    loose = find_anchors(bars(), AnchorParams(**{**PARAMS.__dict__, "gap_threshold": 3.8}))
    assert (0, "gap_down") in kinds(loose, "X")
    assert (0, "gap_down") not in kinds(find_anchors(bars(), PARAMS), "X")


def test_volume_spike_threshold() -> None:
    strict = find_anchors(bars(), AnchorParams(**{**PARAMS.__dict__, "volume_spike": 3.01}))
    assert (7, "volume_spike") not in kinds(strict, "X")


def test_swing_needs_confirmation_no_look_ahead() -> None:
    d = sessions(12)
    early = find_anchors(bars(), PARAMS, as_of=d[5])
    assert (1, "swing_high") not in kinds(early, "X")  # bar 6 not yet seen
    assert (1, "highest_high") in kinds(early, "X")
    confirmed = find_anchors(bars(), PARAMS, as_of=d[6])
    assert (2, "swing_high") in kinds(confirmed, "X")
    # as of bar 6, the full frame and the frame cut at bar 6 agree
    cut = find_anchors(bars().filter(pl.col("date") <= d[6]), PARAMS)
    assert cut.equals(confirmed)


def test_many_as_of_dates_equal_separate_calls() -> None:
    d = sessions(12)
    both = find_anchors(bars(), PARAMS, as_of=[d[6], d[11]])
    separate = pl.concat([find_anchors(bars(), PARAMS, as_of=d[i]) for i in (6, 11)])
    assert both.equals(separate.sort("date", "symbol", "anchor_date", "anchor_type"))


def test_earnings_anchor_inside_window_only() -> None:
    d = sessions(12)
    earnings = pl.DataFrame({"symbol": ["X", "X", "Y"], "date": [d[9], d[1], d[2]]})
    out = find_anchors(bars(), PARAMS, earnings=earnings)
    assert (2, "earnings") in kinds(out, "X")
    assert not out.filter(pl.col("anchor_type") == "earnings", pl.col("bars_since") > 2).height


def test_empty_input_keeps_schema() -> None:
    empty = bars().clear()
    out = find_anchors(empty, PARAMS)
    assert out.is_empty() and out.schema == ANCHOR_SCHEMA


def test_main_runs_end_to_end(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    assert main(["--ticker", "NVDA", "--date", "2025-11-25", "--lookback-days", "10"]) == 0
    printed = capsys.readouterr().out
    assert "NVDA" in printed and "anchor(s) for 2025-11-25" in printed


@pytest.mark.parametrize("params", [AnchorParams(), PARAMS, AnchorParams(lookback_days=3, swing_window=1, volume_avg_days=80)])
def test_integer_volumes_flag_only_the_windows_and_agree_with_the_whole_frame_path(params: AnchorParams) -> None:
    """Integer volumes take the fast path (each as-of window and the bars its flags read back);
    float volumes flag the whole history. Whole-number volumes must give the same anchors both ways,
    on uneven histories (late listings, a missing bar) and for one, several and every as-of date."""
    from tradingstation.core.schemas import validate_bars
    from tradingstation.resources.sources.synthetic_source import SyntheticSource

    days = sessions_from(D0, 140)
    fetched = SyntheticSource(seed=3).fetch([f"S{i:02d}" for i in range(40)], "1d", days[0], days[-1]).bars
    raw = validate_bars(fetched, intraday=False).bars
    ranked = pl.col("date").rank("dense").over("symbol")
    daily = (raw.filter((pl.col("symbol") > "S30") | (ranked > 25))  # some symbols listed later
             .filter(~((pl.col("symbol") == "S07") & (ranked == 90)))  # and a missing bar
             .with_columns(pl.col("volume").cast(pl.Int64)).sort("symbol", "date"))
    assert daily["symbol"].n_unique() == 40
    dates = daily["date"].unique().sort().to_list()
    floats = daily.with_columns(pl.col("volume").cast(pl.Float64))
    for as_of in (None, dates[-1], dates[-30:], dates[5:8]):
        fast = find_anchors(daily, params, as_of=as_of)
        whole = find_anchors(floats, params, as_of=as_of)
        assert fast.height > 0 and fast.equals(whole), as_of
