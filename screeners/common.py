"""What every screener shares: the one signal schema and how a screener's output is finished.

A screener is a pure function ``screen(inputs..., params) -> pl.DataFrame`` over frames that
follow the bar contract (``tradingstation.core.schemas``: ``date, symbol, ts, open, high, low, close,
volume`` [+ ``session``]), vectorized across symbols. Its result has the signal columns
(``SIGNAL_SCHEMA``) followed by its own detail columns.
"""

from __future__ import annotations

import polars as pl

from tradingstation.core import calendar
from tradingstation.core.schemas import SIGNALS

SIGNAL_SCHEMA = SIGNALS  # owned by the bar/signal contracts module
SIDES = ("long", "short")


def finish(signals: pl.DataFrame, screener: str, detail: pl.Schema | dict[str, pl.DataType]) -> pl.DataFrame:
    """Conform a screener's raw output to the signal schema plus its ``detail`` columns.

    Adds the ``screener`` name, clips scores to 0-10, rounds prices to cents and sorts best first.
    An empty input gives an empty frame with the full schema.
    """
    detail = pl.Schema(detail)
    schema = pl.Schema({**SIGNAL_SCHEMA, **detail})
    if signals.is_empty():
        return pl.DataFrame(schema=schema)
    out = signals.with_columns(
        screener=pl.lit(screener),
        score=pl.col("score").cast(pl.Float64).clip(0.0, 10.0).round(2),
        **{c: pl.col(c).cast(pl.Float64).round(2) for c in ("entry", "stop", "target")},
    )
    bad_side = out.filter(~pl.col("side").is_in(SIDES))
    if bad_side.height:
        raise ValueError(f"{screener}: side must be long or short, got {bad_side['side'].unique().to_list()}")
    out = out.select(pl.col(c).cast(t) for c, t in schema.items())
    return out.sort(["date", "score", "symbol"], descending=[False, True, False])


def empty_signals(detail: pl.Schema | dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=pl.Schema({**SIGNAL_SCHEMA, **pl.Schema(detail)}))


def fmt_pct(expr: pl.Expr, digits: int = 1) -> pl.Expr:
    """'+6.2%' style text for a percent value."""
    return pl.when(expr >= 0).then(pl.lit("+")).otherwise(pl.lit("")) + expr.round(digits).cast(pl.String) + "%"


def fmt_x(expr: pl.Expr, digits: int = 1) -> pl.Expr:
    """'3.4×' style text for a ratio."""
    return expr.round(digits).cast(pl.String) + "×"


def session_close_ts(df: pl.DataFrame) -> pl.DataFrame:
    """Add ``ts`` = each date's session close (UTC): a daily signal is known at the close."""
    if df.is_empty():
        return df.with_columns(ts=pl.lit(None, pl.Datetime("us", "UTC")))
    closes = calendar.session_frame(df["date"].min(), df["date"].max()).select("date", ts="close")
    return df.drop("ts", strict=False).join(closes, on="date", how="left")


def daily_from_minutes(intraday_1m: pl.DataFrame) -> pl.DataFrame:
    """Each (symbol, date)'s daily bar so far, from its regular-session 1-minute bars.

    During the market session this is "today's bar" for the daily screeners; after the close it
    equals the session's daily bar.
    """
    regular = intraday_1m.filter(pl.col("session") == "regular").sort("symbol", "ts")
    return regular.group_by("date", "symbol", maintain_order=True).agg(
        pl.col("ts").first(),
        pl.col("open").first(),
        pl.col("high").max(),
        pl.col("low").min(),
        pl.col("close").last(),
        pl.col("volume").sum(),
    )
