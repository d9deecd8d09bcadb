"""What every screener shares: the one signal schema and how a screener's output is finished.

A screener is a pure function ``screen(inputs..., params) -> pl.DataFrame`` over frames that
follow the bar contract (``tradingstation.core.schemas``: ``date, symbol, ts, open, high, low, close,
volume`` [+ ``session``]), vectorized across symbols. Its result has the signal columns
(``SIGNAL_SCHEMA``) followed by its own detail columns.

Bad numbers never make a signal: ``finish`` drops (and logs, with the count, the reason and the
symbols) every row whose score, entry, stop or target is null, NaN or infinite, e.g. a score
built on a 0/0 relative volume. Dropping, not nulling the score, because a signal without a
score or a price cannot be ranked or traded. Given the daily ``history`` a signal was computed
from, it also drops (and logs) the signals whose window straddles an unadjusted split
(``screeners.splits``).
"""

from __future__ import annotations

import logging

import polars as pl

from screeners import splits
from tradingstation.core import calendar
from tradingstation.core.schemas import SIGNALS

SIGNAL_SCHEMA = SIGNALS  # owned by the bar/signal contracts module
SIDES = ("long", "short")
NUMBERS = ("score", "entry", "stop", "target")  # must be finite on every signal

log = logging.getLogger(__name__)


def finite_numbers() -> pl.Expr:
    """True where the score and every price are finite numbers (False for null, NaN, infinite)."""
    return pl.all_horizontal(pl.col(c).cast(pl.Float64).is_finite().fill_null(False) for c in NUMBERS)


def _dropped(screener: str, rows: pl.DataFrame, why: str) -> None:
    """One log line: how many signals were dropped, why, and (up to 10 of) which, each with its
    own reason when ``rows`` has a ``reason`` column."""
    if rows.height:
        named = rows.unique("symbol", maintain_order=True).head(10)
        if "reason" in named.columns:
            which = [f"{s} ({r})" for s, r in named.select("symbol", "reason").iter_rows()]
        else:
            which = named["symbol"].to_list()
        log.warning("%s: dropped %d signal(s) %s: %s", screener, rows.height, why, ", ".join(which))


def finish(
    signals: pl.DataFrame,
    screener: str,
    detail: pl.Schema | dict[str, pl.DataType],
    *,
    history: pl.DataFrame | None = None,
    history_sessions: int = 0,
) -> pl.DataFrame:
    """Conform a screener's raw output to the signal schema plus its ``detail`` columns.

    Drops rows with a non-finite score or price and, with ``history`` (the daily bars the screener
    read; each signal reads its last ``history_sessions`` of them), signals across an unadjusted
    split; both are logged with their reason. Adds the ``screener`` name, clips scores to 0-10,
    rounds prices to cents and sorts best first. An empty input gives an empty frame with the
    full schema.
    """
    detail = pl.Schema(detail)
    schema = pl.Schema({**SIGNAL_SCHEMA, **detail})
    if not signals.is_empty():
        _dropped(screener, signals.filter(~finite_numbers()), "with a null, NaN or infinite score or price")
        signals = signals.filter(finite_numbers())
    if history is not None and not signals.is_empty():
        signals, suppressed = splits.suppress_across(signals, history, history_sessions)
        _dropped(screener, suppressed, "across an unadjusted split")
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
    # detail ratios of a 0/0 become null, never NaN (NaN sorts and compares above every number)
    out = out.select(
        pl.col(c).cast(t).fill_nan(None) if t.is_float() else pl.col(c).cast(t) for c, t in schema.items()
    )
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
