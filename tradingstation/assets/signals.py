"""AVWAP anchors and every registered screener's signals: thin wiring of ``screeners/`` into session assets.

One ``<name>_signals`` asset per spec of ``screeners.registry`` (``signal_asset``): its inputs,
their history windows and its description come from the spec. Every input is an edge of the same
session in Dagster's graph; the sessions before it are loaded through the input's window
(:mod:`tradingstation.resources.windows`), so a backfill touches only the sessions selected. The
UI shows a two-line description (the rules stay in the screener's docstring and the README). Each asset screens every session it is
asked for in one call (single-run backfills), keeps the rows of those sessions, and records what it
found. Daily-bar screeners that run during the market session, before today's daily bar exists,
use today's bar so far from the 1-minute bars. ``avwap_anchors`` (not a screener) is written here.
"""

import datetime as dt

import dagster as dg
import polars as pl

from screeners import avwap_anchors as anchors_mod
from screeners.common import daily_from_minutes
from screeners.registry import SCREENERS, ScreenerInput, ScreenerSpec, signals_dataset
from tradingstation.core import calendar, schemas
from tradingstation.ops.tables import markdown_table
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.resources.lake_io import LakeResource
from tradingstation.resources.windows import window_in

BAR_COLUMNS = ["symbol", "ts", "open", "high", "low", "close", "volume"]


def summary(doc: str | None) -> str:
    """A docstring's first line: what the UI shows above the README link."""
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""


def short_description(spec: ScreenerSpec) -> str:
    """Two lines for the UI: what the screener finds, and when it runs on what."""
    reads = ", ".join(
        f"{i.dataset} ({i.sessions_back} sessions before{' and the session' if i.include_session else ''})"
        if i.sessions_back else i.dataset
        for i in spec.asset_wiring[1]
    )
    return f"{summary(spec.description)}\n\nThe {spec.session} session; reads {reads}."


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
    lake_store = lake.get()
    stored = set(lake_store.sessions("intraday_1m"))
    missing = [d for d in sessions if d not in have and d in stored]
    if not missing:
        return daily
    today = daily_from_minutes(lake_store.read("intraday_1m", sessions=missing))
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


ANCHOR_DESCRIPTION = (
    f"{summary(anchors_mod.__doc__)}\n\nThe premarket session; reads daily_bars (80 sessions before), "
    "earnings (the session's, as far as the lake holds it)."
)


def earnings_anchors(lake: LakeResource, sessions: list[dt.date]) -> pl.DataFrame:
    """(symbol, date) of the reports in the sessions' ``earnings`` partitions, ``date`` the session
    that traded on the report: what ``find_anchors`` marks as earnings anchors. Read as far as the
    lake holds them (no earnings partition yet: no earnings anchors, nothing fails)."""
    lake_store = lake.get()
    stored = [d for d in sessions if d in set(lake_store.sessions("earnings"))]
    if not stored:
        return pl.DataFrame(schema={"symbol": pl.String, "date": pl.Date})
    found = lake_store.read("earnings", sessions=stored, columns=["symbol", "session"])
    return found.select("symbol", date="session").drop_nulls().unique()


@_asset("avwap_anchors", {"daily_bars": window_in("daily_bars", 80, include_session=False)}, ANCHOR_DESCRIPTION,
        required=["earnings"])
def avwap_anchors(context: dg.AssetExecutionContext, lake: LakeResource, daily_bars: pl.DataFrame) -> dg.Output:
    sessions = sessions_of(context)
    as_of = {calendar.previous_session(d): d for d in sessions}  # premarket: bars through yesterday
    reports = earnings_anchors(lake, sessions)
    found = anchors_mod.find_anchors(daily_bars, as_of=list(as_of), earnings=reports)
    found = found.with_columns(pl.col("date").replace_strict(as_of, return_dtype=pl.Date))
    types = dict(found.group_by("anchor_type").len().iter_rows()) if found.height else {}
    return dg.Output(
        found,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(found.height),
            "symbols": dg.MetadataValue.int(found["symbol"].n_unique() if found.height else 0),
            "by_type": dg.MetadataValue.json(types),
            "earnings_reports": dg.MetadataValue.int(reports.height),  # 0: no earnings partition, or none reported
            "preview": dg.MetadataValue.md(markdown_table(found)),
        },
    )


def _asset_in(i: ScreenerInput) -> dg.AssetIn:
    """The same session's ``i.dataset``, with the spec's history window loaded by the IO manager."""
    return window_in(i.dataset, i.sessions_back, include_session=i.include_session, dagster_type=pl.DataFrame)


def signal_asset(spec: ScreenerSpec) -> dg.AssetsDefinition:
    """The ``<name>_signals`` asset of a registered screener, wired as its spec says.

    Its inputs are named after their datasets and handed to the screen function as the spec's
    arguments; a daily-bar screener of the market session gets today's bar so far (``with_today``).
    """
    screen, inputs = spec.asset_wiring
    ins = {i.dataset: _asset_in(i) for i in inputs}
    required = ["intraday_1m"] if spec.needs_today_bar else None
    decorate = _asset(spec.dataset, ins, short_description(spec), required=required)

    def frames(bars: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        return {i.argument: bars[i.dataset] for i in inputs}

    if spec.needs_today_bar:

        def screen_with_today(
            context: dg.AssetExecutionContext, lake: LakeResource, **bars: pl.DataFrame
        ) -> dg.Output:
            sessions = sessions_of(context)
            bars["daily_bars"] = with_today(bars["daily_bars"], lake, sessions)
            return signal_output(screen(**frames(bars)), spec.name, sessions)

        return decorate(screen_with_today)

    def screen_sessions(context: dg.AssetExecutionContext, **bars: pl.DataFrame) -> dg.Output:
        return signal_output(screen(**frames(bars)), spec.name, sessions_of(context))

    return decorate(screen_sessions)


SIGNAL_ASSETS = [avwap_anchors, *(signal_asset(spec) for spec in SCREENERS.values())]
