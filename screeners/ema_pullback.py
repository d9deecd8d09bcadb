"""EMA pullback: a trending stock dips into its fast EMA and bounces.

Long when the trend is up going into the day (on the prior session the ``ema_period`` EMA is
above the ``slow_period`` EMA and higher than ``slope_days`` sessions earlier), the day's low
reaches the fast EMA (at most ``touch_pct`` % above it, or below it) while the close is not more
than ``close_tolerance_pct`` % below it, and the day bounces: a green close above the EMA, or a
close above the prior day's high. Short is the mirror (down trend, the high reaches the EMA, a
red close below it or a close below the prior low). Entry is the close; the stop sits
``stop_atr`` ATRs beyond the pullback extreme (the lowest low / highest high of the last
``pullback_days`` sessions); the target is ``reward_risk`` x the risk from the entry. Score
0-10: EMA spread (2.5, full at 5 %), fast-EMA slope over ``slope_days`` (2, full at 2.5 %), a
clean touch (2, full when the low/high is at the EMA, 0 when it is an ATR away), bounce volume
against the 20-day average (1.5, full at 2x) and RSI(14) not stretched (2: a long scores full at
RSI <= 50 and 0 at >= 70, a short the mirror). The signal's ``ts`` is the session close.
A signal within 3 x ``slow_period`` sessions after an unadjusted split (``screeners.splits``) is
dropped, and logged with the reason.

Input: ``daily`` bars, about 120 sessions back (enough to settle the slow EMA).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from screeners import common
from screeners import indicators as ind


@dataclass(frozen=True)
class EmaPullbackParams:
    ema_period: int = 21  # runbook --ema-period
    slow_period: int = 50
    slope_days: int = 5  # the fast EMA must be higher (lower for shorts) than this many sessions ago
    touch_pct: float = 1.0  # the low may stay this % above the EMA and still count as a touch
    close_tolerance_pct: float = 0.5  # the close may not be more than this % on the wrong side
    pullback_days: int = 3  # window for the pullback extreme the stop hangs under
    stop_atr: float = 0.25  # stop distance beyond the pullback extreme, in ATR(14)
    reward_risk: float = 2.0
    min_price: float = 5.0
    min_avg_volume: int = 100_000  # average daily shares over the prior 20 sessions


DETAIL: dict[str, pl.DataType] = {
    "ema_fast": pl.Float64(),
    "ema_slow": pl.Float64(),
    "ema_spread_pct": pl.Float64(),  # in the trade's direction
    "ema_slope_pct": pl.Float64(),  # fast EMA change over slope_days, in the trade's direction
    "pullback_extreme": pl.Float64(),
    "touch_atr": pl.Float64(),  # |low - EMA| (|high - EMA| for shorts) in ATRs
    "rsi": pl.Float64(),
    "rel_volume": pl.Float64(),
    "atr": pl.Float64(),
}


def _num(expr: pl.Expr) -> pl.Expr:
    return expr.round(2).cast(pl.String)


def screen(daily: pl.DataFrame, params: EmaPullbackParams = EmaPullbackParams()) -> pl.DataFrame:
    """EMA pullback signals for every session in ``daily`` (each uses bars up to its close)."""
    p = params
    c, h, lo, o = pl.col("close"), pl.col("high"), pl.col("low"), pl.col("open")
    # Only the recursive indicators need a per-symbol window; lags and rolling windows run on the
    # whole sorted column, masked by the row's position in its symbol (``_row``) where they would
    # reach into the previous symbol (the volume windows sum integers, so they are exact).
    # The recursive ones run per symbol over its integer id (``_sid``), cheaper than over the name.
    # One lazy query up to the filter: eager steps evaluate a repeated subexpression each time it
    # appears, the lazy engine once (common subexpressions); same operations, same values.
    lazy = ind.sorted_by(daily, "symbol", "date").lazy().with_columns(_sid=ind.group_id("symbol"))
    lazy = lazy.with_columns(_row=ind.row_index("_sid"))
    row = pl.col("_row")

    def lag(x: pl.Expr, k: int) -> pl.Expr:
        return pl.when(row >= k).then(x.shift(k))

    lazy = lazy.with_columns(
        ema_fast=ind.ema("close", p.ema_period).over("_sid"),
        ema_slow=ind.ema("close", p.slow_period).over("_sid"),
        atr=ind.atr("high", "low", "close", 14).over("_sid"),
        rsi=ind.rsi("close", 14).over("_sid"),
        rel_volume=pl.when(row >= 20).then(ind.relative_volume("volume", 20)),
        avg_volume=pl.when(row >= 20).then(ind.sma(pl.col("volume").shift(1), 20)),
        prev_high=lag(h, 1),
        prev_low=lag(lo, 1),
        low_n=pl.min_horizontal(lag(lo, k) for k in range(p.pullback_days)),
        high_n=pl.max_horizontal(lag(h, k) for k in range(p.pullback_days)),
    )
    ema, slow = pl.col("ema_fast"), pl.col("ema_slow")
    ema_then = lag(ema, p.slope_days)
    # The trend is judged on the prior session, so one strong day cannot create it.
    ema_prev, slow_prev, ema_prev_then = lag(ema, 1), lag(slow, 1), lag(ema, p.slope_days + 1)
    touch, tol = p.touch_pct / 100, p.close_tolerance_pct / 100
    up_rule = (
        (ema_prev > slow_prev)
        & (ema_prev > ema_prev_then)
        & (lo <= ema * (1 + touch))
        & (c >= ema * (1 - tol))
        & (((c > o) & (c > ema)) | (c > pl.col("prev_high")))
    )
    down_rule = (
        (ema_prev < slow_prev)
        & (ema_prev < ema_prev_then)
        & (h >= ema * (1 - touch))
        & (c <= ema * (1 + tol))
        & (((c < o) & (c < ema)) | (c < pl.col("prev_low")))
    )
    up, down = pl.col("_up"), pl.col("_down")
    df = (
        lazy.with_columns(_up=up_rule, _down=down_rule, ema_slope_raw=(ema / ema_then - 1) * 100)
        .filter(
            (up | down)
            & (pl.col("atr") > 0)  # null-safe: no ATR (or a flat one) scores no touch
            & (c >= p.min_price)
            & (pl.col("avg_volume") >= p.min_avg_volume)
        )
        .collect()
        .with_columns(side=pl.when(up).then(pl.lit("long")).when(down).then(pl.lit("short")))
        .rechunk()  # the whole-column lags leave two chunks, on which pl.format panics (polars 2.1)
    )
    long = pl.col("side") == "long"
    sign = pl.when(long).then(1.0).otherwise(-1.0)
    extreme = pl.when(long).then(pl.col("low_n")).otherwise(pl.col("high_n"))
    df = df.with_columns(
        ema_spread_pct=sign * (ema / slow - 1) * 100,
        ema_slope_pct=sign * pl.col("ema_slope_raw"),
        pullback_extreme=extreme,
        touch_atr=(pl.when(long).then(lo).otherwise(h) - ema).abs() / pl.col("atr"),
        entry=c,
        stop=extreme - sign * p.stop_atr * pl.col("atr"),
    ).with_columns(target=c + p.reward_risk * (c - pl.col("stop")))
    rsi_room = pl.when(long).then(70.0 - pl.col("rsi")).otherwise(pl.col("rsi") - 30.0) / 20.0
    score = (
        2.5 * (pl.col("ema_spread_pct") / 5.0).clip(0.0, 1.0)
        + 2.0 * (pl.col("ema_slope_pct") / 2.5).clip(0.0, 1.0)
        + 2.0 * (1.0 - pl.col("touch_atr")).clip(0.0, 1.0)
        + 1.5 * ((pl.col("rel_volume") - 0.5) / 1.5).clip(0.0, 1.0)
        + 2.0 * rsi_room.clip(0.0, 1.0)
    )
    reasons = pl.format(
        "{} with EMA{} {} EMA{} by {}% and {} {}% in {} days; {} touched EMA{} ({}) and closed {}, "
        "RSI {}, volume {} the 20-day average",
        pl.when(long).then(pl.lit("uptrend")).otherwise(pl.lit("downtrend")),
        pl.lit(p.ema_period),
        pl.when(long).then(pl.lit("above")).otherwise(pl.lit("below")),
        pl.lit(p.slow_period),
        pl.col("ema_spread_pct").round(1).cast(pl.String),
        pl.when(long).then(pl.lit("rising")).otherwise(pl.lit("falling")),
        pl.col("ema_slope_pct").round(1).cast(pl.String),
        pl.lit(p.slope_days),
        pl.when(long).then(pl.lit("low")).otherwise(pl.lit("high")),
        pl.lit(p.ema_period),
        _num(ema),
        _num(c),
        pl.col("rsi").round(0).cast(pl.Int64).cast(pl.String),
        common.fmt_x(pl.col("rel_volume")),
    )
    df = df.with_columns(score=score, reasons=reasons)
    # the slow EMA remembers ~3 x its period: a split in there bends the trend it reads
    return common.finish(
        common.session_close_ts(df), "ema_pullback", DETAIL, history=daily, history_sessions=3 * p.slow_period
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m screeners.ema_pullback``: its registry spec run as a command."""
    from tradingstation.cli.screen import run_screener  # the one upward call: the CLI layer runs it

    return run_screener("ema_pullback", argv)


if __name__ == "__main__":
    raise SystemExit(main())
