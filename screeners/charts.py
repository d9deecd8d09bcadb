"""Charts a trader reads, for the plan's top rows: candles, volume, AVWAPs and the levels that matter.

Per plan row (the best ``chart_rows``, 20 unless the operator sets fewer):

- a **daily chart**: the last ``CHART_SESSIONS`` (60) sessions up to the plan's date (today's bar so
  far during the session, from the 1-minute bars), candles with a volume panel and dated axes; the
  AVWAP of each of the symbol's anchors (``avwap_anchors``: at most ``MAX_AVWAPS``, earnings first,
  then gaps, volume spikes, window extremes, swings; the latest first within a type), drawn from its
  anchor bar on; the prior session's high and low; the row's entry, stop and target;
- a **1-minute chart** for rows an opening-drive screener (ORB, Gap & Go: ``MINUTE_SCREENERS``)
  contributes to: the session's 1-minute bars from 04:00 ET up to the plan's time (pre-market
  included, the open marked), with the prior-day and pre-market highs and lows and entry/stop/target.

The levels come from one pure, vectorized function (:func:`chart_levels`, tested on its own) and
the AVWAP lines from another (:func:`avwap_lines`); :func:`render_daily` and :func:`render_minute` turn a
chart's rows into arrays (bars, AVWAP per bar, clock ticks) and hand them to ``screeners.chart_drawing``.

The drawing's contract (``chart_drawing``): each chart kind has one figure per process, built on first
use (mplfinance's layout and style) and kept; a chart only puts its data into it and is encoded to an RGB
PNG of 768 x 368 (daily) or 768 x 336 (1-minute) px at 80 dpi. A chart's pixels never depend on the charts
drawn before it (``tests/test_chart_reuse.py``), charts are drawn one at a time under a lock (threads may
call), and the process's matplotlib rcParams are left as they were.

Why mplfinance (matplotlib, the non-interactive 'Agg' backend) and not plotly: the page must stay
self-contained (no network). Plotly would embed plotly.js once (about 3.5 MB minified; not installed
here, so not measured) plus each chart's data as JSON, and needs a script to draw; mplfinance draws
each chart to a PNG embedded as base64: a static page, no script at all. Measured on synthetic data
(``SyntheticSource(seed=7)``: 20 daily charts of 60 sessions, each with 4 AVWAPs and 5 levels, and 4
one-minute charts of 430-460 bars with 7 levels; CPU time, best of 3, old and new alternated in one
process, 2 shared cores under other load): 1.24-1.44 s for the 24 charts (52-60 ms a chart), down from
3.15-3.67 s with a new ``mpf.plot`` figure per chart (2.5x); in a fresh process, matplotlib's import (0.27 s)
and the two figures' set-up (0.035 s each) included, 1.85-2.1 s, down from 3.5-4.0 s. The pixels are the
same as before (all 24 charts compared), the PNGs 0.99 MB (36-45 KB a chart; 1.08 MB before: no alpha
channel). What remains is matplotlib drawing: about half of it rendering text (tick labels, levels,
legend, title), then the tick machinery; zlib ~6 ms a chart. matplotlib is imported on first use only,
not by the plan's computation.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from dataclasses import dataclass

import polars as pl

from screeners import chart_drawing
from screeners.avwap_anchors import find_anchors, with_cumulative
from screeners.chart_drawing import AVWAP_COLORS, DOWN_COLOR, UP_COLOR  # noqa: F401 (the colours, named here too)
from screeners.common import daily_from_minutes
from screeners.dashboard import CHART_SESSIONS
from tradingstation.core import calendar

LOG = logging.getLogger(__name__)
MAX_AVWAPS = chart_drawing.MAX_LINES  # the AVWAP lines a chart holds
MINUTE_SCREENERS = ("orb", "gapgo")  # rows with one of these get a 1-minute view
# Which anchors a chart shows first (a symbol often has more than MAX_AVWAPS): lower first.
ANCHOR_PRIORITY = {"earnings": 0, "gap_up": 1, "gap_down": 1, "volume_spike": 2, "highest_high": 3,
                   "lowest_low": 3, "swing_high": 4, "swing_low": 4}
LEVEL_NAMES = ("prior_high", "prior_low", "premarket_high", "premarket_low")
MINUTE_TICKS = tuple(dt.time(h, m) for h, m in ((4, 0), (7, 0), (9, 30), (10, 30), (11, 30), (12, 30), (13, 30),
                                                  (14, 30), (15, 30)))


@dataclass(frozen=True)
class Chart:
    """One rendered chart: ``kind`` 'daily' or '1m', the PNG, and its alt text."""

    kind: str
    png: bytes
    alt: str

    def img_tag(self) -> str:
        from html import escape

        data = base64.b64encode(self.png).decode("ascii")
        return f'<img class="chart" src="data:image/png;base64,{data}" alt="{escape(self.alt)}">'


def chart_levels(daily: pl.DataFrame, minute_bars: pl.DataFrame | None, date: dt.date) -> pl.DataFrame:
    """Per symbol: ``prior_high``/``prior_low`` (its last daily bar before ``date``) and
    ``premarket_high``/``premarket_low`` (its pre-market 1-minute bars of ``date``); null where
    there is no such bar. Daily bars before ``date`` only: nothing of the session leaks into PDH/PDL."""
    prior = (
        daily.filter(pl.col("date") < date).sort("symbol", "date").group_by("symbol", maintain_order=True).last()
        .select("symbol", prior_high="high", prior_low="low")
    )
    if minute_bars is None or minute_bars.is_empty():
        return prior.with_columns(premarket_high=pl.lit(None, pl.Float64), premarket_low=pl.lit(None, pl.Float64))
    pre = (
        minute_bars.filter((pl.col("date") == date) & (pl.col("session") == "pre"))
        .group_by("symbol").agg(premarket_high=pl.col("high").max(), premarket_low=pl.col("low").min())
    )
    return prior.join(pre, on="symbol", how="full", coalesce=True)


def chosen_anchors(anchors: pl.DataFrame, max_lines: int = MAX_AVWAPS) -> pl.DataFrame:
    """Per symbol, at most ``max_lines`` anchor bars (one line per anchor date, its types joined),
    the highest priority first, then the latest: (symbol, anchor_date, label)."""
    ranked = anchors.with_columns(_p=pl.col("anchor_type").replace_strict(ANCHOR_PRIORITY, default=9))
    per_date = ranked.group_by("symbol", "anchor_date").agg(
        _p=pl.col("_p").min(), label=pl.col("anchor_type").sort_by("_p").str.join("+")
    )
    return (
        per_date.sort(["symbol", "_p", "anchor_date"], descending=[False, False, True])
        .group_by("symbol", maintain_order=True).head(max_lines)
        .select("symbol", "anchor_date", "label").sort("symbol", "anchor_date")
    )


def avwap_lines(daily: pl.DataFrame, anchors: pl.DataFrame, date: dt.date) -> pl.DataFrame:
    """(symbol, anchor_date, label, date, avwap): each chosen anchor's AVWAP on every daily bar from
    the anchor bar through ``date`` (typical price x volume from the anchor, as ``find_anchors``)."""
    schema = {"symbol": pl.String, "anchor_date": pl.Date, "label": pl.String, "date": pl.Date, "avwap": pl.Float64}
    chosen = chosen_anchors(anchors)
    if chosen.is_empty() or daily.is_empty():
        return pl.DataFrame(schema=schema)
    bars = with_cumulative(daily.filter(pl.col("symbol").is_in(chosen["symbol"].unique().implode())
                                        & (pl.col("date") <= date)))
    start = bars.select("symbol", anchor_date="date", a_pre_pv="pre_pv", a_pre_v="pre_v")
    lines = chosen.join(start, on=["symbol", "anchor_date"]).join(bars, on="symbol").filter(
        pl.col("date") >= pl.col("anchor_date")
    )
    volume = pl.col("cum_v") - pl.col("a_pre_v")
    out = lines.with_columns(avwap=pl.when(volume > 0).then((pl.col("cum_pv") - pl.col("a_pre_pv")) / volume))
    return out.select(pl.col(c).cast(t) for c, t in schema.items()).sort("symbol", "anchor_date", "date")


def anchors_for(daily: pl.DataFrame, anchors: pl.DataFrame | None, date: dt.date) -> pl.DataFrame:
    """The session's anchors: the ``avwap_anchors`` rows given, else found as the premarket finds them
    (``find_anchors`` as of the session before ``date``)."""
    if anchors is not None and not anchors.is_empty():
        return anchors.filter(pl.col("date") == date) if "date" in anchors.columns else anchors
    before = daily.filter(pl.col("date") < date)
    return find_anchors(before, as_of=before["date"].max()) if before.height else pl.DataFrame(
        schema={"symbol": pl.String, "anchor_date": pl.Date, "anchor_type": pl.String})


def wants_minute_chart(screeners: str | None) -> bool:
    """A row an opening-drive screener contributes to (its comma-separated ``screeners``)."""
    names = {s.strip() for s in (screeners or "").split(",")}
    return bool(names & set(MINUTE_SCREENERS))


def plan_charts(plan: pl.DataFrame, daily: pl.DataFrame, minute_bars: pl.DataFrame | None = None,
                anchors: pl.DataFrame | None = None, top_n: int = 20) -> dict[tuple[str, str], list[Chart]]:
    """The charts of the plan's best ``top_n`` rows, keyed by (symbol, side): a daily chart each, and
    a 1-minute chart for ORB / Gap & Go rows that have 1-minute bars of the session."""
    rows = plan.head(top_n)
    if rows.is_empty():
        return {}
    date = rows["date"][0]
    symbols = pl.Series(rows["symbol"].unique().to_list(), dtype=pl.String).implode()
    hist = daily.filter(pl.col("symbol").is_in(symbols) & (pl.col("date") <= date))
    minutes = None
    if minute_bars is not None and not minute_bars.is_empty():
        minutes = minute_bars.filter(pl.col("symbol").is_in(symbols) & (pl.col("date") == date)
                                     & (pl.col("session") != "post"))  # the trade's day: pre-market to the close
        today = daily_from_minutes(minutes).join(hist.select("symbol", "date"), on=["symbol", "date"], how="anti")
        hist = pl.concat([hist, today.select(pl.col(c).cast(hist.schema[c]) for c in hist.columns)])
    levels = chart_levels(hist, minutes, date)
    lines = avwap_lines(hist, anchors_for(hist, anchors, date).filter(pl.col("symbol").is_in(symbols)), date)
    by_symbol = {k: v for (k,), v in hist.sort("date").group_by("symbol", maintain_order=True)}
    lines_by = {k: v for (k,), v in lines.group_by("symbol", maintain_order=True)}
    minute_by = {k: v for (k,), v in minutes.sort("ts").group_by("symbol", maintain_order=True)} if minutes is not None else {}
    level_by = {r["symbol"]: r for r in levels.iter_rows(named=True)}
    out: dict[tuple[str, str], list[Chart]] = {}
    for r in rows.iter_rows(named=True):  # the drawing is the only loop
        sym, side = r["symbol"], r["side"]
        marks = {**{k: v for k, v in level_by.get(sym, {}).items() if k in LEVEL_NAMES},
                 **{k: r[k] for k in ("entry", "stop", "target")}}
        title = f"#{r['rank']} {sym} {side}"
        charts = []
        bars, one = by_symbol.get(sym), minute_by.get(sym)
        try:  # a chart that cannot be drawn costs its row the chart, never the page
            if bars is not None and bars.height:
                daily_marks = {k: v for k, v in marks.items() if not k.startswith("premarket")}
                png = render_daily(bars.tail(CHART_SESSIONS), lines_by.get(sym), daily_marks, f"{title}: daily")
                charts.append(Chart("daily", png, f"{title} daily candles, {CHART_SESSIONS} sessions, AVWAPs and levels"))
            if wants_minute_chart(r["screeners"]) and one is not None and one.height:
                png = render_minute(one, marks, f"{title}: 1-minute {date}", calendar.session_open(date))
                charts.append(Chart("1m", png, f"{title} 1-minute candles of {date} with pre-market and prior-day levels"))
        except Exception as exc:
            LOG.warning("chart of %s %s not drawn: %r", sym, side, exc)
        out[(sym, side)] = charts
    return out


# --- the data each chart draws (the drawing: screeners.chart_drawing, matplotlib imported on first use) ---


def _ohlcv(bars: pl.DataFrame) -> tuple:
    return tuple(bars[c].cast(pl.Float64).to_numpy() for c in ("open", "high", "low", "close", "volume"))


def render_daily(bars: pl.DataFrame, lines: pl.DataFrame | None, marks: dict[str, float | None], title: str) -> bytes:
    """Daily candles + volume, the AVWAP lines (NaN before their anchor), the levels: a PNG."""
    import numpy as np

    bars = bars.sort("date")
    days = bars["date"].to_physical().to_numpy()
    series = []
    if lines is not None and lines.height and len(days):
        for i, ((anchor, label), line) in enumerate(lines.group_by("anchor_date", "label", maintain_order=True)):
            line_days = line["date"].to_physical().to_numpy()
            at = np.minimum(np.searchsorted(days, line_days), len(days) - 1)
            on = days[at] == line_days  # the line's dates on the chart
            y = np.full(len(days), np.nan)  # NaN before the anchor: the line starts at its anchor bar
            y[at[on]] = line["avwap"].cast(pl.Float64).to_numpy()[on]  # a null AVWAP (no volume yet): NaN
            if np.isnan(y).all():
                continue  # none of its dates on the chart: nothing to draw
            series.append((y, AVWAP_COLORS[i % len(AVWAP_COLORS)], f"AVWAP {label.replace('_', ' ')} {anchor:%m-%d}"))
    return chart_drawing.render("daily", _ohlcv(bars), title=title, marks=marks, lines=series[:MAX_AVWAPS],
                                dates=bars["date"].to_list())


def render_minute(bars: pl.DataFrame, marks: dict[str, float | None], title: str, open_ts: dt.datetime) -> bytes:
    """The session's 1-minute candles (New York clock) + volume, the open marked, the levels: a PNG."""
    bars = bars.sort("ts")
    clock = bars["ts"].dt.convert_time_zone(calendar.NY_TZ).dt.replace_time_zone(None)
    # Bars sit at their position (sparse pre-market minutes take no blank space): ticks at round clock times.
    day = clock[0].date()
    times = [dt.datetime.combine(day, t) for t in MINUTE_TICKS]
    at = clock.search_sorted(pl.Series(times, dtype=clock.dtype)).to_list()
    ticks = [(at[k], f"{times[k]:%H:%M}") for k in spaced_ticks(at, bars.height)]
    first_regular = int((bars["ts"] < open_ts).sum())  # the open's position
    return chart_drawing.render("1m", _ohlcv(bars), title=title, marks=marks, ticks=ticks, open_at=first_regular)


def spaced_ticks(at: list[int], bars: int, min_share: float = 0.07) -> list[int]:
    """Which of the clock ticks (bar positions ``at``, in time order) get a label: those on a bar of
    the chart, at least ``min_share`` of its width apart, so two labels never print over each other
    (04:00 and 07:00 sit a few bars apart on a thin pre-market). Later ticks win: the open and the
    session's hours are the ones a trader reads."""
    gap = max(1, round(bars * min_share))
    kept: list[int] = []
    for k in reversed(range(len(at))):
        if at[k] < bars and (not kept or at[kept[-1]] - at[k] >= gap):
            kept.append(k)
    return kept[::-1]
