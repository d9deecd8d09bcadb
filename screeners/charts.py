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
the AVWAP lines from another (:func:`avwap_lines`); only the drawing is a loop, one figure per chart.

Why mplfinance (matplotlib, the non-interactive 'Agg' backend) and not plotly: the page must stay
self-contained (no network). Plotly would embed plotly.js once (about 3.5 MB minified; not installed
here, so not measured) plus each chart's data as JSON, and needs a script to draw; mplfinance draws
each chart to a PNG embedded as base64: a static page, no script at all. Measured on the synthetic
session 2025-11-21 (``make run``'s lake, the plan's top 20 rows: 20 daily + 3 one-minute charts):
1.07 MB of PNG (37-48 KB a chart), a 1.45 MB page with the table, and 6.5 s of CPU to render
(0.28 s a chart; 8-12 s of wall time on the 2 shared cores under load), well inside the 5-minute
market tick. matplotlib is imported on first use only (~0.8 s), not by the plan's computation.
(About 310 lines: the levels, the AVWAP lines and their drawing belong together.)

Longer than ~300 lines: the levels (pure, tested) and the drawing of the two chart kinds belong together; the drawing is most of it.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
from dataclasses import dataclass

import polars as pl

from screeners.avwap_anchors import find_anchors, with_cumulative
from screeners.common import daily_from_minutes
from screeners.dashboard import CHART_SESSIONS
from tradingstation.core import calendar

LOG = logging.getLogger(__name__)
MAX_AVWAPS = 4
MINUTE_SCREENERS = ("orb", "gapgo")  # rows with one of these get a 1-minute view
# Which anchors a chart shows first (a symbol often has more than MAX_AVWAPS): lower first.
ANCHOR_PRIORITY = {"earnings": 0, "gap_up": 1, "gap_down": 1, "volume_spike": 2, "highest_high": 3,
                   "lowest_low": 3, "swing_high": 4, "swing_low": 4}
LEVEL_NAMES = ("prior_high", "prior_low", "premarket_high", "premarket_low")
LEVEL_LABELS = {"prior_high": "PDH", "prior_low": "PDL", "premarket_high": "PMH", "premarket_low": "PML",
                "entry": "entry", "stop": "stop", "target": "target"}
LEVEL_STYLE = {  # color, line style
    "target": ("#2e7d32", "--"), "entry": ("#1565c0", "--"), "stop": ("#c62828", "--"),
    "prior_high": ("#616161", ":"), "prior_low": ("#616161", ":"),
    "premarket_high": ("#8e24aa", "-."), "premarket_low": ("#8e24aa", "-."),
}
UP_COLOR, DOWN_COLOR = "#26a69a", "#ef5350"
AVWAP_COLORS = ("#ef6c00", "#00838f", "#6d4c41", "#ad1457")
DPI = 80
DAILY_SIZE, MINUTE_SIZE = (9.6, 4.6), (9.6, 4.2)  # inches: 768 x 368 and 768 x 336 px at DPI
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
    for r in rows.iter_rows(named=True):  # one figure per chart: the drawing is the only loop
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


# --- drawing (matplotlib 'Agg' via mplfinance; imported on first use: the page's only heavy import) ---


def _ohlc(bars: pl.DataFrame, index: list) -> object:
    import pandas as pd

    return pd.DataFrame(
        {"Open": bars["open"].to_list(), "High": bars["high"].to_list(), "Low": bars["low"].to_list(),
         "Close": bars["close"].to_list(), "Volume": bars["volume"].cast(pl.Float64).to_list()},
        index=pd.DatetimeIndex(index),
    )


def _style() -> object:
    import mplfinance as mpf

    colors = mpf.make_marketcolors(up=UP_COLOR, down=DOWN_COLOR, edge="inherit", wick="inherit", volume="in")
    return mpf.make_mpf_style(base_mpf_style="default", marketcolors=colors, gridstyle=":", gridcolor="#dddddd",
                              y_on_right=False, facecolor="#ffffff",
                              # matplotlib's own font, in weights it ships: the same everywhere, no font warnings
                              rc={"font.size": 9, "font.family": "DejaVu Sans", "font.weight": "normal",
                                  "axes.labelweight": "bold", "figure.titleweight": "bold"})


def _draw_levels(ax: object, marks: dict[str, float | None]) -> None:
    """Each level as a horizontal line, labelled at the right edge; labels kept apart."""
    shown = sorted(((v, k) for k, v in marks.items() if v is not None), reverse=True)
    if not shown:
        return
    lo, hi = ax.get_ylim()
    values = [v for v, _ in shown]
    lo, hi = min(lo, *values), max(hi, *values)
    pad = (hi - lo) * 0.04 or 0.01
    ax.set_ylim(lo - pad, hi + pad)
    lo, hi = lo - pad, hi + pad
    placed: list[float] = []
    for v, name in shown:  # top down, at least 6% of the axis apart
        frac = (v - lo) / (hi - lo)
        frac = min(frac, placed[-1] - 0.06) if placed else frac
        placed.append(frac)
    shift = max(0.0, 0.02 - placed[-1])
    for (v, name), frac in zip(shown, placed):
        color, style = LEVEL_STYLE[name]
        ax.axhline(v, color=color, linestyle=style, linewidth=1.0, alpha=0.9)
        ax.text(1.005, frac + shift, f"{LEVEL_LABELS[name]} {v:,.2f}", transform=ax.transAxes, color=color,
                fontsize=8, va="center", ha="left", clip_on=False)


def _png(fig: object) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})  # no URL inside the page
    plt.close(fig)
    return buf.getvalue()


def _shares(value: float, _pos: object = None) -> str:
    """Volume ticks a person reads: 850K, 1.2M."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.0f}"


def _volume_bars(ax: object, frame: object) -> None:
    """Volume as one PolyCollection (up bars green, down red), not one Rectangle per bar: mplfinance's
    own volume panel draws with ``Axes.bar``, which costs ~1 s for a day of 1-minute bars."""
    import numpy as np
    from matplotlib.collections import PolyCollection

    volume = frame["Volume"].to_numpy(dtype=float)
    x = np.arange(len(volume), dtype=float)
    half = 0.4  # bars 0.8 of a slot wide, as mplfinance draws them
    verts = np.stack([np.column_stack([x - half, np.zeros_like(x)]), np.column_stack([x - half, volume]),
                      np.column_stack([x + half, volume]), np.column_stack([x + half, np.zeros_like(x)])], axis=1)
    up = frame["Close"].to_numpy() >= frame["Open"].to_numpy()
    colors = np.where(up, UP_COLOR, DOWN_COLOR)
    ax.add_collection(PolyCollection(verts, facecolors=colors, edgecolors=colors, linewidths=0.3))
    top = float(np.nanmax(volume)) if len(volume) else 0.0
    ax.set_ylim(0, top * 1.1 if top > 0 else 1.0)


def _figure(frame: object, addplots: list, size: tuple[float, float], title: str, time_format: str) -> tuple:
    import matplotlib

    matplotlib.use("Agg")  # never a window: rendering runs in workers without a display
    import mplfinance as mpf
    from matplotlib.ticker import FuncFormatter

    # An invisible series opens the volume panel (panel 1); the bars are drawn by _volume_bars.
    panel = mpf.make_addplot(frame["Volume"], panel=1, type="line", color="#ffffff", alpha=0.0, width=0.1,
                             secondary_y=False)
    fig, axes = mpf.plot(frame, type="candle", volume=False, style=_style(), returnfig=True, figsize=size,
                         datetime_format=time_format, xrotation=0, panel_ratios=(3, 1), warn_too_much_data=10_000,
                         addplot=[*addplots, panel],
                         scale_padding={"left": 0.45, "right": 1.25, "top": 1.1, "bottom": 0.5})
    _volume_bars(axes[2], frame)
    axes[0].set_title(title, fontsize=10, loc="left", pad=16 if addplots else 4)
    axes[0].set_ylabel("")
    axes[2].set_ylabel("volume", fontsize=8)
    axes[2].yaxis.set_major_formatter(FuncFormatter(_shares))
    axes[2].yaxis.get_offset_text().set_visible(False)  # the formatter carries the unit
    return fig, axes


def render_daily(bars: pl.DataFrame, lines: pl.DataFrame | None, marks: dict[str, float | None], title: str) -> bytes:
    """Daily candles + volume, the AVWAP lines (NaN before their anchor), the levels: a PNG."""
    import mplfinance as mpf

    bars = bars.sort("date")
    frame = _ohlc(bars, bars["date"].to_list())
    addplots = []
    if lines is not None and lines.height:
        keyed = bars.select("date")
        for i, ((anchor, label), line) in enumerate(lines.group_by("anchor_date", "label", maintain_order=True)):
            series = keyed.join(line.select("date", "avwap"), on="date", how="left")["avwap"]
            if series.drop_nulls().is_empty():
                continue  # its anchor is older than the chart: the line would start off-screen
            name = f"AVWAP {label.replace('_', ' ')} {anchor:%m-%d}"
            addplots.append(mpf.make_addplot(series.fill_null(float("nan")).to_list(), color=AVWAP_COLORS[i % 4],
                                             width=1.3, label=name))
    fig, axes = _figure(frame, addplots, DAILY_SIZE, title, "%b %d")
    _draw_levels(axes[0], marks)
    if addplots:  # above the candles, never over them
        axes[0].legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=7, frameon=False,
                       borderaxespad=0.1, handlelength=1.5, columnspacing=1.0)
    return _png(fig)


def render_minute(bars: pl.DataFrame, marks: dict[str, float | None], title: str, open_ts: dt.datetime) -> bytes:
    """The session's 1-minute candles (New York clock) + volume, the open marked, the levels: a PNG."""
    bars = bars.sort("ts")
    clock = bars["ts"].dt.convert_time_zone(calendar.NY_TZ).dt.replace_time_zone(None)
    fig, axes = _figure(_ohlc(bars, clock.to_list()), [], MINUTE_SIZE, title, "%H:%M")
    # Bars sit at their position (sparse pre-market minutes take no blank space): ticks at round clock times.
    day = clock[0].date()
    times = [dt.datetime.combine(day, t) for t in MINUTE_TICKS]
    at = clock.search_sorted(pl.Series(times, dtype=clock.dtype)).to_list()
    ticks = [(at[k], times[k]) for k in spaced_ticks(at, bars.height)]
    axes[2].set_xticks([i for i, _ in ticks], [f"{t:%H:%M}" for _, t in ticks])
    first_regular = int((bars["ts"] < open_ts).sum())  # the open's position
    if 0 < first_regular < bars.height:
        for ax in (axes[0], axes[2]):
            ax.axvline(first_regular - 0.5, color="#9e9e9e", linewidth=0.8)
        axes[0].text(first_regular + 2, 0.02, "open", transform=axes[0].get_xaxis_transform(), fontsize=7,
                     color="#616161", va="bottom")
    _draw_levels(axes[0], marks)
    return _png(fig)


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
