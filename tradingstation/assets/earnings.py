"""Earnings reports of the universe: the ``earnings`` dataset, one partition per session.

``earnings[D]`` holds, for each included symbol of D's universe (borrowed as the bar assets borrow
it), the reports the source lists dated from ``BACK_DAYS`` calendar days before D to ``AHEAD_DAYS``
after it (``schemas.EARNINGS``): past reports anchor earnings AVWAPs (``avwap_anchors`` reads the
partition), scheduled ones show next to the plan's rows (``master_dashboard``). What D's premarket
could not know stays out: the reported EPS and surprise of a report dated D or later are null.

It runs in the premarket, before ``avwap_anchors``. Yahoo answers one ticker per call, so a run
whose sessions the lake already holds reuses them (the earnings calendar does not change between
the premarket ticks of one session) unless its config says ``refresh``. A source with no earnings
dates (``EarningsResult.available`` False: the files source without an earnings file) writes empty
partitions and says so in the metadata (``available``, ``notes``); it never fails the session.
"""


import datetime as dt

import dagster as dg
import polars as pl

from tradingstation.assets.market_data import universe_for
from tradingstation.core import calendar, schemas
from tradingstation.ops.tables import markdown_table
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.quality.universe import universe_pairs
from tradingstation.resources.lake_io import LakeResource
from tradingstation.resources.sources import MarketDataSource

BACK_DAYS = 150  # the last report before any anchor window (30 sessions, 80 loaded) with a quarter to spare
AHEAD_DAYS = 45  # scheduled reports: the plan shows those within its next 10 sessions


class EarningsConfig(dg.Config):
    refresh: bool = False  # fetch again even when the lake holds the sessions (one call per symbol on Yahoo)


def known_at(events: pl.DataFrame, allowed: pl.DataFrame) -> pl.DataFrame:
    """Each session's reports (``schemas.EARNINGS``): the events of its allowed symbols within
    [D - BACK_DAYS, D + AHEAD_DAYS], reported figures only for reports before D. One join."""
    joined = allowed.join(events, on="symbol", how="inner")
    window = pl.col("report_date").is_between(pl.col("date") - pl.duration(days=BACK_DAYS),
                                              pl.col("date") + pl.duration(days=AHEAD_DAYS))
    known = pl.col("report_date") < pl.col("date")
    out = joined.filter(window).with_columns(
        reported_eps=pl.when(known).then(pl.col("reported_eps")),
        surprise_pct=pl.when(known).then(pl.col("surprise_pct")),
    )
    return out.select(pl.col(c).cast(t) for c, t in schemas.EARNINGS.items()).sort("date", "symbol", "session")


@dg.asset(
    partitions_def=SESSION_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["universe"],
    group_name="market_data",
    kinds={"polars", "parquet"},
    pool="market_data_fetch",
    description="Earnings reports of the universe's symbols (past and scheduled), known at the session's premarket.",
)
def earnings(context: dg.AssetExecutionContext, config: EarningsConfig, source: MarketDataSource,
             lake: LakeResource) -> dg.Output:
    lake_store = lake.get()
    sessions = [calendar.session(k) for k in context.partition_keys]
    stored = set(lake_store.sessions("earnings"))
    meta: dict[str, dg.MetadataValue] = {"source": dg.MetadataValue.text(source.source_name)}
    if not config.refresh and all(d in stored for d in sessions):
        out = lake_store.read("earnings", sessions=sessions)
        meta["reused"] = dg.MetadataValue.text("the lake held every session already (config refresh=True fetches again)")
    else:
        universes, borrowed = universe_for(lake_store, sessions)
        allowed = universe_pairs(universes, sessions)
        symbols = sorted(universes.all_symbols())
        found = source.earnings(symbols, sessions[0] - dt.timedelta(days=BACK_DAYS),
                                sessions[-1] + dt.timedelta(days=AHEAD_DAYS))
        out = known_at(found.events, allowed)
        if not found.available:
            context.log.warning(f"earnings: {'; '.join(found.notes)}")
        if found.failures:
            context.log.info(f"earnings: {len(found.failures)} symbol(s) without dates, "
                             f"e.g. {dict(list(found.failures.items())[:5])}")
        meta |= {
            "available": dg.MetadataValue.bool(found.available),
            "requested": dg.MetadataValue.int(len(symbols)),
            "failed": dg.MetadataValue.int(len(found.failures)),
            "failures_sample": dg.MetadataValue.json(dict(list(found.failures.items())[:20])),
            "notes": dg.MetadataValue.text("; ".join(found.notes)),
        }
        if borrowed:
            meta["universe_borrowed"] = dg.MetadataValue.json(dict(list(borrowed.items())[:50]))
    last = out.filter(pl.col("date") == sessions[-1])
    upcoming = last.filter(pl.col("report_date") >= sessions[-1]).sort("report_date")
    meta |= {
        "dagster/row_count": dg.MetadataValue.int(out.height),
        "symbols": dg.MetadataValue.int(out["symbol"].n_unique() if out.height else 0),
        "upcoming": dg.MetadataValue.md(markdown_table(upcoming.select("symbol", "report_date", "timing", "session",
                                                                        "eps_estimate"))),
    }
    return dg.Output(out, metadata=meta)
