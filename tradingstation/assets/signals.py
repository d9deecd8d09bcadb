"""AVWAP anchors and the six screeners' signals: thin wiring of ``screeners/`` into session assets.

Each asset screens every session it is asked for in one call (single-run backfills), keeps the
rows of those sessions, and records what it found. Daily-bar screeners that run during the
market session, before today's daily bar exists, use today's bar so far from the 1-minute bars.
"""

import datetime as dt

import dagster as dg
import polars as pl

from screeners import avwap_anchors as anchors_mod
from screeners import avwap_reclaim, breakout, ema_pullback, exhaustion_reversal, gapgo, orb
from screeners.common import daily_from_minutes
from screeners.registry import signals_dataset
from tradingstation.assets.metadata import markdown_table
from tradingstation.core import calendar, schemas
from tradingstation.partitions import SESSION_PARTITIONS, sessions_window
from tradingstation.resources.lake_io import LakeResource

BAR_COLUMNS = ["symbol", "ts", "open", "high", "low", "close", "volume"]


def _daily(before: int, include_current: bool = True) -> dg.AssetIn:
    return dg.AssetIn("daily_bars", partition_mapping=sessions_window(before, include_current=include_current))


def _asset(name: str, ins: dict[str, dg.AssetIn], description: str, required: list[str] | None = None):
    return dg.asset(
        name=name,
        ins=ins,
        deps=required or [],
        partitions_def=SESSION_PARTITIONS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="signals",
        kinds={"polars", "parquet"},
        description=description,
    )


def sessions_of(context: dg.AssetExecutionContext) -> list[dt.date]:
    return [calendar.session(k) for k in context.partition_keys]


def keep_sessions(df: pl.DataFrame, sessions: list[dt.date]) -> pl.DataFrame:
    return df.filter(pl.col("date").is_in(pl.Series(sessions, dtype=pl.Date).implode()))


def with_today(daily: pl.DataFrame, lake: LakeResource, sessions: list[dt.date]) -> pl.DataFrame:
    """Daily bars plus, for each session that has none yet, its bar so far from intraday_1m."""
    have = set(daily["date"].unique().to_list())
    store = lake.get()
    stored = set(store.sessions("intraday_1m"))
    missing = [d for d in sessions if d not in have and d in stored]
    if not missing:
        return daily
    today = daily_from_minutes(store.read("intraday_1m", sessions=missing))
    return pl.concat([daily, today.select(daily.columns)], how="vertical_relaxed").sort("symbol", "date")


def signal_output(signals: pl.DataFrame, screener: str, sessions: list[dt.date]) -> dg.Output:
    out = keep_sessions(signals, sessions)
    out = schemas.conform(out, schemas.dataset(signals_dataset(screener)).schema, what=screener)
    sides = dict(out.group_by("side").len().iter_rows()) if out.height else {}
    return dg.Output(
        out,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(out.height),
            "symbols": dg.MetadataValue.int(out["symbol"].n_unique() if out.height else 0),
            "longs": dg.MetadataValue.int(sides.get("long", 0)),
            "shorts": dg.MetadataValue.int(sides.get("short", 0)),
            "top": dg.MetadataValue.md(
                markdown_table(out.select("date", "symbol", "side", "score", "entry", "stop", "target", "reasons"))
            ),
        },
    )


@_asset("avwap_anchors", {"daily_bars": _daily(80, include_current=False)}, anchors_mod.__doc__ or "")
def avwap_anchors(context: dg.AssetExecutionContext, daily_bars: pl.DataFrame) -> dg.Output:
    sessions = sessions_of(context)
    as_of = {calendar.previous_session(d): d for d in sessions}  # premarket: bars through yesterday
    found = anchors_mod.find_anchors(daily_bars, as_of=list(as_of))
    found = found.with_columns(pl.col("date").replace_strict(as_of, return_dtype=pl.Date))
    types = dict(found.group_by("anchor_type").len().iter_rows()) if found.height else {}
    return dg.Output(
        found,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(found.height),
            "symbols": dg.MetadataValue.int(found["symbol"].n_unique() if found.height else 0),
            "by_type": dg.MetadataValue.json(types),
            "preview": dg.MetadataValue.md(markdown_table(found)),
        },
    )


@_asset(
    "gapgo_signals",
    {"daily_bars": _daily(25, include_current=False), "intraday_1m": dg.AssetIn("intraday_1m")},
    gapgo.__doc__ or "",
)
def gapgo_signals(context: dg.AssetExecutionContext, daily_bars: pl.DataFrame, intraday_1m: pl.DataFrame) -> dg.Output:
    return signal_output(gapgo.screen(daily_bars, intraday_1m), "gapgo", sessions_of(context))


# Five sessions before D give ORB its time-of-day relative volume, as the CLI has it.
@_asset("orb_signals", {"intraday_1m": dg.AssetIn("intraday_1m", partition_mapping=sessions_window(5))}, orb.__doc__ or "")
def orb_signals(context: dg.AssetExecutionContext, intraday_1m: pl.DataFrame) -> dg.Output:
    return signal_output(orb.screen(intraday_1m), "orb", sessions_of(context))


@_asset(
    "avwap_reclaim_signals",
    {"daily_bars": _daily(80), "avwap_anchors": dg.AssetIn("avwap_anchors")},
    avwap_reclaim.__doc__ or "",
    required=["intraday_1m"],
)
def avwap_reclaim_signals(
    context: dg.AssetExecutionContext, daily_bars: pl.DataFrame, avwap_anchors: pl.DataFrame, lake: LakeResource
) -> dg.Output:
    sessions = sessions_of(context)
    daily = with_today(daily_bars, lake, sessions)
    return signal_output(avwap_reclaim.screen(daily, avwap_anchors), "avwap_reclaim", sessions)


@_asset("breakout_signals", {"daily_bars": _daily(60)}, breakout.__doc__ or "", required=["intraday_1m"])
def breakout_signals(context: dg.AssetExecutionContext, daily_bars: pl.DataFrame, lake: LakeResource) -> dg.Output:
    sessions = sessions_of(context)
    return signal_output(breakout.screen(with_today(daily_bars, lake, sessions)), "breakout", sessions)


@_asset("ema_pullback_signals", {"daily_bars": _daily(120)}, ema_pullback.__doc__ or "", required=["intraday_1m"])
def ema_pullback_signals(context: dg.AssetExecutionContext, daily_bars: pl.DataFrame, lake: LakeResource) -> dg.Output:
    sessions = sessions_of(context)
    return signal_output(ema_pullback.screen(with_today(daily_bars, lake, sessions)), "ema_pullback", sessions)


@_asset(
    "exhaustion_reversal_signals",
    {
        "intraday_30m": dg.AssetIn("intraday_30m", partition_mapping=sessions_window(10)),
        "daily_bars": _daily(30, include_current=False),
    },
    exhaustion_reversal.__doc__ or "",
)
def exhaustion_reversal_signals(
    context: dg.AssetExecutionContext, intraday_30m: pl.DataFrame, daily_bars: pl.DataFrame
) -> dg.Output:
    signals = exhaustion_reversal.screen(intraday_30m, daily_bars)
    return signal_output(signals, "exhaustion_reversal", sessions_of(context))


SIGNAL_ASSETS = [
    avwap_anchors,
    gapgo_signals,
    orb_signals,
    avwap_reclaim_signals,
    breakout_signals,
    ema_pullback_signals,
    exhaustion_reversal_signals,
]
