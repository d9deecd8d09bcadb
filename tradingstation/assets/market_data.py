"""Bars of the universe's symbols: daily, 1-minute (pre/regular/post) and 30-minute.

Each asset fetches from the configured source for all the sessions it is asked for at once (a
single-run backfill of a year is one fetch, not 252), validates against the bar contract, writes
the rows that break it to ``<dataset>_quarantine`` with a reason, and returns the good bars.

Each session's partition holds the included symbols of that session's own universe
(:func:`tradingstation.quality.universe.session_universes`), whatever range the run covers, so a
session rebuilt alone or inside any range comes out the same: the fetch covers the union of the
run's universes, and one join against the allowed (date, symbol) pairs
(:func:`tradingstation.quality.universe.universe_pairs`, the pairs the gap report expects) keeps each
session's own. A history run the universe sensor requests (run tag
``tradingstation/universe_session``) adds the symbols of that session's universe to every session
of the run. A stored partition that fails ``lake verify``'s file check is replaced, not guarded:
it is rewritten before the shrink guard reads the stored partitions.
"""


import datetime as dt
from collections.abc import Sequence

import dagster as dg
import polars as pl

from tradingstation import maintenance
from tradingstation.assets.metadata import bars_metadata
from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.quality import replacement
from tradingstation.quality.universe import SessionUniverses, session_universes, universe_pairs
from tradingstation.resources.lake_io import (
    LakeResource,
    record_partitions,
    refuse_sharp_shrink,
    written_figures,
)
from tradingstation.resources.sources import Interval, MarketDataSource


def universe_for(lake_store: Lake, sessions: list[dt.date]) -> tuple[SessionUniverses, dict[str, str]]:
    """The universe of each of ``sessions``, and which sessions borrowed whose.

    A session without a universe partition borrows the latest one before it (or else the
    earliest stored): :mod:`tradingstation.quality.universe`, the rule the coverage check judges
    by too. The metadata says which sessions borrowed.
    """
    universes = session_universes(lake_store, sessions)
    if universes is None:
        raise FileNotFoundError("the universe has never been materialized: materialize `universe` first")
    borrowed = {d.isoformat(): u.isoformat() for d, u in universes.borrowed().items()}
    return universes, borrowed


def keep_allowed(bars: pl.DataFrame, allowed: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``bars`` whose (date, symbol) is among ``allowed``, in their order."""
    return bars.join(allowed, on=["date", "symbol"], how="semi", maintain_order="left")


def keep_allowed_quarantine(quarantine: pl.DataFrame, allowed: pl.DataFrame, requested: Sequence[str]) -> pl.DataFrame:
    """Quarantined rows but those of a requested symbol on a session whose universe excludes it;
    rows without a symbol, or of a symbol nobody asked for, stay: they say the source misbehaved."""
    asked = pl.Series(list(requested), dtype=pl.String).implode()
    ok = allowed.with_columns(_allowed=pl.lit(True))
    return (
        quarantine.join(ok, on=["date", "symbol"], how="left", maintain_order="left")
        .filter(pl.col("_allowed").fill_null(False) | pl.col("symbol").is_null() | ~pl.col("symbol").is_in(asked))
        .drop("_allowed")
    )


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
        universes, borrowed = universe_for(lake_store, sessions)
        extra: list[str] = []
        anchor = context.run.tags.get("tradingstation/universe_session")
        if anchor:  # history requested by the universe sensor for symbols new on that session
            extra = universe_for(lake_store, [calendar.session(anchor)])[0].all_symbols()
        allowed = universe_pairs(universes, sessions, extra)
        symbols = sorted({*universes.all_symbols(), *extra})
        fetched = source.fetch(symbols, interval, sessions[0], sessions[-1])
        override = replacement.override_requested(dict(context.run.tags))
        broken = replacement.failed_fetch(name, len(symbols), fetched.errors)  # absent ones are data
        if broken and not override:
            raise dg.Failure(description=broken, allow_retries=False)
        validated = schemas.validate_bars(fetched.bars, intraday=interval.intraday, sessions=sessions)
        checked = schemas.Validated(  # each session's own universe (plus the history run's symbols)
            keep_allowed(validated.bars, allowed), keep_allowed_quarantine(validated.quarantine, allowed, symbols)
        )
        damaged = maintenance.damaged_partitions(lake_store, name, sessions)
        sound = [k for k, d in zip(context.partition_keys, sessions, strict=True) if d not in damaged]
        refuse_sharp_shrink(lake_store, name, checked.bars, sound, context.run.tags)
        if damaged:  # nothing in them to guard; rewritten now so the IO manager's guard can read them
            context.log.warning(f"{name}: replacing {len(damaged)} damaged partition(s): "
                                + "; ".join(f"{d}: {why}" for d, why in list(damaged.items())[:5]))
            lake_store.write_sessions(name, checked.bars.filter(pl.col("date").is_in(list(damaged))), damaged)
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
            partition_keys=context.partition_keys,
        )
        meta["source"] = dg.MetadataValue.text(source.source_name)
        record_partitions(  # each partition's own quarantine file, never the range's last one
            context, written_figures(quarantine_infos, rows="quarantined_rows", key="quarantine_key", size="quarantine_bytes")
        )
        if borrowed:
            meta["universe_borrowed"] = dg.MetadataValue.json(dict(list(borrowed.items())[:50]))
        if damaged:
            meta["replaced_damaged"] = dg.MetadataValue.json({d.isoformat(): why for d, why in list(damaged.items())[:50]})
        return dg.Output(checked.bars, metadata=meta)

    return _bars


daily_bars = bars_asset(
    "daily_bars", Interval.DAY, "One regular-session OHLCV bar per universe symbol and session."
)
intraday_1m = bars_asset(
    "intraday_1m", Interval.MINUTE_1, "1-minute bars from 04:00 ET to the post-market close, labelled pre/regular/post."
)
intraday_30m = bars_asset("intraday_30m", Interval.MINUTE_30, "30-minute bars of the session.")
