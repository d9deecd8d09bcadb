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

Input: ``daily`` bars, about 60 sessions back (base + volume average).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from screeners import cli, common
from screeners import indicators as ind


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


def _pick(prefix: str, lengths: range) -> pl.Expr:
    """The ``prefix<n>`` column for n = base_days."""
    return pl.coalesce(pl.when(pl.col("base_days") == n).then(pl.col(f"{prefix}{n}")) for n in lengths)


def screen(daily: pl.DataFrame, params: BreakoutParams = BreakoutParams()) -> pl.DataFrame:
    """Breakout signals for every session in ``daily`` (each uses only bars up to its close)."""
    p = params
    n0 = p.min_consolidation_days
    n1 = max(p.max_consolidation_days, n0)
    lengths = range(n0, n1 + 1)
    hi, lo, cl = (pl.col(c).shift(1) for c in ("high", "low", "close"))  # the base excludes today
    df = daily.sort("symbol", "date").with_columns(
        *(ind.consolidation_width(hi, lo, n, cl).over("symbol").alias(f"_w{n}") for n in lengths),
        *(hi.rolling_max(n, min_samples=n).over("symbol").alias(f"_hi{n}") for n in lengths),
        *(lo.rolling_min(n, min_samples=n).over("symbol").alias(f"_lo{n}") for n in lengths),
        rel_volume=ind.relative_volume("volume", p.volume_days).over("symbol"),
        avg_volume=ind.sma(pl.col("volume").shift(1), p.volume_days).over("symbol"),
    )
    # Longest base: the first length that fails, minus one (lengths n0..n1 must all qualify).
    df = df.with_columns(
        base_days=pl.min_horizontal(
            pl.when(pl.col(f"_w{n}") <= p.max_range_pct).then(n1).otherwise(n - 1) for n in lengths
        ).cast(pl.Int64)
    )
    df = df.with_columns(
        range_high=_pick("_hi", lengths), range_low=_pick("_lo", lengths), range_pct=_pick("_w", lengths)
    )
    side = pl.when(pl.col("close") > pl.col("range_high")).then(pl.lit("long")).when(
        pl.col("close") < pl.col("range_low")
    ).then(pl.lit("short"))
    df = df.with_columns(side=side).filter(
        (pl.col("base_days") >= n0)
        & pl.col("side").is_not_null()
        & (pl.col("rel_volume") >= p.min_relative_volume)
        & (pl.col("close") >= p.min_price)
        & (pl.col("avg_volume") >= p.min_avg_volume)
    )
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
    return common.finish(common.session_close_ts(df), "breakout", DETAIL)


def main(argv: list[str] | None = None) -> int:
    inputs = {"daily": ("daily", 60)}
    return cli.run("breakout", BreakoutParams, screen, inputs=inputs, argv=argv, description=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
