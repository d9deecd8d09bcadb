"""Known-answer tests for the Opening Range Breakout screener on small frames built here."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from screeners import common, orb
from screeners.orb import OrbParams
from tradingstation.core import calendar, schemas

DAY = dt.date(2025, 11, 25)
Bar = tuple[int, float, float, float, int]  # minute after the open, high, low, close, volume


def _range(hi: float = 101.0, lo: float = 100.0, vol: int = 10_000) -> list[Bar]:
    """15 one-minute bars spanning exactly [lo, hi], each trading ``vol`` shares."""
    return [(m, hi, lo, round((hi + lo) / 2, 2), vol) for m in range(15)]


def _bars(symbol: str, spec: list[Bar], date: dt.date = DAY, start: dt.datetime | None = None) -> pl.DataFrame:
    """Regular bars at ``start`` (default the session open) + minute, plus a wild pre-market bar."""
    t0 = start or calendar.session_open(date)
    rows = [(date, symbol, t0 + dt.timedelta(minutes=m), c, h, lo, c, v, "regular") for m, h, lo, c, v in spec]
    pre = calendar.session_open(date) - dt.timedelta(minutes=30)
    rows.append((date, symbol, pre, 150.0, 150.0, 50.0, 150.0, 10**6, "pre"))
    return pl.DataFrame(rows, schema=schemas.INTRADAY_BARS.names(), orient="row").cast(schemas.INTRADAY_BARS)


# AAA: the first close above (minute 20, 0.2 past the level, heavy) fires long, a second confirmed
# long at 21 does not, the first close below at 30 fires short.
AAA = [
    *_range(),
    *[(m, 100.8, 100.4, 100.6, 5_000) for m in range(15, 20)],
    (20, 101.3, 100.9, 101.2, 30_000),
    (21, 101.4, 101.0, 101.3, 30_000),
    (30, 100.2, 99.7, 99.8, 40_000),
]
# FAIL: the first close above (minute 20) is thin, a confirmed one follows at 22: the break failed.
FAIL = [
    *_range(),
    *[(m, 100.8, 100.4, 100.6, 5_000) for m in range(15, 20)],
    (20, 101.3, 100.9, 101.2, 12_000),
    (21, 101.1, 100.6, 100.8, 5_000),
    (22, 101.3, 101.0, 101.2, 30_000),
]
# BBB: same clock, 10x the volume, only thin closes beyond its range (AAA's volume must not leak).
BBB = [*_range(51.0, 50.0, 100_000), (16, 51.5, 50.9, 51.4, 120_000), (18, 50.1, 49.5, 49.6, 149_999)]


def _frame(**specs: list[Bar]) -> pl.DataFrame:
    return pl.concat([_bars(s, spec) for s, spec in specs.items()]).sort("ts", "symbol")  # interleaved


def _get(out: pl.DataFrame, symbol: str, side: str) -> dict:
    rows = out.filter((pl.col("symbol") == symbol) & (pl.col("side") == side)).to_dicts()
    assert len(rows) == 1, out
    return rows[0]


def test_first_confirmed_breakout_each_side() -> None:
    intra = _frame(AAA=AAA, BBB=BBB)
    out = orb.screen(intra)
    assert sorted(zip(out["symbol"], out["side"])) == [("AAA", "long"), ("AAA", "short")]
    lg = _get(out, "AAA", "long")
    assert lg["ts"] == calendar.session_open(DAY) + dt.timedelta(minutes=20)
    assert (lg["or_high"], lg["or_low"]) == (101.0, 100.0)  # the 150/50 pre-market bar is ignored
    assert (lg["entry"], lg["stop"], lg["target"]) == (101.2, 100.0, 103.2)  # target: entry + 2 x range
    ratio = 30_000 / ((15 * 10_000 + 5 * 5_000) / 20)  # against the previous 20 bars
    assert lg["breakout_volume"] == 30_000 and lg["volume_ratio"] == pytest.approx(ratio)
    assert lg["minutes_after_open"] == 20 and lg["rvol_time"] is None
    assert lg["range_pct"] == pytest.approx(100 / 100.5, abs=1e-9)
    # volume 4*ratio/4.5 + close in bar (101.2-100.9)/0.4 * 2 + earliness 2*(1-5/120)
    assert lg["score"] == pytest.approx(4 * ratio / 4.5 + 2 * 0.3 / 0.4 + 2 * (1 - 5 / 120), abs=0.01)
    for text in ("broke above", "100.0-101.0", "09:50 ET", "3.4×", "15-min"):
        assert text in lg["reasons"], lg["reasons"]
    st = _get(out, "AAA", "short")
    assert (st["entry"], st["stop"], st["target"]) == (99.8, 101.0, 97.8)
    assert st["target"] < st["entry"] < st["stop"] and "broke below" in st["reasons"]


def test_thin_breakout_does_not_fire_and_boundary_does() -> None:
    assert orb.screen(_frame(BBB=BBB)).is_empty()  # 1.2x and 1.49999x the range average
    at_limit = [*_range(), (16, 101.3, 100.9, 101.2, 15_000)]  # exactly 1.5x
    below = [*_range(), (16, 101.3, 100.9, 101.2, 14_999)]
    out = orb.screen(_frame(LIM=at_limit, BEL=below))
    assert out["symbol"].to_list() == ["LIM"]
    looser = OrbParams(volume_multiple=1.1, max_extension=0.5)  # BBB's closes are 0.4 of the range past
    assert orb.screen(_frame(BBB=BBB), looser)["side"].sort().to_list() == ["long", "short"]


def test_bars_inside_the_window_never_fire() -> None:
    early = [(m, 101.0, 100.0, 100.5, 10_000) for m in range(14)] + [(14, 102.0, 100.9, 101.9, 90_000)]
    assert orb.screen(_frame(EAR=early)).is_empty()  # the spike is part of the range
    out = orb.screen(_frame(EAR=early), OrbParams(or_window=10, max_extension=1.0))  # 0.9 of the range past
    assert out["ts"].to_list() == [calendar.session_open(DAY) + dt.timedelta(minutes=14)]


def test_late_open_uses_the_first_regular_bar() -> None:
    late = calendar.session_open(DAY) + dt.timedelta(minutes=30)
    spec = [*_range(), (10 + 5, 101.3, 100.9, 101.2, 40_000)]
    intra = pl.concat([_bars("LATE", spec, start=late), _bars("AAA", AAA)]).sort("ts")
    s = _get(orb.screen(intra), "LATE", "long")
    assert s["minutes_after_open"] == 15 and s["ts"] == late + dt.timedelta(minutes=15)
    assert "10:15 ET" in s["reasons"]


def test_degenerate_and_overextended_ranges_skip() -> None:
    tight = [*_range(50.03, 50.0), (16, 50.06, 50.0, 50.05, 90_000)]  # 0.06% range
    wide = [*_range(110.0, 100.0), (16, 111.0, 109.0, 110.5, 90_000)]  # 9.5% range
    far = [*_range(), (16, 103.5, 101.0, 103.2, 90_000)]  # closes 2.2 ranges past the level
    intra = _frame(TIG=tight, WID=wide, PAS=far)
    assert orb.screen(intra).is_empty()
    loose = orb.screen(intra, OrbParams(min_range_pct=0.05, max_range_pct=10.0, max_extension=3.0))
    assert sorted(loose["symbol"]) == ["PAS", "TIG", "WID"]
    assert (loose["entry"] < loose["target"]).all() and (loose["stop"] < loose["entry"]).all()
    assert _get(loose, "PAS", "long")["target"] == pytest.approx(103.2 + 2 * 1.0)  # from the entry


def test_entry_window_ends_the_hunt() -> None:
    late = [*_range(), *[(m, 100.8, 100.4, 100.6, 5_000) for m in range(15, 135)], (135, 101.3, 100.9, 101.2, 50_000)]
    assert orb.screen(_frame(LAT=late)).is_empty()  # 120 minutes after the range: too late
    assert orb.screen(_frame(LAT=late), OrbParams(entry_window=121)).height == 1
    assert orb.screen(_frame(LAT=late), OrbParams(entry_window=0)).height == 1  # 0 = no limit


def test_stop_at_midpoint() -> None:
    out = orb.screen(_frame(AAA=AAA), OrbParams(stop_at_midpoint=True))
    assert _get(out, "AAA", "long")["stop"] == 100.5 and _get(out, "AAA", "short")["stop"] == 100.5


def test_time_of_day_volume_from_history_raises_score() -> None:
    prior = calendar.sessions_before(DAY, 5)
    quiet = [(m, h, lo, c, 10_000 if m == 20 else v) for m, h, lo, c, v in AAA]
    # ZZZ has no history: AAA's earlier sessions must not stand in for it
    hist = pl.concat([_bars("AAA", quiet, d) for d in prior] + [_bars("AAA", AAA), _bars("ZZZ", AAA)]).sort("ts")
    out = orb.screen(hist).filter(pl.col("date") == DAY)
    assert _get(out, "ZZZ", "long")["rvol_time"] is None
    base = _get(orb.screen(_frame(AAA=AAA)), "AAA", "long")
    lg = _get(out, "AAA", "long")
    assert lg["rvol_time"] == pytest.approx(3.0)
    assert lg["score"] - base["score"] == pytest.approx(2.0, abs=0.011)
    assert "3.0× usual volume for the time of day" in lg["reasons"]
    assert set(orb.screen(hist)["date"]) == {*prior, DAY}  # every session screened on its own range


def test_score_prefers_heavier_earlier_breakouts() -> None:
    strong = [*_range(), (15, 101.2, 100.95, 101.2, 80_000)]
    weak = [*_range(), (90, 101.5, 100.9, 101.1, 16_000)]
    out = orb.screen(_frame(STR=strong, WEA=weak))
    assert out["symbol"].to_list() == ["STR", "WEA"]
    assert out["score"].to_list() == pytest.approx([8.0, 4 * 1.6 / 4.5 + 2 * 0.2 / 0.6 + 2 * (1 - 75 / 120)], abs=0.01)


def test_schema_also_when_empty() -> None:
    want = pl.Schema({**common.SIGNAL_SCHEMA, **orb.DETAIL})
    intra = _frame(AAA=AAA, BBB=BBB)
    assert orb.screen(intra).schema == want
    assert orb.screen(intra.filter(pl.col("symbol") == "BBB")).schema == want
    assert orb.screen(intra.clear()).schema == want


def test_main_runs_end_to_end(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "synthetic")
    assert orb.main(["--tickers", "AAPL,MSFT", "--date", "2025-11-25", "--volume-multiple", "0.5"]) == 0
    assert "orb signal(s) for 2025-11-25" in capsys.readouterr().out


def test_a_failed_first_break_ends_the_side() -> None:
    """A thin first close beyond the range is a failed breakout: the confirmed close after it
    does not fire at the defaults (it did under the old rule, kept as ``first_close_only=False``)."""
    assert orb.screen(_frame(FAIL=FAIL)).is_empty()
    out = orb.screen(_frame(FAIL=FAIL), OrbParams(first_close_only=False))
    assert _get(out, "FAIL", "long")["minutes_after_open"] == 22


def test_entry_no_farther_past_the_level_than_a_fraction_of_the_range() -> None:
    at_limit = [*_range(), (16, 101.3, 101.0, 101.25, 90_000)]  # 0.25 x the 1.00 range past 101
    beyond = [*_range(), (16, 101.3, 101.0, 101.26, 90_000)]
    out = orb.screen(_frame(LIM=at_limit, FAR=beyond))
    assert out["symbol"].to_list() == ["LIM"]
    assert orb.screen(_frame(FAR=beyond), OrbParams(max_extension=0.3))["symbol"].to_list() == ["FAR"]
    lim = _get(out, "LIM", "long")  # reward:risk from the entry: 2 ranges / (1 + 0.25) ranges
    assert (lim["target"] - lim["entry"]) / (lim["entry"] - lim["stop"]) == pytest.approx(2 / 1.25)


def test_time_of_day_volume_is_by_clock_minute() -> None:
    """Earlier sessions that opened 10 minutes late: the 09:50 bar is compared with their 09:50
    bars (6,000 shares), not with their bars 20 minutes after their first one (10:00, 30,000)."""
    prior = calendar.sessions_before(DAY, 5)
    late = [(m, 100.8, 100.4, 100.6, 6_000 if m == 10 else 30_000 if m == 20 else 10_000) for m in range(40)]
    starts = {d: calendar.session_open(d) + dt.timedelta(minutes=10) for d in prior}
    hist = pl.concat([_bars("AAA", late, d, start=starts[d]) for d in prior] + [_bars("AAA", AAA)]).sort("ts")
    lg = _get(orb.screen(hist).filter(pl.col("date") == DAY), "AAA", "long")
    assert lg["rvol_time"] == pytest.approx(30_000 / 6_000)


def test_min_rvol_time_keeps_stocks_in_play_only() -> None:
    prior = calendar.sessions_before(DAY, 5)
    quiet = [(m, h, lo, c, 10_000 if m == 20 else v) for m, h, lo, c, v in AAA]
    hist = pl.concat([_bars("AAA", quiet, d) for d in prior] + [_bars("AAA", AAA), _bars("ZZZ", AAA)]).sort("ts")
    today = pl.col("date") == DAY
    assert _get(orb.screen(hist, OrbParams(min_rvol_time=2.5)).filter(today), "AAA", "long")["rvol_time"] == 3.0
    strict = orb.screen(hist, OrbParams(min_rvol_time=3.5)).filter(today)
    assert strict.filter(pl.col("side") == "long").is_empty()
    assert "ZZZ" not in strict["symbol"].to_list()  # no history: no time-of-day volume, no pass


@pytest.fixture(scope="module")
def sp500_session() -> tuple[pl.DataFrame, int]:
    """Synthetic 1-minute bars of the S&P 500 for DAY and the 5 sessions before it (time-of-day volume)."""
    from tradingstation.core.universe_lists import load_sp500
    from tradingstation.resources.sources.base import Interval
    from tradingstation.resources.sources.synthetic_source import SyntheticSource

    symbols = load_sp500()[0]
    first = calendar.sessions_before(DAY, 5)[0]
    fetched = SyntheticSource().fetch(symbols, Interval.MINUTE_1, first, DAY)
    return schemas.validate_bars(fetched.bars, intraday=True).bars, len(symbols)


def test_orb_flags_at_most_a_tenth_of_the_universe_on_a_synthetic_session(sp500_session) -> None:
    bars, universe = sp500_session
    p = OrbParams()
    out = orb.screen(bars).filter(pl.col("date") == DAY)
    share = out["symbol"].n_unique() / universe
    assert 0 < share <= 0.10, share
    assert out["rvol_time"].is_not_null().all()  # 5 earlier sessions: every signal has it
    long = pl.col("side") == "long"
    height = pl.col("or_high") - pl.col("or_low")
    past = pl.when(long).then(pl.col("entry") - pl.col("or_high")).otherwise(pl.col("or_low") - pl.col("entry"))
    assert out.select(((past >= -0.005) & (past <= p.max_extension * height + 0.005)).all()).item()
    from_entry = pl.col("entry") + pl.when(long).then(1.0).otherwise(-1.0) * p.target_multiple * height
    assert out.select(((pl.col("target") - from_entry).abs() <= 0.011).all()).item()  # both rounded to cents
    # the test can fail: the old rule (any later confirmed close) flags about a fifth of the universe
    old = orb.screen(bars, OrbParams(first_close_only=False, max_extension=1e9)).filter(pl.col("date") == DAY)
    assert old["symbol"].n_unique() / universe > 0.10
