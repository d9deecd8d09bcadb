"""How the plan's charts are drawn (``screeners.charts`` says what they show): one figure per chart kind,
built once per process and kept, each chart only putting its data into it.

A chart drawn by its own ``mpf.plot`` (as before) cost ~0.135 s of CPU, most of it matplotlib's set-up, not
the data: the figure, four axes with their ticks and texts, mplfinance's checks, the title's automatic
placement measuring every tick label, and a new Agg canvas per ``savefig``. Here :func:`_build` calls
``mpf.plot`` once per kind ('daily', '1m'), with two dummy bars: mplfinance still lays the chart out (its
style and colours, panel sizes and padding, the volume panel under the candles, x labels on the bottom
panel only) and makes the candle collections. Every artist a chart needs is made then, in the order the
charts drew them (equal z-order draws in that order), and each chart sets them all:

- the candles are mplfinance's own two collections (wicks a ``LineCollection``, bodies a
  ``PolyCollection``): each chart replaces their segments, vertices, colours and widths, computed with
  numpy the way mplfinance computes them (``_construct_candlestick_collections``, its width table).
  Drawing candles this way, not by ``mpf.plot``, is what lets the figure be reused: ``mpf.plot`` always
  makes a new figure (its external-axes mode still adds new artists and needs cleared axes, whose ticks
  are the cost);
- the volume bars one ``PolyCollection``; ``MAX_LINES`` AVWAP lines, a line and a label per level, the
  open marker: those a chart does not use are hidden, so nothing of one chart shows on the next;
- the data limits are the chart's own (set, not accumulated), then matplotlib's autoscaling and the level
  layout run as a new figure would run them; the title is put at the top of the axes, where the
  automatic placement put it, without measuring; the legend is made anew (it is only the lines' labels).

The figure is drawn by a kept Agg canvas (its renderer reused) and the pixels written by Pillow as RGB:
the figure is opaque, so the alpha channel ``savefig`` wrote was all 255. The PNGs show the same pixels
as before. ``tests/test_chart_reuse.py`` draws a chart with four AVWAPs, every level and the open marker,
then a plain one, and compares it with the plain one drawn by a fresh figure, byte for byte.

Thread safety: the figures are shared, and mplfinance's style lives in matplotlib's global rcParams, so
one lock serializes the charts of a process (the Dagster webserver or daemon may draw from threads), and
each chart draws inside ``rc_context`` with the style's rcParams: the process's own rcParams are left as
they were after a chart (``mpf.plot`` used to change them for good). During a chart they are the style's,
process-wide: other matplotlib drawing on another thread at that moment would see them (none here).

(About 315 lines: the kept figure and the code that fills each of its artists are one piece.)
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass

UP_COLOR, DOWN_COLOR = "#26a69a", "#ef5350"
AVWAP_COLORS = ("#ef6c00", "#00838f", "#6d4c41", "#ad1457")
LEVEL_LABELS = {"prior_high": "PDH", "prior_low": "PDL", "premarket_high": "PMH", "premarket_low": "PML",
                "entry": "entry", "stop": "stop", "target": "target"}
LEVEL_STYLE = {  # color, line style
    "target": ("#2e7d32", "--"), "entry": ("#1565c0", "--"), "stop": ("#c62828", "--"),
    "prior_high": ("#616161", ":"), "prior_low": ("#616161", ":"),
    "premarket_high": ("#8e24aa", "-."), "premarket_low": ("#8e24aa", "-."),
}
DPI = 80
PNG_COMPRESSION = 3  # zlib's level: 30% faster to encode than Pillow's default 6, 2% larger
SIZES = {"daily": (9.6, 4.6), "1m": (9.6, 4.2)}  # inches: 768 x 368 and 768 x 336 px at DPI
TIME_FORMATS = {"daily": "%b %d", "1m": "%H:%M"}
MAX_LINES = 4  # AVWAP lines a chart holds (charts.MAX_AVWAPS)
_LOCK = threading.Lock()
_TEMPLATES: dict[str, _Template] = {}


@dataclass
class _Template:
    """One chart kind's figure and the artists each chart fills in."""

    fig: object
    canvas: object  # Agg, kept: its renderer (the pixel buffer) is reused
    ax: object  # the candles
    vax: object  # the volume panel (shares the x axis)
    wicks: object
    bodies: object
    volume: object
    avwaps: list
    level_lines: list
    level_texts: list
    open_lines: list
    open_text: object
    rc: dict  # mplfinance's style as rcParams: every chart draws under it
    candle_colors: tuple  # (face up, face down, edge/wick up, edge/wick down) as RGBA
    dates: list  # the daily chart's bar dates, read by its x tick formatter


def reset() -> None:
    """Drop the cached figures: the next chart builds its kind's figure afresh."""
    with _LOCK:
        _TEMPLATES.clear()


def _style() -> dict:
    import mplfinance as mpf

    colors = mpf.make_marketcolors(up=UP_COLOR, down=DOWN_COLOR, edge="inherit", wick="inherit", volume="in")
    return mpf.make_mpf_style(base_mpf_style="default", marketcolors=colors, gridstyle=":", gridcolor="#dddddd",
                              y_on_right=False, facecolor="#ffffff",
                              # matplotlib's own font, in weights it ships: the same everywhere, no font warnings
                              rc={"font.size": 9, "font.family": "DejaVu Sans", "font.weight": "normal",
                                  "axes.labelweight": "bold", "figure.titleweight": "bold"})


def _shares(value: float, _pos: object = None) -> str:
    """Volume ticks a person reads: 850K, 1.2M."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.0f}"


def _build(kind: str) -> _Template:
    """The kind's figure as ``mpf.plot`` lays it out, with every artist a chart may need."""
    import matplotlib

    matplotlib.use("Agg")  # never a window: rendering runs in workers without a display
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt
    import mplfinance as mpf
    import pandas as pd
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.ticker import FuncFormatter

    frame = pd.DataFrame({"Open": [1.0, 2.0], "High": [2.5, 2.5], "Low": [0.5, 0.5], "Close": [2.0, 1.0],
                          "Volume": [1.0, 2.0]}, index=pd.date_range("2025-01-02", periods=2))
    with matplotlib.rc_context():  # mpf.plot applies its style to the global rcParams: keep it here
        style = _style()
        # An invisible series opens the volume panel (panel 1); the bars are one PolyCollection (Axes.bar,
        # mplfinance's own volume, costs ~1 s for a day of 1-minute bars).
        panel = mpf.make_addplot(frame["Volume"], panel=1, type="line", color="#ffffff", alpha=0.0, width=0.1,
                                 secondary_y=False)
        fig, axes = mpf.plot(frame, type="candle", volume=False, style=style, returnfig=True, figsize=SIZES[kind],
                             datetime_format=TIME_FORMATS[kind], xrotation=0, panel_ratios=(3, 1), addplot=[panel],
                             scale_padding={"left": 0.45, "right": 1.25, "top": 1.1, "bottom": 0.5})
        rc = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    plt.close(fig)  # out of pyplot's registry: this module keeps the figure
    fig.set_dpi(DPI)
    canvas = FigureCanvasAgg(fig)
    ax, vax = axes[0], axes[2]
    wicks, bodies = (next(c for c in ax.collections if isinstance(c, t)) for t in (LineCollection, PolyCollection))
    for line in list(vax.lines):
        line.remove()
    mc = style["marketcolors"]
    colors = (*(mcolors.to_rgba(mc["candle"][k], mc["alpha"]) for k in ("up", "down")),
              *(mcolors.to_rgba(mc["wick"][k]) for k in ("up", "down")))
    dates: list = []
    with matplotlib.rc_context(rc):
        volume = PolyCollection([], linewidths=0.3)
        vax.add_collection(volume, autolim=False)
        ax.set_ylabel("")
        vax.set_ylabel("volume", fontsize=8)
        vax.yaxis.set_major_formatter(FuncFormatter(_shares))
        vax.yaxis.get_offset_text().set_visible(False)  # the formatter carries the unit
        if kind == "daily":  # mplfinance's date labels of bar positions, the dates being the chart's
            def label(x: float, _pos: object = None) -> str:
                i = int(round(x))
                return f"{dates[i]:{TIME_FORMATS[kind]}}" if 0 <= i < len(dates) else ""

            vax.xaxis.set_major_formatter(FuncFormatter(label))
        # made in the order the charts drew them: equal z-order draws in this order
        avwaps = [ax.plot([], [], color=c, linewidth=1.3)[0] for c in AVWAP_COLORS]
        open_lines = [a.axvline(0.0, color="#9e9e9e", linewidth=0.8) for a in (ax, vax)]
        open_text = ax.text(0.0, 0.02, "open", transform=ax.get_xaxis_transform(), fontsize=7, color="#616161",
                            va="bottom")
        level_lines = [ax.axhline(0.0, linewidth=1.0, alpha=0.9) for _ in LEVEL_STYLE]
        level_texts = [ax.text(1.005, 0.0, "", transform=ax.transAxes, fontsize=8, va="center", ha="left",
                               clip_on=False) for _ in LEVEL_STYLE]
    for artist in (*avwaps, *open_lines, open_text, *level_lines, *level_texts):
        artist.set_visible(False)
    return _Template(fig, canvas, ax, vax, wicks, bodies, volume, avwaps, level_lines, level_texts, open_lines,
                     open_text, rc, colors, dates)


def _candle_widths(bars: int) -> tuple[float, float]:
    """(body width, edge/wick line width) for a chart of ``bars`` bars: mplfinance's width table."""
    import numpy as np
    from mplfinance._widths import _widths  # mplfinance is pinned (pyproject.toml): its table, interpolated

    return tuple(float(np.interp(bars, _widths.index, _widths[k])) for k in ("cw", "clw"))


def _set_bars(t: _Template, o, h, lo, c, v) -> None:
    """Candles (as mplfinance's ``_construct_candlestick_collections``), volume bars (up: close >= open) and
    the axes' limits."""
    import numpy as np

    n = len(o)
    x = np.arange(n, dtype=float)
    width, lw = _candle_widths(n)
    d = width / 2.0
    t.bodies.set_verts(np.stack([np.column_stack([x - d, o]), np.column_stack([x - d, c]),
                                 np.column_stack([x + d, c]), np.column_stack([x + d, o])], axis=1))
    up = o < c
    face_up, face_down, edge_up, edge_down = (np.asarray(k) for k in t.candle_colors)
    edges = np.where(up[:, None], edge_up, edge_down)
    t.bodies.set_facecolor(np.where(up[:, None], face_up, face_down))
    t.bodies.set_edgecolor(edges)
    t.bodies.set_linewidth(lw)
    low_segs = np.stack([np.column_stack([x, lo]), np.column_stack([x, np.minimum(o, c)])], axis=1)
    high_segs = np.stack([np.column_stack([x, h]), np.column_stack([x, np.maximum(o, c)])], axis=1)
    t.wicks.set_segments(np.concatenate([low_segs, high_segs]))
    t.wicks.set_color(np.concatenate([edges, edges]))
    t.wicks.set_linewidth(lw)
    half = 0.4  # bars 0.8 of a slot wide, as mplfinance draws them
    zero = np.zeros_like(x)
    t.volume.set_verts(np.stack([np.column_stack([x - half, zero]), np.column_stack([x - half, v]),
                                 np.column_stack([x + half, v]), np.column_stack([x + half, zero])], axis=1))
    colors = np.where(c >= o, UP_COLOR, DOWN_COLOR)
    t.volume.set_facecolor(colors)
    t.volume.set_edgecolor(colors)
    top = float(np.nanmax(v)) if n else 0.0
    t.vax.set_ylim(0, top * 1.1 if top > 0 else 1.0)
    # The data limits of this chart alone (mpf.plot's: the candles, one slot's spacing beyond the first and
    # last bar, the lines), then matplotlib's autoscaling with the axes' margins, as a new figure would.
    space = (n - 1) / n if n > 1 else 0.75
    ys = [np.nanmin(lo), np.nanmax(h)] + [f(line.get_ydata()) for line in t.avwaps if line.get_visible()
                                          for f in (np.nanmin, np.nanmax)]
    t.ax.dataLim.set_points(np.array([[min(-space, -d), min(ys)], [max(n - 1 + space, n - 1 + d), max(ys)]]))
    t.vax.dataLim.set_points(np.array([[np.inf, np.inf], [-np.inf, -np.inf]]))  # null: x is the candles'
    t.ax.set_autoscale_on(True)  # the previous chart's levels pinned the y axis
    t.ax.autoscale_view()


def level_layout(marks: dict[str, float | None], ylim: tuple[float, float]) -> tuple[tuple[float, float] | None, list]:
    """The y axis that shows every level (None: no level) and each level's (value, name, label height in
    axes fraction), top down: labels at least 6% of the axis apart, the lowest no lower than 2%."""
    shown = sorted(((v, k) for k, v in marks.items() if v is not None), reverse=True)
    if not shown:
        return None, []
    values = [v for v, _ in shown]
    lo, hi = min(ylim[0], *values), max(ylim[1], *values)
    pad = (hi - lo) * 0.04 or 0.01
    lo, hi = lo - pad, hi + pad
    placed: list[float] = []
    for v, _ in shown:
        frac = (v - lo) / (hi - lo)
        placed.append(min(frac, placed[-1] - 0.06) if placed else frac)
    shift = max(0.0, 0.02 - placed[-1])
    return (lo, hi), [(v, name, frac + shift) for (v, name), frac in zip(shown, placed)]


def _set_levels(t: _Template, marks: dict[str, float | None]) -> None:
    """Each level a horizontal line, labelled at the right edge; unused slots hidden."""
    ylim, shown = level_layout(marks, t.ax.get_ylim())
    if ylim is not None:
        t.ax.set_ylim(*ylim)
    for i, (line, text) in enumerate(zip(t.level_lines, t.level_texts)):
        line.set_visible(i < len(shown))
        text.set_visible(i < len(shown))
        if i < len(shown):
            value, name, frac = shown[i]
            color, style = LEVEL_STYLE[name]
            line.set_ydata([value, value])
            line.set_color(color)
            line.set_linestyle(style)
            text.set_y(frac)
            text.set_text(f"{LEVEL_LABELS[name]} {value:,.2f}")
            text.set_color(color)


def render(kind: str, ohlcv: tuple, *, title: str, marks: dict[str, float | None], lines: Sequence = (),
           dates: Sequence = (), ticks: Sequence = (), open_at: int | None = None) -> bytes:
    """One chart as a PNG. ``ohlcv``: five float arrays of the bars in order; ``lines``: (y per bar, NaN where
    none; colour; legend label), at most ``MAX_LINES``; ``dates``: the bars' dates (daily: the x labels);
    ``ticks``: (bar position, label) of the 1-minute clock; ``open_at``: the first regular bar's position."""
    import matplotlib

    with _LOCK:
        t = _TEMPLATES.get(kind)
        if t is None:
            t = _TEMPLATES[kind] = _build(kind)
        with matplotlib.rc_context(t.rc):
            return _draw(t, kind, ohlcv, title, marks, list(lines), list(dates), list(ticks), open_at)


def _draw(t: _Template, kind: str, ohlcv: tuple, title: str, marks: dict, lines: list, dates: list, ticks: list,
          open_at: int | None) -> bytes:
    import numpy as np

    o, h, lo, c, v = (np.asarray(a, dtype=float) for a in ohlcv)
    n = len(o)
    if len(lines) > MAX_LINES:
        raise ValueError(f"{len(lines)} lines: at most {MAX_LINES}")
    for i, line in enumerate(t.avwaps):
        line.set_visible(i < len(lines))
        if i < len(lines):
            y, color, label = lines[i]
            line.set_data(np.arange(n, dtype=float), np.asarray(y, dtype=float))
            line.set_color(color)
            line.set_label(label)
    _set_bars(t, o, h, lo, c, v)
    t.dates[:] = dates
    if kind == "1m":
        t.vax.set_xticks([i for i, _ in ticks], [s for _, s in ticks])
    opened = open_at is not None and 0 < open_at < n
    for artist in (*t.open_lines, t.open_text):
        artist.set_visible(opened)
    if opened:
        for line in t.open_lines:
            line.set_xdata([open_at - 0.5, open_at - 0.5])
        t.open_text.set_x(open_at + 2)
    _set_levels(t, marks)
    t.ax.set_title(title, fontsize=10, loc="left", pad=16 if lines else 4, y=1.0)
    legend = t.ax.get_legend()
    if legend is not None:
        legend.remove()
    if lines:  # above the candles, never over them
        t.ax.legend(handles=t.avwaps[:len(lines)], loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2,
                    fontsize=7, frameon=False, borderaxespad=0.1, handlelength=1.5, columnspacing=1.0)
    return _png(t.canvas)


def _png(canvas: object) -> bytes:
    """The drawn figure as an RGB PNG: the pixels ``savefig`` writes (the figure is opaque, so its alpha channel
    is all 255 and is left out: a smaller file, faster to encode), no text chunk (no URL inside the page)."""
    from PIL import Image

    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="png", dpi=(DPI, DPI), compress_level=PNG_COMPRESSION)
    return buf.getvalue()
