"""Breakout: a tight daily base broken on heavy volume.

A signal fires on the session whose close leaves a tight range: the range is the high/low of
the sessions *before* the breakout day, at least ``min_consolidation_days`` long and at most
``max_range_pct`` wide ((max high - min low) / mean close); the longest qualifying base up to
``max_consolidation_days`` is used (every length from the minimum up must qualify). A close above
the range high is long, below the range low short, and only on volume of at least
``min_relative_volume`` x the ``volume_days`` average excluding the day (a range broken on thin
volume is not a breakout). Entry is the close, the stop the range midpoint (half the base, tighter
than the far side), the target the measured move: entry +/- the range height. Score 0-10: relative
volume (4, full at 4x), tightness (2.5, full at a zero-width range), length of the base (1.5, full
at ``max_consolidation_days``) and where the day closed in its own range (2, full at the high for
a long / the low for a short). The signal's ``ts`` is the session close, when it is confirmed.
A signal whose base or volume average straddles an unadjusted split (``screeners.splits``) is
dropped, and logged with the reason.

Input: ``daily`` bars, about 60 sessions back (base + volume average).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from screeners import common
from screeners.indicators import ratio, sorted_by


@dataclass(frozen=True)
class BreakoutParams:
    min_consolidation_days: int = 5  # runbook --min-consolidation-days
    max_consolidation_days: int = 30  # longest base looked for
    max_range_pct: float = 8.0  # base width, % of its mean close
    min_relative_volume: float = 1.5  # breakout volume vs the average of the prior volume_days
    volume_days: int = 20
    min_price: float = 5.0
    min_avg_volume: int = 100_000  # liquidity: average daily shares over volume_days


DETAIL: dict[str, pl.DataType] = {
    "range_high": pl.Float64(),
    "range_low": pl.Float64(),
    "base_days": pl.Int64(),
    "range_pct": pl.Float64(),
    "rel_volume": pl.Float64(),
    "close_location": pl.Float64(),  # 0-1, where the close sits in the day's range (1 = best side)
}


def _num(expr: pl.Expr) -> pl.Expr:
    return expr.round(2).cast(pl.String)


def _candidates(df: pl.DataFrame, p: BreakoutParams) -> pl.DataFrame:
    """Rows that can be signals as far as volume, liquidity and price go (a few percent of all).

    ``df`` is sorted by (symbol, date). The volume average runs over the whole column (no
    ``.over``) and counts only where it stays inside the row's symbol (``_i``: the row's index
    within its symbol); volumes are whole numbers, so it is exactly the per-symbol average.
    """
    volume = pl.col("volume").cast(pl.Float64)
    avg_volume = volume.rolling_mean(p.volume_days).shift(1)
    new_symbol = (pl.col("symbol") != pl.col("symbol").shift(1)).fill_null(True)
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    df = (
        df.lazy()  # lazy: the average, used three times, is computed once
        .with_columns(_r=row, _i=row - pl.when(new_symbol).then(row).forward_fill())
        .with_columns(avg_volume=avg_volume, rel_volume=ratio(volume, avg_volume))  # null, not NaN, on 0
        .collect(engine="in-memory")
    )
    return df.filter(
        (pl.col("_i") >= max(p.min_consolidation_days, p.volume_days))
        & (pl.col("rel_volume") >= p.min_relative_volume)
        & (pl.col("close") >= p.min_price)
        & (pl.col("avg_volume") >= p.min_avg_volume)
    )


def _add(total: pl.Series, error: pl.Series, x: pl.Series) -> tuple[pl.Series, pl.Series]:
    """A compensated (Neumaier) summation step: the base's mean close comes out correctly rounded
    (the per-symbol rolling mean this replaces is within an ulp or two of it)."""
    new = total + x
    lost = ((total - new) + x).zip_with(total.abs() >= x.abs(), (x - new) + total)
    return new, error + lost


def _bases(df: pl.DataFrame, cand: pl.DataFrame, p: BreakoutParams, n0: int, n1: int) -> pl.DataFrame:
    """The candidates that close beyond their longest qualifying base, with ``base_days``,
    ``range_high/low`` and ``range_pct`` (the longest base: every length from ``n0`` up qualifies).

    The range extremes and the close sum grow one session back at a time (gathered by row
    position), so only candidate rows are evaluated and no per-length columns are kept. A longer
    base's range contains the ``n0``-day one: a close inside that one never breaks out.
    """
    r, i = cand["_r"], cand["_i"]
    hi = lo = total = error = ok = None
    # one chunk each (a copy of three columns): gathering from a chunked column costs a few times more
    high, low, close = (df[c].rechunk() for c in ("high", "low", "close"))
    for n in range(1, n1 + 1):
        at = (r - n).clip(lower_bound=0)  # crosses into the previous symbol only where _i < n
        h, l, c = high.gather(at), low.gather(at), close.gather(at)
        hi = h if hi is None else hi.zip_with(hi >= h, h)
        lo = l if lo is None else lo.zip_with(lo <= l, l)
        total, error = (c, c * 0.0) if total is None else _add(total, error, c)
        if n < n0:
            continue
        mean_close = (total + error) / pl.repeat(float(n), cand.height, eager=True)  # not "/ n": by 1/n
        width = (hi - lo) / mean_close * 100.0
        good = (i >= n) & (width <= p.max_range_pct)
        if n == n0:
            keep = good & ((cand["close"] > hi) | (cand["close"] < lo))
            cand, r, i, hi, lo, total, error, width = (
                x.filter(keep) for x in (cand, r, i, hi, lo, total, error, width)
            )
            ok, base = good.filter(keep), pl.Series([n0] * cand.height, dtype=pl.Int64)
            range_high, range_low, range_pct = hi, lo, width
            continue
        ok = ok & good  # every length up to n qualifies
        base = base.zip_with(~ok, pl.Series([n] * cand.height, dtype=pl.Int64))
        range_high, range_low, range_pct = (
            old.zip_with(~ok, new) for old, new in ((range_high, hi), (range_low, lo), (range_pct, width))
        )
    return cand.with_columns(base_days=base, range_high=range_high, range_low=range_low, range_pct=range_pct)


def screen(daily: pl.DataFrame, params: BreakoutParams = BreakoutParams()) -> pl.DataFrame:
    """Breakout signals for every session in ``daily`` (each uses only bars up to its close)."""
    p = params
    n0 = p.min_consolidation_days
    n1 = max(p.max_consolidation_days, n0)
    df = sorted_by(daily, "symbol", "date")
    df = _bases(df, _candidates(df, p), p, n0, n1)
    side = (
        pl.when(pl.col("close") > pl.col("range_high"))
        .then(pl.lit("long"))
        .when(pl.col("close") < pl.col("range_low"))
        .then(pl.lit("short"))
    )
    df = df.with_columns(side=side).filter((pl.col("base_days") >= n0) & pl.col("side").is_not_null())
    long = pl.col("side") == "long"
    height = pl.col("range_high") - pl.col("range_low")
    day_range = pl.col("high") - pl.col("low")
    to_best = pl.when(long).then(pl.col("close") - pl.col("low")).otherwise(pl.col("high") - pl.col("close"))
    df = df.with_columns(
        close_location=pl.when(day_range > 0).then(to_best / day_range).otherwise(1.0),
        entry=pl.col("close"),
        stop=(pl.col("range_high") + pl.col("range_low")) / 2,
        target=pl.when(long).then(pl.col("close") + height).otherwise(pl.col("close") - height),
    )
    score = (
        4.0 * ((pl.col("rel_volume") - 1.0) / 3.0).clip(0.0, 1.0)
        + 2.5 * (1.0 - pl.col("range_pct") / p.max_range_pct).clip(0.0, 1.0)
        + 1.5 * ((pl.col("base_days") - n0 + 1) / (n1 - n0 + 1)).clip(0.0, 1.0)
        + 2.0 * pl.col("close_location").clip(0.0, 1.0)
    )
    reasons = pl.format(
        "closed {} {} the {}-day range {}-{} ({}% wide) on {} the {}-day average volume, "
        "{}% of the way to the day's {}; measured move to {}",
        _num(pl.col("close")),
        pl.when(long).then(pl.lit("above")).otherwise(pl.lit("below")),
        pl.col("base_days"),
        _num(pl.col("range_low")),
        _num(pl.col("range_high")),
        pl.col("range_pct").round(1).cast(pl.String),
        common.fmt_x(pl.col("rel_volume")),
        pl.lit(p.volume_days),
        (pl.col("close_location") * 100).round(0).cast(pl.Int64).cast(pl.String),
        pl.when(long).then(pl.lit("high")).otherwise(pl.lit("low")),
        _num(pl.col("target")),
    )
    df = df.with_columns(score=score, reasons=reasons)
    # each signal reads its base and volume average: a split among those bars fakes the break
    window = max(n1, p.volume_days) + 1
    out = common.session_close_ts(df)
    return common.finish(out, "breakout", DETAIL, history=daily, history_sessions=window)


def main(argv: list[str] | None = None) -> int:
    """``python -m screeners.breakout``: its registry spec run as a command."""
    from tradingstation.cli.screen import run_screener  # the one upward call: the CLI layer runs it

    return run_screener("breakout", argv)


if __name__ == "__main__":
    raise SystemExit(main())
