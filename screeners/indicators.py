"""Technical indicators as pure polars expressions (``pl.Expr -> pl.Expr``).

Every function takes column names or expressions and returns a ``pl.Expr``; nothing loops in
Python per symbol or per row. Frames are assumed sorted by time within each symbol; apply
per-symbol state with a window, e.g. ``df.with_columns(atr("high", "low", "close", 14).over("symbol"))``.

Conventions (shared by all recursive indicators):

* Leading nulls are skipped (as the ``talib`` Python wrapper does with leading NaNs): the
  warm-up counts non-null values, so a symbol whose history starts late still works ``.over``.
* Warm-up outputs are null (never NaN, never partial averages).
* EMA/ATR/RSI are seeded TA-Lib style with the simple mean of the first ``n`` inputs and then
  recurse with ``alpha`` (EMA: ``2/(n+1)``; Wilder: ``1/n``). Interior nulls are skipped by
  the recursion (their output is null); TA-Lib would instead propagate NaN forever.
"""

from __future__ import annotations

import polars as pl

IntoExpr = str | pl.Expr

__all__ = [
    "IntoExpr",
    "sma",
    "ema",
    "true_range",
    "atr",
    "rsi",
    "typical_price",
    "vwap",
    "anchored_vwap",
    "relative_volume",
    "relative_volume_at_time",
    "gap_percent",
    "consolidation_width",
]


def _e(x: IntoExpr) -> pl.Expr:
    return pl.col(x) if isinstance(x, str) else x


def _check_n(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"period must be a positive int, got {n!r}")


def _seeded_ewm(x: pl.Expr, n: int, alpha: float) -> pl.Expr:
    """EMA recursion ``y_t = y_{t-1} + alpha * (x_t - y_{t-1})`` seeded with the mean of the
    first ``n`` non-null values of ``x``; output starts at that n-th non-null value.

    Vectorized trick: build a series that is null before the seed row, equals the seed mean
    *on* the seed row and equals ``x`` after it, then run ``ewm_mean(adjust=False)``, whose
    first non-null output is its first non-null input -- i.e. exactly the SMA seed.
    """
    x = x.cast(pl.Float64)
    count = x.is_not_null().cum_sum()
    seed = x.fill_null(0.0).cum_sum() / n  # mean of the first n non-null values, at count == n
    seeded = (
        pl.when(x.is_not_null() & (count == n)).then(seed).when(count > n).then(x).otherwise(None)
    )
    return seeded.ewm_mean(alpha=alpha, adjust=False, min_samples=1, ignore_nulls=True)


def sma(x: IntoExpr, n: int) -> pl.Expr:
    """Simple moving average: mean of the last ``n`` values (current included); null until
    ``n`` values are available (TA-Lib ``SMA``)."""
    _check_n(n)
    return _e(x).cast(pl.Float64).rolling_mean(n, min_samples=n)


def ema(x: IntoExpr, n: int) -> pl.Expr:
    """Exponential moving average as TA-Lib ``EMA``: ``alpha = 2/(n+1)``, seeded with the SMA
    of the first ``n`` values, so the first ``n-1`` outputs (after leading nulls) are null."""
    _check_n(n)
    return _seeded_ewm(_e(x), n, 2.0 / (n + 1))


def true_range(high: IntoExpr, low: IntoExpr, close: IntoExpr) -> pl.Expr:
    """True range ``max(h - l, |h - c[-1]|, |l - c[-1]|)`` (TA-Lib ``TRANGE``): needs the
    previous close, so it is null on the first row of each symbol (use ``.over("symbol")``)."""
    h, lo = _e(high).cast(pl.Float64), _e(low).cast(pl.Float64)
    pc = _e(close).cast(pl.Float64).shift(1)
    tr = pl.max_horizontal(h - lo, (h - pc).abs(), (lo - pc).abs())
    return pl.when(pc.is_not_null()).then(tr).otherwise(None)


def atr(high: IntoExpr, low: IntoExpr, close: IntoExpr, n: int) -> pl.Expr:
    """Average true range with Wilder smoothing (TA-Lib ``ATR``): seed = mean of the first
    ``n`` true ranges (rows 1..n), then ``atr_t = (atr_{t-1} * (n-1) + tr_t) / n``; the first
    output is at row ``n``."""
    _check_n(n)
    return _seeded_ewm(true_range(high, low, close), n, 1.0 / n)


def rsi(close: IntoExpr, n: int) -> pl.Expr:
    """Relative strength index, Wilder smoothing (TA-Lib ``RSI``, non-Metastock): average gain
    and loss are seeded with the means of the first ``n`` close-to-close changes and smoothed
    with ``alpha = 1/n``; ``rsi = 100 * gain / (gain + loss)``, 0 when both are 0. First
    output at row ``n``."""
    _check_n(n)
    d = _e(close).cast(pl.Float64).diff()
    gain = _seeded_ewm(d.clip(lower_bound=0.0), n, 1.0 / n)
    loss = _seeded_ewm((-d).clip(lower_bound=0.0), n, 1.0 / n)
    total = gain + loss
    return pl.when(total == 0.0).then(0.0).otherwise(100.0 * gain / total)


def typical_price(high: IntoExpr, low: IntoExpr, close: IntoExpr) -> pl.Expr:
    """Typical price ``(h + l + c) / 3``."""
    return (_e(high).cast(pl.Float64) + _e(low).cast(pl.Float64) + _e(close).cast(pl.Float64)) / 3.0


def vwap(high: IntoExpr, low: IntoExpr, close: IntoExpr, volume: IntoExpr) -> pl.Expr:
    """Cumulative VWAP ``sum(typical * volume) / sum(volume)`` from the first row of the window.
    For a session VWAP use ``.over(["symbol", "date"])`` on bars sorted by time. Null while the
    cumulative volume is 0."""
    v = _e(volume).cast(pl.Float64)
    cum_v = v.cum_sum()
    cum_pv = (typical_price(high, low, close) * v).cum_sum()
    return pl.when(cum_v > 0).then(cum_pv / cum_v).otherwise(None)


def anchored_vwap(
    high: IntoExpr, low: IntoExpr, close: IntoExpr, volume: IntoExpr, from_anchor: pl.Expr
) -> pl.Expr:
    """Anchored VWAP: ``sum(typical * volume) / sum(volume)`` over rows from the anchor on,
    null before it. The anchor is the *first* row where ``from_anchor`` is True (so a one-row
    marker and a "True from the anchor on" mask behave alike; later Trues do not re-anchor).
    Use ``.over("symbol")`` on bars sorted by time."""
    active = from_anchor.fill_null(False).cum_max()
    v = pl.when(active).then(_e(volume).cast(pl.Float64)).otherwise(None)
    cum_v = v.cum_sum()
    cum_pv = (typical_price(high, low, close) * v).cum_sum()
    return pl.when(active & (cum_v > 0)).then(cum_pv / cum_v).otherwise(None)


def relative_volume(volume: IntoExpr, n: int) -> pl.Expr:
    """Relative volume ``v_t / mean(v_{t-n} .. v_{t-1})``: current volume against the mean of
    the previous ``n`` values (current excluded); null until ``n`` previous values exist.
    Use ``.over("symbol")``."""
    _check_n(n)
    v = _e(volume).cast(pl.Float64)
    return v / v.shift(1).rolling_mean(n, min_samples=n)


def relative_volume_at_time(volume: IntoExpr, n: int) -> pl.Expr:
    """Intraday relative volume at time of day: the bar's volume against the mean volume of
    the bars at the same time of day in the previous ``n`` sessions (current excluded).

    Must be used ``.over(["symbol", "time_of_day"])`` on data sorted by timestamp, so each
    window holds one bar per session in session order (a missing bar makes the window reach
    further back in sessions). Null until ``n`` earlier sessions exist."""
    return relative_volume(volume, n)


def gap_percent(
    open: IntoExpr, prev_close: IntoExpr | None = None, *, close: IntoExpr = "close"
) -> pl.Expr:
    """Opening gap in percent, ``(open / prev_close - 1) * 100``. Without ``prev_close`` it is
    ``close.shift(1)``, which then needs ``.over("symbol")`` (null on each symbol's first row)."""
    pc = _e(close).shift(1) if prev_close is None else _e(prev_close)
    return (_e(open).cast(pl.Float64) / pc.cast(pl.Float64) - 1.0) * 100.0


def consolidation_width(high: IntoExpr, low: IntoExpr, n: int, close: IntoExpr = "close") -> pl.Expr:
    """Width of the last ``n`` bars' range in percent of their mean close:
    ``(max(high, n) - min(low, n)) / mean(close, n) * 100``, windows include the current bar;
    null until ``n`` bars exist. Use ``.over("symbol")``."""
    _check_n(n)
    hi = _e(high).cast(pl.Float64).rolling_max(n, min_samples=n)
    lo = _e(low).cast(pl.Float64).rolling_min(n, min_samples=n)
    mean_close = _e(close).cast(pl.Float64).rolling_mean(n, min_samples=n)
    return (hi - lo) / mean_close * 100.0
