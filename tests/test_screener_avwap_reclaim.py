"""Known-answer tests for screeners.avwap_reclaim on small hand-built daily frames."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from screeners.avwap_anchors import AnchorParams, find_anchors
from screeners.avwap_reclaim import DETAIL, AvwapReclaimParams, main, screen
from screeners.common import SIGNAL_SCHEMA

from lake_data import Row, daily_frame_from_rows, sessions_from

D0 = dt.date(2025, 6, 2)  # a Monday


def sessions(n: int) -> list[dt.date]:
    return sessions_from(D0, n)


DAYS = sessions(60)
PEAK, LAST = DAYS[50], DAYS[59]


def frame(symbol: str, rows: list[Row]) -> pl.DataFrame:
    return daily_frame_from_rows(symbol, rows, sessions(len(rows)))


def reclaim_path(last_volume: int, last_close: float = 102.0) -> list[Row]:
    """50-bar uptrend 80 -> 104.5, a peak bar (high 108, close 106), eight bars sliding to 98.5,
    then a bar closing at ``last_close`` back above the AVWAP from the peak."""
    up = [80 + 0.5 * i for i in range(50)]
    rows: list[Row] = [(c - 0.25, c + 0.5, c - 0.5, c, 1000) for c in up]
    rows.append((104.75, 108, 104, 106, 1000))
    rows += [(c + 0.75, c + 0.5, c - 0.5, c, 1000) for c in (105, 104, 103, 102, 101, 100, 99, 98.5)]
    rows.append((98.75, last_close + 0.5, 98.5, last_close, last_volume))
    return rows


def mirror(rows: list[Row]) -> list[Row]:
    """Price mirrored around 100 (p -> 200 - p): a long setup becomes the short one."""
    return [(200 - o, 200 - lo, 200 - h, 200 - c, v) for o, h, lo, c, v in rows]


def ref_avwap(rows: list[Row], start: int, end: int) -> float:
    pv = sum((r[1] + r[2] + r[3]) / 3 * r[4] for r in rows[start : end + 1])
    return pv / sum(r[4] for r in rows[start : end + 1])


def ref_atr(rows: list[Row], n: int = 14) -> float:
    """Wilder ATR at the last row, seeded with the mean of the first n true ranges."""
    prev = [r[3] for r in rows[:-1]]
    tr = [max(h - lo, abs(h - pc), abs(lo - pc)) for (_, h, lo, _, _), pc in zip(rows[1:], prev)]
    a = sum(tr[:n]) / n
    for x in tr[n:]:
        a = (a * (n - 1) + x) / n
    return a


STRONG, WEAK = reclaim_path(2500), reclaim_path(1000)


def daily() -> pl.DataFrame:
    """AAA strong long, BBB weak long, CCC strong short (mirror of AAA), DDD = AAA's bars with
    no anchors of its own; interleaved by date."""
    parts = [frame("AAA", STRONG), frame("BBB", WEAK), frame("CCC", mirror(STRONG)), frame("DDD", STRONG)]
    return pl.concat(parts).sort("date", "symbol")


def anchors() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [LAST] * 3,
            "symbol": ["AAA", "BBB", "CCC"],
            "anchor_date": [PEAK] * 3,
            "anchor_type": ["highest_high", "volume_spike", "lowest_low"],
        }
    )


def conforms(out: pl.DataFrame) -> None:
    assert out.schema == pl.Schema({**SIGNAL_SCHEMA, **DETAIL})


def test_strong_long_reclaim_fires_with_known_levels() -> None:
    out = screen(daily(), anchors())
    conforms(out)
    aaa = out.filter(pl.col("symbol") == "AAA").row(0, named=True)
    avwap = ref_avwap(STRONG, 50, 59)
    assert avwap == pytest.approx(1171000 / 11500)  # 101.83; through bar 58 it was 102.06 > 98.5
    assert ref_avwap(STRONG, 50, 58) > 98.5
    stop = avwap - 0.5 * ref_atr(STRONG)
    assert aaa["side"] == "long" and aaa["date"] == LAST and aaa["screener"] == "avwap_reclaim"
    assert aaa["score"] == 9.0  # type 3 + rvol 2.5x 3 + within 1 ATR 1.5 + above 50-SMA 1.5
    assert aaa["entry"] == 102.0
    assert aaa["stop"] == pytest.approx(round(stop, 2))
    assert aaa["target"] == pytest.approx(round(102.0 + 2 * (102.0 - stop), 2))
    assert aaa["avwap"] == pytest.approx(avwap) and aaa["rvol"] == pytest.approx(2.5)
    assert (aaa["anchor_type"], aaa["anchor_date"], aaa["bars_since"], aaa["anchors_reclaimed"]) == (
        "highest_high", PEAK, 9, 1)
    assert "reclaimed the highest_high AVWAP" in aaa["reasons"]
    assert "101.83" in aaa["reasons"] and "2.5×" in aaa["reasons"] and "+0.2%" in aaa["reasons"]


def test_marginal_reclaim_below_min_score_is_dropped() -> None:
    out = screen(daily(), anchors())
    assert "BBB" not in out["symbol"].to_list()  # volume_spike 1.5 + rvol 1.0x 1 + 1.5 + 1.5 = 5.5
    loose = screen(daily(), anchors(), AvwapReclaimParams(min_score=5.0))
    bbb = loose.filter(pl.col("symbol") == "BBB").row(0, named=True)
    assert bbb["score"] == 5.5 and bbb["side"] == "long"
    assert loose["symbol"].to_list().index("AAA") < loose["symbol"].to_list().index("BBB")


def test_short_is_the_mirror() -> None:
    ccc = screen(daily(), anchors()).filter(pl.col("symbol") == "CCC").row(0, named=True)
    avwap = 200 - ref_avwap(STRONG, 50, 59)
    stop = avwap + 0.5 * ref_atr(mirror(STRONG))
    assert ccc["side"] == "short" and ccc["score"] == 9.0
    assert ccc["entry"] == 98.0 and ccc["stop"] == pytest.approx(round(stop, 2))
    assert ccc["target"] == pytest.approx(round(98.0 - 2 * (stop - 98.0), 2))
    assert ccc["target"] < ccc["entry"] < ccc["stop"]
    assert ccc["reasons"].startswith("lost the lowest_low AVWAP")


def test_no_cross_no_signal_and_no_leak() -> None:
    out = screen(daily(), anchors())
    assert "DDD" not in out["symbol"].to_list()  # same bars as AAA, but no anchors of its own
    # an anchor the prior close was already above (bar 20 of the uptrend) is not a reclaim
    early = pl.DataFrame(
        {"date": [LAST], "symbol": ["AAA"], "anchor_date": [DAYS[20]], "anchor_type": ["swing_low"]}
    )
    assert screen(daily(), early, AvwapReclaimParams(min_score=0)).is_empty()
    # an anchor on the signal bar itself cannot be reclaimed
    same = early.with_columns(anchor_date=pl.lit(LAST))
    assert screen(daily(), same, AvwapReclaimParams(min_score=0)).is_empty()


def test_with_found_anchors_counts_confluence() -> None:
    found = find_anchors(daily(), AnchorParams(lookback_days=30))
    out = screen(daily(), found, AvwapReclaimParams(min_score=0))
    aaa = out.filter(pl.col("symbol") == "AAA").row(0, named=True)
    # the peak bar (highest_high + swing_high) and the window's lowest low (bar 30) are both crossed
    assert aaa["anchors_reclaimed"] == 2 and aaa["anchor_type"] == "highest_high"
    assert aaa["score"] == 9.5  # + 0.5 confluence
    assert "2 anchors reclaimed" in aaa["reasons"]


def test_extension_lowers_the_score() -> None:
    far = reclaim_path(2500, last_close=106.0)  # about 2.7 ATR above the AVWAP: no extension points
    out = screen(frame("AAA", far), anchors().head(1), AvwapReclaimParams(min_score=0))
    assert out.row(0, named=True)["score"] == 7.5


def test_below_the_trend_sma_lowers_the_score() -> None:
    flat_then_drop = [(110.0, 110.5, 109.5, 110.0, 1000)] * 50 + STRONG[50:]  # 50-SMA ~109 > 102
    out = screen(frame("AAA", flat_then_drop), anchors().head(1), AvwapReclaimParams(min_score=0))
    row = out.row(0, named=True)
    assert row["side"] == "long" and row["score"] == 7.5  # 9 without the 1.5 trend points
    assert "below the 50-SMA" in row["reasons"]


def test_empty_inputs_keep_schema() -> None:
    conforms(screen(daily().clear(), anchors()))
    conforms(screen(daily(), anchors().clear()))
    conforms(screen(daily(), anchors(), AvwapReclaimParams(min_score=10.0)))


def test_main_runs_end_to_end(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    assert main(["--tickers", "AAPL,MSFT", "--date", "2025-11-25", "--min-score", "0"]) == 0
    assert "avwap_reclaim signal(s) for 2025-11-25" in capsys.readouterr().out
