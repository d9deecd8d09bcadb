"""The charts reuse one figure per kind (``screeners.chart_drawing``): nothing of one chart may show on the next,
the two kinds may interleave, threads may draw at once, and the process's rcParams stay its own."""

from __future__ import annotations

import datetime as dt
import io
import threading

import numpy as np
import polars as pl
import pytest

from screeners import chart_drawing, charts
from tradingstation.core import calendar, schemas
from tradingstation.resources.sources import Interval
from tradingstation.resources.sources.synthetic_source import SyntheticSource

DATE = dt.date(2025, 11, 21)


@pytest.fixture(scope="module")
def bars() -> dict[str, pl.DataFrame]:
    src, symbols = SyntheticSource(seed=11), ["AAPL"]
    start = calendar.sessions_before(DATE, 79)[0]
    daily = schemas.validate_bars(src.fetch(symbols, Interval.DAY, start, DATE).bars, intraday=False).bars
    minutes = schemas.validate_bars(src.fetch(symbols, Interval.MINUTE_1, DATE, DATE).bars, intraday=True).bars
    return {"daily": daily.sort("date"), "minutes": minutes.filter(pl.col("session") != "post").sort("ts")}


def _busy_daily(bars: dict) -> bytes:
    """AAPL with four AVWAPs (one per colour and legend slot), every daily level and a long title."""
    daily = bars["daily"].filter(pl.col("symbol") == "AAPL")
    days = daily["date"].to_list()
    anchors = pl.DataFrame({"symbol": "AAPL", "anchor_date": [days[-50], days[-35], days[-20], days[-8]],
                            "anchor_type": ["earnings", "gap_up", "volume_spike", "swing_low"]})
    lines = charts.avwap_lines(daily, anchors, DATE)
    assert lines.select("anchor_date").n_unique() == 4
    close = daily["close"][-1]
    marks = {"prior_high": close * 1.02, "prior_low": close * 0.98, "entry": close, "stop": close * 0.95,
             "target": close * 1.1}
    png = charts.render_daily(daily.tail(60), lines, marks, "#1 AAPL long: daily, four AVWAPs and every level")
    t = chart_drawing._TEMPLATES["daily"]
    assert sum(line.get_visible() for line in t.avwaps) == 4 and len(t.ax.get_legend().get_texts()) == 4
    assert sum(text.get_visible() for text in t.level_texts) == 5
    return png


def _plain_daily(bars: dict) -> bytes:
    """AAPL again (a leftover line or level would be on screen), fewer bars, no AVWAP, no level."""
    return charts.render_daily(bars["daily"].filter(pl.col("symbol") == "AAPL").tail(40), None, {}, "#2 AAPL: daily")


def _busy_minute(bars: dict) -> bytes:
    """AAPL's whole session: pre-market, the open marked, clock labels, all seven levels."""
    one = bars["minutes"].filter(pl.col("symbol") == "AAPL")
    close = one["close"][-1]
    marks = {"prior_high": close * 1.01, "prior_low": close * 0.99, "premarket_high": close * 1.005,
             "premarket_low": close * 0.995, "entry": close, "stop": close * 0.98, "target": close * 1.03}
    png = charts.render_minute(one, marks, "#1 AAPL long: 1-minute", calendar.session_open(DATE))
    t = chart_drawing._TEMPLATES["1m"]
    assert t.open_text.get_visible() and sum(text.get_visible() for text in t.level_texts) == 7
    return png


def _plain_minute(bars: dict) -> bytes:
    """AAPL again from the open only (no pre-market: no open marker), fewer bars, no level."""
    one = bars["minutes"].filter((pl.col("symbol") == "AAPL") & (pl.col("ts") >= calendar.session_open(DATE)))
    return charts.render_minute(one.head(200), {}, "#2 AAPL: 1-minute", calendar.session_open(DATE))


def _fresh(draw, bars: dict) -> bytes:
    chart_drawing.reset()
    return draw(bars)


def test_a_plain_chart_after_a_busy_one_equals_itself_drawn_fresh(bars) -> None:
    for busy, plain in ((_busy_daily, _plain_daily), (_busy_minute, _plain_minute)):
        fresh = _fresh(plain, bars)
        busy(bars)  # four AVWAPs, a legend, every level, the open marker ...
        assert plain(bars) == fresh  # ... none of them left on the next chart: the same PNG, byte for byte
        busy_fresh = _fresh(busy, bars)
        plain(bars)
        assert busy(bars) == busy_fresh  # and the other way round


def test_the_two_kinds_interleave(bars) -> None:
    alone = [_fresh(draw, bars) for draw in (_busy_daily, _busy_minute, _plain_daily, _plain_minute)]
    chart_drawing.reset()
    assert [draw(bars) for draw in (_busy_daily, _busy_minute, _plain_daily, _plain_minute)] == alone


def test_a_chart_is_an_rgb_png_of_the_size_it_always_had(bars) -> None:
    from PIL import Image

    for png, size in ((_plain_daily(bars), (768, 368)), (_plain_minute(bars), (768, 336))):
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.mode == "RGB" and image.size == size
        assert b"Software" not in png and b"matplotlib" not in png  # no URL in the page
        assert len(np.unique(np.asarray(image).reshape(-1, 3), axis=0)) > 100  # drawn, not blank


def test_threads_draw_the_same_charts(bars) -> None:
    draws = (_plain_daily, _plain_minute, _plain_daily, _plain_minute)
    expected = [_fresh(draw, bars) for draw in draws]
    got: dict[int, bytes] = {}

    def work(i: int) -> None:
        got[i] = draws[i](bars)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(draws))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [got[i] for i in range(len(draws))] == expected


def test_the_process_rcparams_are_left_as_they_were(bars) -> None:
    import matplotlib

    # The backend is chosen on purpose (Agg, once per process, by matplotlib.use): pyplot's first
    # import then also turns backend_fallback off. Everything else must stay as it was.
    chosen = {"backend", "backend_fallback"}
    before = {k: v for k, v in matplotlib.rcParams.items() if k not in chosen}
    chart_drawing.reset()
    _busy_daily(bars)
    _busy_minute(bars)
    assert {k: v for k, v in matplotlib.rcParams.items() if k not in chosen} == before
