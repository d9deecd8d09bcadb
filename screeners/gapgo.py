"""Gap & Go: a pre-market scan for stocks gapping on heavy pre-market volume.

A symbol fires long when its last pre-market price (the close of its last ``session == 'pre'``
1-minute bar) is at least ``min_gap`` percent above the previous session's close, and short when
it is at least ``min_gap`` percent below it, provided the pre-market traded at least
``min_premarket_volume`` shares at a relative volume of at least ``min_relative_volume`` and the
price lies in ``[min_price, max_price]``. Relative volume needs only today's pre-market bars:
``premarket_volume / (avg_daily_volume * premarket_fraction)``, where ``avg_daily_volume`` is the
mean daily volume of the (up to) ``avg_volume_sessions`` sessions before the signal date (at
least 5 needed) and ``premarket_fraction`` (default 0.02, a typical pre-market share of a day's
volume) makes 1x an ordinary morning. Score 0-10: gap size up to 4 points (full at 3 x
``min_gap``), relative volume up to 3 (full at 10x), 2 when the price is already beyond the
prior day's high (long) or low (short), 1 when the price is in the $5-$200 band. Long: entry one
cent above the pre-market high, stop one cent below the pre-market low; short: entry one cent
below the pre-market low, stop one cent above the pre-market high; target = entry +/-
``reward_risk`` (default 2) x risk.

Inputs: ``daily`` (daily bars, ~25 sessions before the date, for the previous close, prior-day
high/low and average volume; a bar dated on the signal date itself is ignored) and
``intraday_1m`` (1-minute bars of the session(s) to scan; only pre-market bars are used).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from screeners import common
from screeners.indicators import gap_percent, group_id, ratio, sorted_by
from tradingstation.core import calendar

TICK = 0.01
MAX_SESSION_GAP_DAYS = 7  # the previous daily bar must be this recent (long closures included)
MIN_AVG_SESSIONS = 5

DETAIL: dict[str, pl.DataType] = {
    "prev_close": pl.Float64,
    "gap_pct": pl.Float64,
    "premarket_last": pl.Float64,
    "premarket_high": pl.Float64,
    "premarket_low": pl.Float64,
    "premarket_vwap": pl.Float64,
    "premarket_volume": pl.Int64,
    "avg_daily_volume": pl.Float64,
    "relative_volume": pl.Float64,
    "prior_high": pl.Float64,
    "prior_low": pl.Float64,
}


@dataclass(frozen=True)
class GapgoParams:
    min_gap: float = 4.0  # percent, either direction
    min_premarket_volume: int = 50_000  # shares traded pre-market
    min_relative_volume: float = 2.0  # pre-market volume / (avg daily volume * premarket_fraction)
    premarket_fraction: float = 0.02  # share of a normal day's volume deemed a normal pre-market
    avg_volume_sessions: int = 20  # sessions in the average daily volume
    min_price: float = 2.0
    max_price: float = 500.0
    reward_risk: float = 2.0  # target = entry +/- reward_risk * (entry - stop)


def _premarket(intraday_1m: pl.DataFrame) -> pl.DataFrame:
    """One row per symbol and session: the pre-market's last price, range, VWAP and volume."""
    columns = ["symbol", "date", "ts", "high", "low", "close", "volume"]
    pre = intraday_1m.lazy().filter(pl.col("session") == "pre").select(columns).collect(engine="in-memory")
    pre = sorted_by(pre, "symbol", "ts")
    typical = (pl.col("high") + pl.col("low") + pl.col("close")) / 3.0
    return pre.group_by("symbol", "date").agg(
        ts=pl.col("ts").last(),
        premarket_last=pl.col("close").last(),
        premarket_high=pl.col("high").max(),
        premarket_low=pl.col("low").min(),
        premarket_volume=pl.col("volume").sum(),
        premarket_vwap=ratio((typical * pl.col("volume")).sum(), pl.col("volume").sum()),
    )


def _prior_days(daily: pl.DataFrame, n: int, dates: pl.Series) -> pl.DataFrame:
    """Per daily bar that may be the previous session of one of ``dates`` (at most
    ``MAX_SESSION_GAP_DAYS`` before): that session's close/high/low and the average volume of
    the n sessions ending there."""
    since = dates.min() - dt.timedelta(days=MAX_SESSION_GAP_DAYS + 1)
    return (
        sorted_by(daily, "symbol", "date")
        .lazy()
        .with_columns(_sid=group_id("symbol"))  # over the symbol's number: cheaper than its name
        .with_columns(
            avg_daily_volume=pl.col("volume")
            .cast(pl.Float64)
            .rolling_mean(n, min_samples=min(MIN_AVG_SESSIONS, n))
            .over("_sid")
        )
        .filter(pl.col("date").is_between(since, dates.max()))
        .select(
            "symbol",
            pl.col("date").alias("prior_date"),
            pl.col("close").alias("prev_close"),
            pl.col("high").alias("prior_high"),
            pl.col("low").alias("prior_low"),
            "avg_daily_volume",
        )
        .collect(engine="in-memory")
    )


def screen(
    daily: pl.DataFrame, intraday_1m: pl.DataFrame, params: GapgoParams = GapgoParams()
) -> pl.DataFrame:
    """Gap & Go signals for every session with pre-market bars in ``intraday_1m``."""
    p = params
    pm = _premarket(intraday_1m)
    if pm.is_empty() or daily.is_empty():
        return common.empty_signals(DETAIL)
    # The previous session's bar: the latest daily bar strictly before the signal date.
    pm = pm.with_columns(_key=pl.col("date") - pl.duration(days=1)).sort("_key")
    prior = _prior_days(daily, p.avg_volume_sessions, pm["date"]).sort("prior_date")
    df = pm.join_asof(
        prior,
        left_on="_key",
        right_on="prior_date",
        by="symbol",
        strategy="backward",
        tolerance=f"{MAX_SESSION_GAP_DAYS}d",
        check_sortedness=False,  # sorted by _key; polars cannot verify it per 'by' group
    )
    # The gap is measured against the previous *session's* close only: with that bar missing (a
    # failed postmarket run) an older close would report a gap that is not there.
    previous = {d: calendar.previous_session(d) for d in pm["date"].unique().to_list()}
    df = df.filter(
        pl.col("prev_close").is_not_null()
        & (pl.col("prior_date") == pl.col("date").replace_strict(previous, return_dtype=pl.Date))
    )

    gap = gap_percent("premarket_last", "prev_close")
    rel = ratio(pl.col("premarket_volume"), pl.col("avg_daily_volume") * p.premarket_fraction)  # null on 0
    df = df.with_columns(gap_pct=gap, relative_volume=rel)
    up, down = pl.col("gap_pct") >= p.min_gap, pl.col("gap_pct") <= -p.min_gap
    df = df.filter(
        (up | down)
        & (pl.col("premarket_volume") >= p.min_premarket_volume)
        & (pl.col("relative_volume") >= p.min_relative_volume)
        & pl.col("premarket_last").is_between(p.min_price, p.max_price)
    )
    if df.is_empty():
        return common.empty_signals(DETAIL)

    long = pl.col("side") == "long"
    df = df.with_columns(side=pl.when(up).then(pl.lit("long")).otherwise(pl.lit("short")))
    df = df.with_columns(
        entry=pl.when(long).then(pl.col("premarket_high") + TICK).otherwise(pl.col("premarket_low") - TICK),
        stop=pl.when(long).then(pl.col("premarket_low") - TICK).otherwise(pl.col("premarket_high") + TICK),
        beyond_prior=pl.when(long)
        .then(pl.col("premarket_last") > pl.col("prior_high"))
        .otherwise(pl.col("premarket_last") < pl.col("prior_low")),
    )
    df = df.with_columns(target=pl.col("entry") + p.reward_risk * (pl.col("entry") - pl.col("stop")))

    score = (
        4.0 * (pl.col("gap_pct").abs() / (3.0 * p.min_gap)).clip(0.0, 1.0)
        + 3.0 * (pl.col("relative_volume") / 10.0).clip(0.0, 1.0)
        + pl.when(pl.col("beyond_prior")).then(2.0).otherwise(0.0)
        + pl.when(pl.col("premarket_last").is_between(5.0, 200.0)).then(1.0).otherwise(0.0)
    )
    level = (
        pl.when(long & pl.col("beyond_prior"))
        .then(pl.lit("above prior-day high ") + pl.col("prior_high").round(2).cast(pl.String))
        .when(long)
        .then(pl.lit("below prior-day high ") + pl.col("prior_high").round(2).cast(pl.String))
        .when(pl.col("beyond_prior"))
        .then(pl.lit("below prior-day low ") + pl.col("prior_low").round(2).cast(pl.String))
        .otherwise(pl.lit("above prior-day low ") + pl.col("prior_low").round(2).cast(pl.String))
    )
    reasons = pl.concat_str(
        pl.lit("gap "),
        common.fmt_pct(pl.col("gap_pct")),
        pl.lit(" on "),
        common.fmt_x(pl.col("relative_volume")),
        pl.lit(" pre-market volume ("),
        (pl.col("premarket_volume") / 1000).round(0).cast(pl.Int64).cast(pl.String),
        pl.lit("k shares), "),
        level,
        pl.lit("; pre-market range "),
        pl.col("premarket_low").round(2).cast(pl.String),
        pl.lit("-"),
        pl.col("premarket_high").round(2).cast(pl.String),
        pl.lit(", last "),
        pl.col("premarket_last").round(2).cast(pl.String),
    )
    df = df.with_columns(score=score, reasons=reasons)
    return common.finish(df, "gapgo", DETAIL)


def main(argv: list[str] | None = None) -> int:
    """``python -m screeners.gapgo``: its registry spec run as a command."""
    from tradingstation.cli.screen import run_screener  # the one upward call: the CLI layer runs it

    return run_screener("gapgo", argv)


if __name__ == "__main__":
    raise SystemExit(main())
