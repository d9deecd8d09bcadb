"""Master dashboard: merging, ranking, sizing, regime and the HTML page on frames built here."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from screeners import common, dashboard, dashboard_html
from screeners.dashboard import DASHBOARD_SCHEMA, DashboardParams, build_dashboard
from tradingstation.core import calendar, schemas

DATE = dt.date(2025, 11, 25)
AS_OF = calendar.session_close(DATE)
UTC = dt.timezone.utc


def _sig(symbol: str, screener: str, side: str, score: float, entry: float, stop: float, target: float,
         hours_ago: float = 1.0, reasons: str = "why") -> dict:
    return dict(date=DATE, ts=AS_OF - dt.timedelta(hours=hours_ago), symbol=symbol, screener=screener,
                side=side, score=score, entry=entry, stop=stop, target=target, reasons=reasons)


def _signals(*rows: dict, detail: bool = False) -> pl.DataFrame:
    df = pl.DataFrame(list(rows), schema=common.SIGNAL_SCHEMA)
    return df.with_columns(rel_volume=pl.lit(2.0)) if detail else df


def _spy(closes: list[float], symbol: str = "SPY") -> pl.DataFrame:
    """Daily bars ending on DATE with the given closes."""
    dates = [*calendar.sessions_before(DATE, len(closes) - 1), DATE]
    return pl.DataFrame(
        {"date": dates, "symbol": symbol, "ts": [calendar.session_open(d) for d in dates], "open": closes,
         "high": closes, "low": closes, "close": closes, "volume": [1_000_000] * len(closes)},
        schema=schemas.DAILY_BARS,
    )


BULL = _spy([100.0 + i * 0.1 for i in range(200)])  # last close above its 200-day mean
BEAR = _spy([200.0 - i * 0.1 for i in range(200)])
NO_REGIME = _spy([100.0] * 10)


def test_confluence_outranks_single_higher_score_and_composite_math() -> None:
    sig = _signals(
        _sig("AAA", "breakout", "long", 6.0, 50.0, 48.0, 54.0, reasons="base broken"),
        _sig("AAA", "ema_pullback", "long", 5.5, 50.2, 48.5, 53.0, reasons="touched the 21 EMA"),
        _sig("BBB", "gapgo", "long", 6.5, 20.0, 19.0, 22.0),
        _sig("CCC", "orb", "long", 3.0, 10.0, 9.5, 11.0),
        detail=True,
    )
    out = build_dashboard(sig, BULL, AS_OF, DATE)
    assert out["symbol"].to_list() == ["AAA", "BBB", "CCC"]
    assert out["rank"].to_list() == [1, 2, 3]
    aaa = out.row(0, named=True)
    assert aaa["confluence"] == 2 and aaa["screeners"] == "breakout, ema_pullback"
    assert aaa["composite_score"] == pytest.approx(7.0)  # 6.0 + 1 per extra screener
    assert (aaa["entry"], aaa["stop"], aaa["target"]) == (50.0, 48.0, 54.0)  # best-scoring signal
    assert aaa["reasons"] == "breakout: base broken | ema_pullback: touched the 21 EMA"
    assert out["composite_score"].to_list()[1:] == [6.5, 3.0]
    assert aaa["regime"] == "bull" and not aaa["against_regime"] and aaa["date"] == DATE


def test_composite_capped_at_ten_and_same_screener_counts_once() -> None:
    sig = _signals(
        *[_sig("AAA", name, "long", 9.5, 50.0, 48.0, 54.0) for name in ("gapgo", "orb", "breakout")],
        _sig("AAA", "orb", "long", 9.8, 50.0, 49.0, 54.0, hours_ago=1.5),  # within 60 min of the others
    )
    row = build_dashboard(sig, BULL, AS_OF, DATE).row(0, named=True)
    assert row["confluence"] == 3 and row["composite_score"] == 10.0
    assert row["stop"] == 49.0  # the 9.8 orb signal is the best one


def test_lookback_window_and_min_score() -> None:
    sig = _signals(
        _sig("OLD", "breakout", "long", 8.0, 50.0, 48.0, 54.0, hours_ago=30),
        _sig("EDGE", "breakout", "long", 5.0, 50.0, 48.0, 54.0, hours_ago=24),  # exactly the previous close: out
        _sig("NEW", "breakout", "long", 4.0, 50.0, 48.0, 54.0, hours_ago=2),
        _sig("LOW", "orb", "long", 1.0, 50.0, 48.0, 54.0),
        _sig("LATER", "orb", "long", 9.0, 50.0, 48.0, 54.0, hours_ago=-1),  # after as_of
    )
    out = build_dashboard(sig, BULL, AS_OF, DATE, DashboardParams(min_score=2.0))
    assert out["symbol"].to_list() == ["NEW"]
    out = build_dashboard(sig, BULL, AS_OF, DATE, DashboardParams(hours_lookback=48))
    assert "OLD" in out["symbol"].to_list() and "LOW" in out["symbol"].to_list()


def test_position_sizing_and_reward_risk() -> None:
    sig = _signals(
        _sig("AAA", "breakout", "long", 5.0, 50.0, 48.0, 56.0),
        _sig("ZERO", "breakout", "long", 4.0, 50.0, 50.0, 56.0),
        _sig("SSS", "orb", "short", 3.0, 40.0, 41.5, 37.0),
    )
    out = build_dashboard(sig, NO_REGIME, AS_OF, DATE).rows_by_key("symbol", named=True, unique=True)
    assert out["AAA"]["shares"] == 500 and out["AAA"]["risk_per_share"] == 2.0
    assert out["AAA"]["position_value"] == 25_000.0 and out["AAA"]["reward_risk"] == 3.0
    assert out["ZERO"]["shares"] == 0 and out["ZERO"]["reward_risk"] is None and out["ZERO"]["blocked_by"] == "risk"
    # $1,000 at risk is 666 shares ($26,640): capped at the largest position, 25% of the account
    assert out["SSS"]["risk_per_share"] == 1.5 and out["SSS"]["shares"] == 625
    assert out["SSS"]["reward_risk"] == 2.0 and out["SSS"]["sized_by"] == "max_position"
    whole = build_dashboard(sig, NO_REGIME, AS_OF, DATE, DashboardParams(max_position_pct=100.0))
    assert whole.filter(pl.col("symbol") == "SSS")["shares"].item() == 666
    small = DashboardParams(account_size=50_000, risk_per_trade_pct=0.5)
    half = build_dashboard(sig, NO_REGIME, AS_OF, DATE, small)
    assert half.filter(pl.col("symbol") == "AAA")["shares"].item() == 125


def test_regime_bull_bear_unknown_and_penalty() -> None:
    sig = _signals(_sig("AAA", "breakout", "long", 6.0, 50.0, 48.0, 54.0),
                   _sig("SSS", "orb", "short", 5.0, 40.0, 41.0, 38.0))
    bull = build_dashboard(sig, BULL, AS_OF, DATE).rows_by_key("symbol", named=True, unique=True)
    assert bull["AAA"]["regime"] == "bull" and not bull["AAA"]["against_regime"]
    assert bull["SSS"]["against_regime"] and bull["SSS"]["composite_score"] == 3.0
    bear = build_dashboard(sig, BEAR, AS_OF, DATE).rows_by_key("symbol", named=True, unique=True)
    assert bear["AAA"]["regime"] == "bear" and bear["AAA"]["against_regime"]
    assert bear["AAA"]["composite_score"] == 4.0 and not bear["SSS"]["against_regime"]
    unknown = build_dashboard(sig, NO_REGIME, AS_OF, DATE)
    assert unknown["regime"].unique().to_list() == ["unknown"] and not unknown["against_regime"].any()
    assert dashboard.market_regime(BULL, DATE, "SPY", 200) == "bull"
    assert dashboard.market_regime(BULL, DATE, "QQQ", 200) == "unknown"
    assert dashboard.market_regime(BULL, DATE - dt.timedelta(days=1), "SPY", 200) == "unknown"


def test_both_sides_are_a_conflict_not_confluence() -> None:
    sig = _signals(_sig("AAA", "breakout", "long", 6.0, 50.0, 48.0, 54.0),
                   _sig("AAA", "exhaustion_reversal", "short", 5.0, 50.0, 51.0, 47.0),
                   _sig("BBB", "orb", "long", 4.0, 20.0, 19.0, 22.0))
    out = build_dashboard(sig, NO_REGIME, AS_OF - dt.timedelta(minutes=30), DATE)  # 15:30 ET: none finished
    aaa = out.filter(pl.col("symbol") == "AAA")
    assert aaa["side"].sort().to_list() == ["long", "short"] and aaa["conflict"].to_list() == [True, True]
    assert aaa["confluence"].to_list() == [1, 1]  # a long and a short never add up
    assert (aaa["reasons"].str.starts_with("conflict: long and short signals | ")).all()
    assert out.filter(pl.col("symbol") == "BBB")["conflict"].to_list() == [False]


def test_empty_input_gives_full_schema() -> None:
    empty = build_dashboard(pl.DataFrame(schema=common.SIGNAL_SCHEMA), BULL, AS_OF, DATE)
    assert empty.is_empty() and empty.schema == DASHBOARD_SCHEMA
    old = build_dashboard(_signals(_sig("A", "orb", "long", 5.0, 10, 9, 12, hours_ago=99)), BULL, AS_OF, DATE)
    assert old.is_empty() and old.schema == DASHBOARD_SCHEMA
    assert dashboard.combine_signals([]).schema == common.SIGNAL_SCHEMA
    with pytest.raises(ValueError):
        build_dashboard(_signals(), BULL, AS_OF.replace(tzinfo=None), DATE)


def test_combine_signals_drops_detail_columns() -> None:
    a = _signals(_sig("AAA", "breakout", "long", 6.0, 50.0, 48.0, 54.0), detail=True)
    b = _signals(_sig("BBB", "orb", "long", 5.0, 20.0, 19.0, 22.0)).with_columns(or_high=pl.lit(1.0))
    both = dashboard.combine_signals([a, b])
    assert both.schema == common.SIGNAL_SCHEMA and both.height == 2


def test_markdown_preview() -> None:
    sig = _signals(_sig("AAA", "breakout", "long", 6.0, 50.0, 48.0, 54.0))
    md = dashboard.markdown_preview(build_dashboard(sig, BEAR, AS_OF, DATE))
    lines = md.splitlines()
    assert lines[0].startswith("| # | symbol") and len(lines) == 3
    assert lines[2] == ("| 1 | AAA | long | 4.00 | 4.00 | 1 | breakout | 50.00 | 48.00 | 54.00 | 2.00 | 500 "
                        "| pending 11-25 15:00 | yes |")


def test_html_rows_charts_and_escaping() -> None:
    sig = _signals(
        _sig("AAA", "breakout", "long", 6.0, 50.0, 48.0, 54.0, reasons="<script>alert(1)</script>"),
        _sig("BBB", "orb", "short", 5.0, 20.0, 21.0, 18.0),
        _sig("CCC", "gapgo", "long", 4.0, 10.0, 9.0, 12.0),
    )
    daily = pl.concat([BULL, _spy([49.0 + i * 0.01 for i in range(100)], "AAA")])
    out = build_dashboard(sig, daily, AS_OF, DATE)
    page = dashboard_html.render_html(out, daily, DashboardParams(top_n=2), "Dash <b>")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Dash &lt;b&gt;" in page and "<link" not in page and "http" not in page
    assert page.count('id="row-chart-') == 3 and 'class="short against"' in page
    # top_n=2 charts at most; BBB has no bars, so only AAA's daily chart, linked from its row (tests/test_charts.py)
    assert page.count('<tr class="chart-row">') == 1 and page.count("<img") == 1
    assert 'href="#chart-AAA-long"' in page and 'id="chart-AAA-long"' in page and "#chart-BBB-short" not in page
    empty = dashboard_html.render_html(pl.DataFrame(schema=DASHBOARD_SCHEMA), daily, DashboardParams(), "x")
    assert "no signals" in empty and "<img" not in empty


def test_main_end_to_end(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "synthetic")
    html = tmp_path / "dash.html"
    argv = ["--tickers", "AAPL,MSFT", "--date", "2025-11-25", "--verbose", "--html", str(html)]
    assert dashboard.main(argv) == 0
    out = capsys.readouterr().out
    assert "dashboard row(s) for 2025-11-25" in out and "breakout:" in out
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_main_reads_stored_signals_from_the_lake(tmp_path, monkeypatch, capsys) -> None:
    from tradingstation.lake import Lake

    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "synthetic")
    try:  # the registered contract (signals + breakout's detail columns) when there is one
        ds = schemas.dataset("breakout_signals")
    except schemas.UnknownDatasetError:
        ds = schemas.Dataset("breakout_signals", schemas.SIGNALS, "test")
        monkeypatch.setitem(schemas.DATASETS, ds.name, ds)
    stored = _signals(_sig("MSFT", "breakout", "long", 9.9, 50.0, 48.0, 54.0, reasons="from the lake"))
    stored = stored.with_columns(pl.lit(None, t).alias(c) for c, t in ds.schema.items() if c not in stored)
    Lake(str(tmp_path)).write("breakout_signals", DATE, stored)
    assert dashboard.main(["--tickers", "MSFT", "--date", "2025-11-25", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "breakout: 1 signal(s) (lake)" in out and "breakout: from the lake" in out
    assert "orb:" in out and "(ran)" in out
