"""The plan's charts: the levels and AVWAP lines they draw (pure functions), and the page that holds
them (one chart per top row, linked from its row, PNGs that decode, 1-minute views for ORB and Gap & Go)."""

from __future__ import annotations

import base64
import datetime as dt
import re
import struct

import polars as pl
import pytest

from screeners import chart_drawing, charts, dashboard_html
from screeners.avwap_anchors import find_anchors
from screeners.dashboard import DashboardParams, build_dashboard
from tradingstation.core import calendar, schemas
from tradingstation.resources.sources import Interval
from tradingstation.resources.sources.synthetic_source import SyntheticSource

DATE = dt.date(2025, 11, 21)
PREV = calendar.previous_session(DATE)
UTC = dt.timezone.utc


def _bar(symbol: str, day: dt.date, high: float, low: float, volume: int = 1000) -> dict:
    mid = (high + low) / 2
    return dict(date=day, symbol=symbol, ts=calendar.session_open(day), open=mid, high=high, low=low, close=mid,
                volume=volume)


def _minute(symbol: str, day: dt.date, hh: int, mm: int, high: float, low: float, session: str) -> dict:
    ts = dt.datetime.combine(day, dt.time(hh, mm), tzinfo=calendar.NY).astimezone(UTC)
    return dict(date=day, symbol=symbol, ts=ts, open=low, high=high, low=low, close=high, volume=100, session=session)


# --- levels -------------------------------------------------------------------------------------------------


def test_levels_are_the_prior_session_and_todays_premarket() -> None:
    daily = pl.DataFrame([
        _bar("A", calendar.previous_session(PREV), 99.0, 90.0),
        _bar("A", PREV, 105.0, 101.0),  # the prior session: PDH/PDL
        _bar("A", DATE, 120.0, 80.0),  # today's own bar never is its prior day
        _bar("B", PREV, 10.0, 9.0),
    ], schema=schemas.DAILY_BARS)
    minutes = pl.DataFrame([
        _minute("A", DATE, 7, 0, 106.0, 104.5, "pre"),
        _minute("A", DATE, 9, 15, 107.5, 105.0, "pre"),
        _minute("A", DATE, 9, 45, 130.0, 70.0, "regular"),  # regular hours are not the pre-market
        _minute("A", PREV, 8, 0, 200.0, 1.0, "pre"),  # yesterday's pre-market is not today's
        _minute("C", DATE, 8, 0, 5.0, 4.0, "pre"),  # no daily bar: pre-market levels only
    ], schema=schemas.INTRADAY_BARS)
    got = {r["symbol"]: r for r in charts.chart_levels(daily, minutes, DATE).iter_rows(named=True)}
    assert (got["A"]["prior_high"], got["A"]["prior_low"]) == (105.0, 101.0)
    assert (got["A"]["premarket_high"], got["A"]["premarket_low"]) == (107.5, 104.5)
    assert got["B"]["premarket_high"] is None and got["B"]["prior_low"] == 9.0
    assert got["C"]["prior_high"] is None and got["C"]["premarket_low"] == 4.0
    none = charts.chart_levels(daily, None, DATE)
    assert none["premarket_high"].null_count() == none.height == 2


def test_levels_are_drawn_labelled_and_inside_the_axis() -> None:
    marks = {"entry": 100.5, "stop": 100.4, "target": 104.0, "prior_high": None}
    (lo, hi), shown = chart_drawing.level_layout(marks, (100.0, 101.0))
    assert [name for _, name, _ in shown] == ["target", "entry", "stop"]  # top down; a missing level is not drawn
    assert lo < 100.0 and hi > 104.0  # a target beyond the candles stays on the chart
    ys = [frac for _, _, frac in shown]
    assert all(a - b >= 0.059 for a, b in zip(ys, ys[1:]))  # close levels: labels pushed apart
    assert chart_drawing.level_layout({"entry": None}, (1.0, 2.0)) == (None, [])
    # drawn: a line and a label per level, on a chart whose candles span 100..101
    day = [dt.date(2025, 11, 17) + dt.timedelta(days=i) for i in range(3)]
    bars = pl.DataFrame([_bar("A", d, 101.0, 100.0) for d in day], schema=schemas.DAILY_BARS)
    charts.render_daily(bars, None, marks, "levels")
    t = chart_drawing._TEMPLATES["daily"]
    labels = [x.get_text() for x in t.level_texts if x.get_visible()]
    assert labels == ["target 104.00", "entry 100.50", "stop 100.40"]
    assert [line.get_ydata()[0] for line in t.level_lines if line.get_visible()] == [104.0, 100.5, 100.4]
    lo, hi = t.ax.get_ylim()
    assert lo < 100.0 and hi > 104.0


# --- AVWAP lines -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic() -> dict[str, pl.DataFrame]:
    """Synthetic daily bars (120 sessions to DATE) and DATE's 1-minute bars of four symbols."""
    src, symbols = SyntheticSource(seed=7), ["AAPL", "NVDA", "XOM", "KO"]
    start = calendar.sessions_before(DATE, 119)[0]
    daily = schemas.validate_bars(src.fetch(symbols, Interval.DAY, start, DATE).bars, intraday=False).bars
    minutes = schemas.validate_bars(src.fetch(symbols, Interval.MINUTE_1, DATE, DATE).bars, intraday=True).bars
    return {"daily": daily, "minutes": minutes}


def test_avwap_lines_start_at_their_anchor_and_end_at_find_anchors_value(synthetic) -> None:
    daily = synthetic["daily"]
    anchors = find_anchors(daily.filter(pl.col("date") <= PREV), as_of=PREV)
    lines = charts.avwap_lines(daily, anchors, PREV)
    chosen = charts.chosen_anchors(anchors)
    assert lines.select("symbol", "anchor_date").unique().sort("symbol", "anchor_date").equals(
        chosen.select("symbol", "anchor_date").sort("symbol", "anchor_date"))
    first = lines.group_by("symbol", "anchor_date").agg(pl.col("date").min().alias("start"), pl.col("date").max())
    assert (first["start"] == first["anchor_date"]).all() and (first["date"] == PREV).all()
    last = lines.filter(pl.col("date") == PREV).join(
        anchors.group_by("symbol", "anchor_date").agg(pl.col("avwap").first()), on=["symbol", "anchor_date"])
    assert last.height == chosen.height
    assert last["avwap"].to_list() == pytest.approx(last["avwap_right"].to_list(), rel=1e-9)


def test_chosen_anchors_prefer_earnings_and_gaps_at_most_four_per_symbol() -> None:
    d = calendar.sessions_before(DATE, 10)
    anchors = pl.DataFrame({
        "symbol": ["A"] * 7 + ["B"],
        "anchor_date": [d[0], d[1], d[2], d[3], d[4], d[5], d[5], d[9]],
        "anchor_type": ["swing_low", "swing_high", "earnings", "gap_up", "volume_spike", "swing_low", "lowest_low",
                        "swing_high"],
    })
    got = charts.chosen_anchors(anchors)
    a = got.filter(pl.col("symbol") == "A")
    # earnings, gap, volume spike, then the window's low (a swing low too): the two plain swings left out
    assert a["anchor_date"].to_list() == [d[2], d[3], d[4], d[5]]
    assert dict(zip(a["anchor_date"], a["label"])) == {d[2]: "earnings", d[3]: "gap_up", d[4]: "volume_spike",
                                                       d[5]: "lowest_low+swing_low"}
    assert got.filter(pl.col("symbol") == "B")["label"].to_list() == ["swing_high"]
    swings = charts.chosen_anchors(anchors.filter(pl.col("anchor_type").is_in(["swing_low", "swing_high"])), 2)
    assert swings.filter(pl.col("symbol") == "A")["anchor_date"].to_list() == [d[1], d[5]]  # the latest first


# --- the page -------------------------------------------------------------------------------------------------


def _plan(daily: pl.DataFrame) -> pl.DataFrame:
    as_of = calendar.session_close(DATE)
    last = {r["symbol"]: r["close"] for r in daily.filter(pl.col("date") == DATE).iter_rows(named=True)}

    def sig(symbol: str, screener: str, side: str, score: float, hours: float) -> dict:
        c = last[symbol]
        stop, target = (c * 0.97, c * 1.06) if side == "long" else (c * 1.03, c * 0.94)
        return dict(date=DATE, ts=as_of - dt.timedelta(hours=hours), symbol=symbol, screener=screener, side=side,
                    score=score, entry=c, stop=stop, target=target, reasons="why")

    signals = pl.DataFrame([sig("AAPL", "breakout", "long", 8.0, 1), sig("NVDA", "orb", "long", 7.0, 5),
                            sig("XOM", "gapgo", "short", 6.0, 6), sig("KO", "orb", "long", 5.0, 4)],
                           schema=schemas.SIGNALS)
    return build_dashboard(signals, daily, as_of, DATE, DashboardParams(regime_sma=5))


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_one_chart_per_top_row_linked_from_its_row(synthetic) -> None:
    daily, minutes = synthetic["daily"], synthetic["minutes"]
    plan = _plan(daily)
    assert plan["symbol"].to_list() == ["AAPL", "NVDA", "XOM", "KO"]
    page = dashboard_html.render_html(plan, daily, DashboardParams(chart_rows=3), "plan", minute_bars=minutes)
    for sym, side in [("AAPL", "long"), ("NVDA", "long"), ("XOM", "short")]:
        key = f"chart-{sym}-{side}"
        row = re.search(rf'<tr class="[a-z ]+" id="row-{key}">(.*?)</tr>', page).group(1)
        assert f'href="#{key}"' in row  # the row links to its chart ...
        assert page.count(f'id="{key}"') == 1  # ... which exists once, right under it
        assert page.index(f'id="row-{key}"') < page.index(f'id="{key}"') < page.index("</table>")
    assert "chart-KO-long" not in page.replace('id="row-chart-KO-long"', "")  # 4th row: beyond chart_rows, no chart
    assert page.count('<tr class="chart-row">') == 3 and page.count('href="#plan"') == 3  # and back to the table
    images = _images(page)
    assert len(images) == 3 + 2  # a daily chart each; 1-minute views for the ORB and Gap & Go rows
    for png in images:
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) in {(768, 368), (768, 336)}
    alts = re.findall(r'<img class="chart" src="[^"]+" alt="([^"]+)"', page)
    assert sorted(a.split(" ")[1] for a in alts if "1-minute" in a) == ["NVDA", "XOM"]
    assert "<script" not in page and "http" not in page  # self-contained: nothing to fetch


def test_no_minute_bars_means_daily_charts_only(synthetic) -> None:
    daily = synthetic["daily"]
    plan = _plan(daily)
    got = charts.plan_charts(plan, daily, None, None, top_n=4)
    assert {k: [c.kind for c in v] for k, v in got.items()} == {
        ("AAPL", "long"): ["daily"], ("NVDA", "long"): ["daily"], ("XOM", "short"): ["daily"], ("KO", "long"): ["daily"]}
    assert charts.plan_charts(plan.head(0), daily, None, None) == {}


def test_a_row_without_bars_gets_no_chart_and_no_link(synthetic) -> None:
    daily = synthetic["daily"]
    plan = _plan(daily)
    page = dashboard_html.render_html(plan, daily.filter(pl.col("symbol") != "NVDA"), DashboardParams(chart_rows=2), "p")
    assert 'href="#chart-AAPL-long"' in page and "#chart-NVDA-long" not in page and len(_images(page)) == 1


def test_minute_chart_rows_are_orb_and_gapgo() -> None:
    assert charts.wants_minute_chart("breakout, orb") and charts.wants_minute_chart("gapgo")
    assert not charts.wants_minute_chart("avwap_reclaim, breakout") and not charts.wants_minute_chart(None)


def test_a_chart_that_cannot_be_drawn_costs_its_row_the_chart_not_the_page(synthetic, monkeypatch, caplog) -> None:
    daily = synthetic["daily"]
    plan = _plan(daily)
    real = charts.render_daily

    def broken(bars, lines, marks, title):
        if "AAPL" in title:
            raise ValueError("no candles")
        return real(bars, lines, marks, title)

    monkeypatch.setattr(charts, "render_daily", broken)
    page = dashboard_html.render_html(plan, daily, DashboardParams(chart_rows=2), "p")
    assert "#chart-AAPL-long" not in page and 'href="#chart-NVDA-long"' in page and len(_images(page)) == 1
    assert "chart of AAPL long not drawn" in caplog.text


def test_chart_rows_bounds_the_charts_and_the_page_says_so(synthetic) -> None:
    daily = synthetic["daily"]
    plan = _plan(daily)
    none = dashboard_html.render_html(plan, daily, DashboardParams(chart_rows=0), "p")
    assert not _images(none) and "charts for the top 0 row(s)" in none and plan["symbol"][3] in none  # rows stay
    assert len(_images(dashboard_html.render_html(plan, daily, DashboardParams(chart_rows=1), "p"))) == 1


def test_chart_rows_comes_from_the_environment_and_a_bad_value_is_named() -> None:
    from tradingstation.assets.dashboard import CHART_ROWS_ENV, dashboard_params

    assert dashboard_params({}).chart_rows == DashboardParams().chart_rows == 20
    assert dashboard_params({CHART_ROWS_ENV: "3"}).chart_rows == 3
    for bad in ("-1", "abc", "21", "2.5"):
        with pytest.raises(ValueError, match=f"{CHART_ROWS_ENV}='{re.escape(bad)}': a whole number from 0 to 20"):
            dashboard_params({CHART_ROWS_ENV: bad})


def test_volume_is_one_collection_of_up_and_down_bars_from_zero() -> None:
    import matplotlib.colors

    day = [dt.date(2025, 11, 19) + dt.timedelta(days=i) for i in range(3)]
    bars = pl.DataFrame({"date": day, "symbol": "A", "ts": [calendar.session_open(d) for d in day],
                         "open": [10.0, 11.0, 12.0], "high": [12.0, 12.0, 13.0], "low": [9.0, 10.0, 11.0],
                         "close": [11.0, 10.5, 12.0], "volume": [100, 300, 200]}, schema=schemas.DAILY_BARS)
    charts.render_daily(bars, None, {}, "volume")
    t = chart_drawing._TEMPLATES["daily"]
    tops = [float(path.vertices[:, 1].max()) for path in t.volume.get_paths()]
    assert tops == [100.0, 300.0, 200.0] and t.vax.get_ylim() == pytest.approx((0.0, 330.0))
    colors = [matplotlib.colors.to_hex(c) for c in t.volume.get_facecolors()]
    assert colors == [charts.UP_COLOR, charts.DOWN_COLOR, charts.UP_COLOR]  # close >= open: up
    assert len(t.vax.collections) == 1  # one collection, not a Rectangle per bar


def test_clock_labels_of_the_minute_chart_never_overlap() -> None:
    # 04:00, 07:00, 09:30, 10:30, 11:30 at bars 0, 5, 40, 100, 160 of a 420-bar chart; one past its end
    assert charts.spaced_ticks([0, 5, 40, 100, 160, 420], 420) == [1, 2, 3, 4]  # 07:00 wins over 04:00, 5 bars before it
    assert charts.spaced_ticks([0, 3, 6], 420) == [2]  # all in one spot: the latest label only
    assert charts.spaced_ticks([0, 60, 120], 390) == [0, 1, 2]  # the regular session's hours all fit
    assert charts.spaced_ticks([], 10) == []
