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

Speed: inside ``.over`` every operation is a pass over the groups, costlier than the same
operation on the whole column. So compound indicators bind their inputs once (``_let``: a struct
whose fields are computed once and referenced with ``pl.field``), and on a frame sorted by its
keys (``sorted_by``) ``row_index`` gives each row's position in its group without a window:
``pl.when(row_index("symbol") >= k).then(x.shift(k))`` equals ``x.shift(k).over("symbol")``.
Whole-column rolling windows masked the same way are exact for integers (volume), not for
floats (a float rolling sum carries rounding from the rows before), so those stay in ``.over``,
over an integer key (``group_id``): a window over a String key hashes the strings again for
each windowed expression, about three times the cost of the same window over an integer run id.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable

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
    "ratio",
    "relative_volume",
    "relative_volume_at_time",
    "relative_volume_at_time_sorted",
    "row_index",
    "group_id",
    "sorted_by",
    "gap_percent",
    "consolidation_width",
]


def _e(x: IntoExpr) -> pl.Expr:
    return pl.col(x) if isinstance(x, str) else x


def _check_n(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"period must be a positive int, got {n!r}")


def _let(body: Callable[..., pl.Expr], **inputs: pl.Expr) -> pl.Expr:
    """``body(**inputs)`` with each input computed once: the inputs become fields of a struct and
    ``body`` sees them as ``pl.field`` references (an expression repeated in a tree is evaluated
    each time it appears, which inside ``.over`` is a per-group pass each)."""
    fields = {name: pl.field(name) for name in inputs}
    out = pl.struct(**inputs).struct.with_fields(body(**fields).alias("_let_out")).struct.field("_let_out")
    name = body(**inputs).meta.output_name(raise_if_undetermined=False)  # the inlined form's name
    return out if name is None else out.alias(name)


def _seeded_ewm(x: pl.Expr, n: int, alpha: float) -> pl.Expr:
    """EMA recursion ``y_t = y_{t-1} + alpha * (x_t - y_{t-1})`` seeded with the mean of the
    first ``n`` non-null values of ``x``; output starts at that n-th non-null value.

    Vectorized trick: build a series that is null before the seed row, equals the seed mean
    *on* the seed row and equals ``x`` after it, then run ``ewm_mean(adjust=False)``, whose
    first non-null output is its first non-null input -- i.e. exactly the SMA seed. ``x`` is
    evaluated once (it appears four times in the recursion's input).
    """

    def body(x: pl.Expr) -> pl.Expr:
        count = x.cum_count()  # non-null values so far
        seed = x.fill_null(0.0).cum_sum() / n  # mean of the first n non-null values, at count == n
        seeded = pl.when(x.is_not_null() & (count == n)).then(seed).when(count > n).then(x)
        return seeded.ewm_mean(alpha=alpha, adjust=False, min_samples=1, ignore_nulls=True)

    return body(x.cast(pl.Float64)) if x.meta.is_column() else _let(body, x=x.cast(pl.Float64))


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

    def body(h: pl.Expr, lo: pl.Expr, pc: pl.Expr) -> pl.Expr:
        tr = pl.max_horizontal(h - lo, (h - pc).abs(), (lo - pc).abs())
        return pl.when(pc.is_not_null()).then(tr).otherwise(None)

    f = pl.Float64
    return _let(body, h=_e(high).cast(f), lo=_e(low).cast(f), pc=_e(close).cast(f).shift(1))


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

    def averages(d: pl.Expr) -> pl.Expr:
        gain = _seeded_ewm(d.clip(lower_bound=0.0), n, 1.0 / n)
        loss = _seeded_ewm((-d).clip(lower_bound=0.0), n, 1.0 / n)
        return _let(ratio, gain=gain, loss=loss)

    def ratio(gain: pl.Expr, loss: pl.Expr) -> pl.Expr:
        total = gain + loss
        return pl.when(total == 0.0).then(0.0).otherwise(100.0 * gain / total)

    return _let(averages, d=_e(close).cast(pl.Float64).diff())


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


def ratio(numerator: IntoExpr, denominator: IntoExpr) -> pl.Expr:
    """``numerator / denominator``, null (never NaN or infinite) where the denominator is 0 or
    null or the quotient is NaN: polars orders NaN above every number, so a 0/0 relative volume
    would pass every ``>=`` threshold; a null fails them all.

    Computed inputs (a rolling mean, say) are bound once (``_let``): ``fill_nan`` repeats the
    quotient in its own tree, so an inline denominator was evaluated four times."""

    def body(num: pl.Expr, den: pl.Expr) -> pl.Expr:
        return pl.when(den != 0.0).then(num / den).fill_nan(None)

    num, den = _e(numerator), _e(denominator)
    if num.meta.is_column() and den.meta.is_column():
        return body(num.cast(pl.Float64), den.cast(pl.Float64))
    return _let(body, num=num.cast(pl.Float64), den=den.cast(pl.Float64))


def relative_volume(volume: IntoExpr, n: int) -> pl.Expr:
    """Relative volume ``v_t / mean(v_{t-n} .. v_{t-1})``: current volume against the mean of
    the previous ``n`` values (current excluded); null until ``n`` previous values exist, and
    null when that mean is 0 (no volume: no ratio, see ``ratio``). Use ``.over("symbol")``."""
    _check_n(n)
    v = _e(volume).cast(pl.Float64)
    return ratio(v, v.shift(1).rolling_mean(n, min_samples=n))


def relative_volume_at_time(volume: IntoExpr, n: int) -> pl.Expr:
    """Intraday relative volume at time of day: the bar's volume against the mean volume of
    the bars at the same time of day in the previous ``n`` sessions (current excluded).

    Must be used ``.over(["symbol", "time_of_day"])`` on data sorted by timestamp, so each
    window holds one bar per session in session order (a missing bar makes the window reach
    further back in sessions). Null until ``n`` earlier sessions exist, and where their mean is 0."""
    return relative_volume(volume, n)


def relative_volume_at_time_sorted(volume: IntoExpr, n: int, keys: list[str]) -> pl.Expr:
    """``relative_volume_at_time(volume, n).over(keys)`` without the window, for a frame sorted
    by ``keys`` and then by time (e.g. ``["symbol", "time_of_day"]``): the shift and rolling
    mean run on the whole column and are masked where the window would reach into the previous
    group. One pass instead of one per group, which matters when the groups are many and short
    (a 1-minute session has ~390 per symbol). Same values (for integer volumes bit for bit: the
    rolling sums are exact); null until ``n`` earlier sessions exist and where their mean is 0.
    Do not wrap in ``.over``."""
    _check_n(n)
    v = _e(volume).cast(pl.Float64)
    return pl.when(row_index(*keys) >= n).then(ratio(v, v.shift(1).rolling_mean(n, min_samples=n)))


def row_index(*keys: str) -> pl.Expr:
    """Each row's position (0, 1, ...) within its run of equal ``keys``; on a frame sorted by the
    keys that is ``pl.int_range(pl.len()).over(keys)`` without the window. It makes whole-column
    lags exact per group: ``pl.when(row_index("symbol") >= k).then(x.shift(k))`` equals
    ``x.shift(k).over("symbol")``."""
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    starts = pl.any_horizontal(*(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys)) | (row == 0)
    return row - pl.when(starts).then(row).forward_fill()


def group_id(key: str) -> pl.Expr:
    """Each row's run number (0, 1, ...) over equal ``key`` values: on a frame sorted by the key
    one integer per group, so ``x.over(group_id("symbol"))`` gives what ``x.over("symbol")`` gives
    (the same groups, computed alike) at about a third of the cost (no string hashing)."""
    return pl.col(key).rle_id()


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


def sorted_by(df: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """``df.sort(*columns)``, skipped when ``df`` already is in that order (as the lake's bars
    are): checking is one linear pass, sorting a frame of millions of rows costs several."""
    return df if _in_order(df, columns) else df.sort(*columns)


_ORDERED = (pl.String, pl.Date, pl.Datetime, pl.Int64, pl.Int32, pl.UInt32, pl.UInt64)


def _in_order(df: pl.DataFrame, columns: tuple[str, ...]) -> bool:
    """Whether every row is >= the previous one, compared lexicographically over ``columns``."""
    keys = [df[c] for c in columns]
    if keys and all(k.dtype.base_type() in _ORDERED and not k.has_nulls() for k in keys):
        # Without nulls: the first key is non-decreasing, and where a later key decreases an
        # earlier one changes (``is_sorted`` is one pass without copies, or a sorted flag).
        if not keys[0].is_sorted():
            return False
        for i in range(1, len(keys)):
            down = (keys[i] < keys[i].shift(1)).fill_null(False).arg_true()
            changed = functools.reduce(operator.or_, (k.gather(down) != k.gather(down - 1) for k in keys[:i]))
            if not changed.all():
                return False
        return True
    in_order: pl.Expr | None = None
    for name in reversed(columns):  # lexicographic: row >= previous row, the last column may tie
        col, prev = pl.col(name), pl.col(name).shift(1)
        in_order = col >= prev if in_order is None else (col > prev) | ((col == prev) & in_order)
    # lazy: each column's shift is computed once (an eager select computes it at each appearance)
    if in_order is None:
        return True
    return df.lazy().select(in_order.slice(1).fill_null(False).all()).collect(engine="in-memory").item()
