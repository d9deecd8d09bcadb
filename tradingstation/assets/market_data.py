"""Bars of the universe's symbols: daily, 1-minute (pre/regular/post) and 30-minute.

Each asset fetches from the configured source for all the sessions it is asked for at once (a
single-run backfill of a year is one fetch, not 252), validates against the bar contract, writes
the rows that break it to ``<dataset>_quarantine`` with a reason, and returns the good bars.
"""


import bisect
import datetime as dt

import dagster as dg

from tradingstation.assets.metadata import bars_metadata
from tradingstation.assets.universe import included_symbols
from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.resources.lake_io import LakeResource, write_metadata
from tradingstation.resources.sources import Interval, MarketDataSource


def universe_for(lake: Lake, sessions: list[dt.date]) -> tuple[list[str], dict[str, str]]:
    """Included symbols of the universe partitions of ``sessions``.

    A session without a universe partition borrows the latest one before it (or else the
    earliest stored), so a backfill of bars alone works once any universe exists; the metadata
    says which sessions borrowed.
    """
    stored = lake.sessions("universe")
    if not stored:
        raise FileNotFoundError("the universe has never been materialized: materialize `universe` first")
    use = {day: stored[max(bisect.bisect_right(stored, day) - 1, 0)] for day in sessions}
    table = lake.read("universe", sessions=sorted(set(use.values())), columns=["symbol", "included"])
    borrowed = {d.isoformat(): u.isoformat() for d, u in use.items() if d != u}
    return included_symbols(table), borrowed


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
        store = lake.get()
        sessions = [calendar.session(k) for k in context.partition_keys]
        symbols, borrowed = universe_for(store, sessions)
        anchor = context.run.tags.get("tradingstation/universe_session")
        if anchor:  # history requested by the universe sensor for symbols new on that session
            symbols = sorted({*symbols, *universe_for(store, [calendar.session(anchor)])[0]})
        fetched = source.fetch(symbols, interval, sessions[0], sessions[-1])
        checked = schemas.validate_bars(fetched.bars, intraday=interval.intraday, sessions=sessions)
        quarantine_infos = store.write_sessions(f"{name}_quarantine", checked.quarantine, sessions)
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
