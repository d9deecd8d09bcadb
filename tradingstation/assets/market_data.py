"""Bars of the universe's symbols: daily, 1-minute (pre/regular/post) and 30-minute.

Each asset fetches from the configured source for all the sessions it is asked for at once (a
single-run backfill of a year is one fetch, not 252), validates against the bar contract, writes
the rows that break it to ``<dataset>_quarantine`` with a reason, and returns the good bars.
"""


import datetime as dt

import dagster as dg

from tradingstation.assets.metadata import bars_metadata
from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.quality import replacement
from tradingstation.quality.universe import session_universes
from tradingstation.resources.lake_io import LakeResource, refuse_sharp_shrink, write_metadata
from tradingstation.resources.sources import Interval, MarketDataSource


def universe_for(lake_store: Lake, sessions: list[dt.date]) -> tuple[list[str], dict[str, str]]:
    """Included symbols of the universes of ``sessions``, and which sessions borrowed whose.

    A session without a universe partition borrows the latest one before it (or else the
    earliest stored): :mod:`tradingstation.quality.universe`, the rule the coverage check judges
    by too. The metadata says which sessions borrowed.
    """
    universes = session_universes(lake_store, sessions)
    if universes is None:
        raise FileNotFoundError("the universe has never been materialized: materialize `universe` first")
    borrowed = {d.isoformat(): u.isoformat() for d, u in universes.borrowed().items()}
    return universes.all_symbols(), borrowed


def bars_asset(name: str, interval: Interval, description: str) -> dg.AssetsDefinition:
    """One session-partitioned bar dataset fetched at ``interval``."""

    @dg.asset(
        name=name,
        partitions_def=SESSION_PARTITIONS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=["universe"],
        group_name="market_data",
        kinds={"polars", "parquet"},
        pool="market_data_fetch",
        description=description,
    )
    def _bars(context: dg.AssetExecutionContext, source: MarketDataSource, lake: LakeResource) -> dg.Output:
        lake_store = lake.get()
        sessions = [calendar.session(k) for k in context.partition_keys]
        symbols, borrowed = universe_for(lake_store, sessions)
        anchor = context.run.tags.get("tradingstation/universe_session")
        if anchor:  # history requested by the universe sensor for symbols new on that session
            symbols = sorted({*symbols, *universe_for(lake_store, [calendar.session(anchor)])[0]})
        fetched = source.fetch(symbols, interval, sessions[0], sessions[-1])
        override = replacement.override_requested(dict(context.run.tags))
        broken = replacement.failed_fetch(name, len(symbols), fetched.failures)
        if broken and not override:
            raise dg.Failure(description=broken, allow_retries=False)
        checked = schemas.validate_bars(fetched.bars, intraday=interval.intraday, sessions=sessions)
        refuse_sharp_shrink(lake_store, name, checked.bars, context.partition_keys, context.run.tags)
        quarantine_infos = lake_store.write_sessions(f"{name}_quarantine", checked.quarantine, sessions)
        if fetched.failures:
            context.log.warning(f"{name}: {len(fetched.failures)} symbol(s) failed, e.g. {dict(list(fetched.failures.items())[:5])}")
        if checked.quarantine.height:
            context.log.warning(f"{name}: {checked.quarantine.height} row(s) quarantined: {checked.quarantined_by_reason}")
        meta = bars_metadata(
            checked.bars,
            requested=len(symbols),
            failures=fetched.failures,
            quarantine=checked.quarantine,
            notes=fetched.notes,
        )
        meta["source"] = dg.MetadataValue.text(source.source_name)
        meta["quarantine_key"] = write_metadata(quarantine_infos)["lake_key"]
        if borrowed:
            meta["universe_borrowed"] = dg.MetadataValue.json(dict(list(borrowed.items())[:50]))
        return dg.Output(checked.bars, metadata=meta)

    return _bars


daily_bars = bars_asset(
    "daily_bars", Interval.DAY, "One regular-session OHLCV bar per universe symbol and session."
)
intraday_1m = bars_asset(
    "intraday_1m", Interval.MINUTE_1, "1-minute bars from 04:00 ET to the post-market close, labelled pre/regular/post."
)
intraday_30m = bars_asset("intraday_30m", Interval.MINUTE_30, "30-minute bars of the session.")
