"""The symbol universe of each session: a candidate list filtered for price and liquidity.

Liquidity is judged on the sessions strictly before D (no look-ahead: the pre-market run of D
decides what to screen): the last close must be at least ``min_price`` and the average dollar
volume over ``lookback_sessions`` at least ``min_avg_dollar_volume``. Excluded symbols stay in
the dataset with the reason, so a missing name can always be explained.

Candidate lists: the index lists of ``pytickersymbols`` (``sp500``, ``nasdaq100``, ``dow``, ``sp600``:
:mod:`tradingstation.core.universe_lists`), a symbol file, explicit symbols, or the source's own.
Every row carries the symbol's GICS ``sector``, ``industry`` and ``exchange`` where the package
knows the symbol (whatever the list), else null (synthetic or unlisted symbols).
"""


import datetime as dt
import os

import dagster as dg
import polars as pl
from pydantic import Field

from tradingstation.core import calendar, schemas, universe_lists
from tradingstation.lake import Lake
from tradingstation.ops.tables import markdown_table
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.resources.sources import Interval, MarketDataSource

INFO_COLUMNS = ("sector", "industry", "exchange")  # from pytickersymbols, null where it does not know a symbol
ENV_UNIVERSE = "TRADINGSTATION_UNIVERSE"  # comma-separated symbols, or a symbol file, for list 'auto'


class UniverseConfig(dg.Config):
    list_name: str = Field(
        "auto",
        description="'auto' ($TRADINGSTATION_UNIVERSE when set: symbols or a symbol file; else the source's "
        "own symbols when it has a fixed set; else 'sp500'), an index list from the pytickersymbols package "
        "('sp500', 'nasdaq100', 'dow', 'sp600'), 'file' (one symbol per line at `path`), or 'explicit' (`symbols`)",
    )
    path: str | None = Field(None, description="symbol file for list_name='file'")
    symbols: list[str] = Field(default_factory=list, description="symbols for list_name='explicit'")
    min_price: float = Field(5.0, description="minimum last close, in dollars")
    min_avg_dollar_volume: float = Field(10_000_000.0, description="minimum average daily dollar volume")
    lookback_sessions: int = Field(20, ge=1, le=250, description="sessions averaged for dollar volume")
    always_include: list[str] = Field(
        default_factory=lambda: ["SPY"],
        description="symbols added to every list (SPY: the dashboard's market regime); still filtered",
    )


def candidates(config: UniverseConfig, source: MarketDataSource) -> tuple[list[str], str, dt.date | None]:
    """The candidate symbols, the list's name, and the date the list was taken (when known: an index
    list is as of its package version, named in the asset's metadata, not a date)."""
    name = config.list_name
    if name == "auto" and (configured := os.environ.get(ENV_UNIVERSE, "").strip()):
        if os.path.isfile(configured):
            return universe_lists.load_symbol_file(configured), f"file:{configured}", None
        return schemas.normalize_symbols(configured), f"env:{ENV_UNIVERSE}", None
    if name == "auto":
        known = source.known_symbols()
        if known is not None:
            return schemas.normalize_symbols(known), f"source:{source.source_name}", None
        name = "sp500"
    if name in universe_lists.INDEX_LISTS:
        return universe_lists.index_members(name)["symbol"].to_list(), name, None
    if name == "file":
        if not config.path:
            raise ValueError("universe list_name='file' needs `path`")
        return universe_lists.load_symbol_file(config.path), f"file:{config.path}", None
    if name == "explicit":
        if not config.symbols:
            raise ValueError("universe list_name='explicit' needs `symbols`")
        return schemas.normalize_symbols(config.symbols), "explicit", None
    lists = ", ".join(["auto", *universe_lists.INDEX_LISTS, "file", "explicit"])
    raise ValueError(f"unknown universe list {config.list_name!r}: use {lists}")


def liquidity_universe(
    symbols: list[str],
    daily: pl.DataFrame,
    sessions: list[dt.date],
    *,
    min_price: float,
    min_avg_dollar_volume: float,
    lookback_sessions: int,
    failures: dict[str, str] | None = None,
) -> pl.DataFrame:
    """One row per (session, candidate): included or not, and why. Vectorized over symbols.

    ``daily`` holds validated daily bars (with ``date``) covering the lookback before each session.
    """
    failures = failures or {}
    stats = (
        daily.sort("symbol", "date")
        .with_columns(
            avg_dollar_volume=(pl.col("close") * pl.col("volume"))
            .rolling_mean(lookback_sessions, min_samples=1)
            .over("symbol"),
        )
        .select("symbol", pl.col("date").alias("bar_date"), pl.col("close").alias("last_close"), "avg_dollar_volume")
    )
    grid = pl.DataFrame({"date": sessions}, schema={"date": pl.Date}).with_columns(
        prev=pl.Series([calendar.previous_session(d) for d in sessions], dtype=pl.Date)
    ).join(pl.DataFrame({"symbol": symbols}, schema={"symbol": pl.String}), how="cross")
    oldest_ok = {d: calendar.sessions_before(d, lookback_sessions)[0] for d in sessions}
    grid = grid.with_columns(oldest_ok=pl.col("date").replace_strict(oldest_ok, return_dtype=pl.Date))
    joined = grid.sort("prev").join_asof(
        stats.sort("bar_date"),
        left_on="prev",
        right_on="bar_date",
        by="symbol",
        strategy="backward",
        check_sortedness=False,  # both sides are sorted on the key, hence within each symbol
    )
    failure = pl.col("symbol").replace_strict(failures, default=None, return_dtype=pl.String)
    reason = (
        pl.when(failure.is_not_null())
        .then(pl.lit("source failed: ") + failure)
        .when(pl.col("bar_date").is_null() | (pl.col("bar_date") < pl.col("oldest_ok")))
        .then(pl.lit(f"no daily bars in the {lookback_sessions} sessions before"))
        .when(pl.col("last_close") < min_price)
        .then(pl.format("last close {} below ${}", pl.col("last_close").round(2), pl.lit(min_price)))
        .when(pl.col("avg_dollar_volume") < min_avg_dollar_volume)
        .then(
            pl.format(
                "average dollar volume ${}M below ${}M",
                (pl.col("avg_dollar_volume") / 1e6).round(2),
                pl.lit(min_avg_dollar_volume / 1e6),
            )
        )
        .otherwise(pl.lit(""))
    )
    return joined.with_columns(reason=reason, included=reason == "").sort("date", "symbol")


def with_list_info(table: pl.DataFrame, symbols: list[str], list_name: str, as_of: dt.date | None) -> pl.DataFrame:
    """``liquidity_universe``'s rows as the ``universe`` dataset: the list's name and date, and each
    symbol's sector, industry and exchange from pytickersymbols (null where it does not know one)."""
    info = universe_lists.symbol_info(symbols).select("symbol", *INFO_COLUMNS)
    table = table.with_columns(list_name=pl.lit(list_name), list_as_of=pl.lit(as_of, dtype=pl.Date)).join(
        info, on="symbol", how="left", maintain_order="left"
    )
    return schemas.conform(table, schemas.UNIVERSE, what="universe").select(schemas.UNIVERSE.names())


def add_sector_columns(lake_store: Lake) -> list[dt.date]:
    """Give every stored ``universe`` partition written before it carried ``sector``, ``industry`` and
    ``exchange`` those columns (from pytickersymbols, as the asset does), rows unchanged: the point-in-time
    membership stays, and ``lake verify`` and full reads accept the partition. Returns the sessions rewritten."""
    old = [c for c in schemas.UNIVERSE.names() if c not in ("date", *INFO_COLUMNS)]
    done = []
    for day in lake_store.sessions("universe"):  # one small file per session
        try:
            lake_store.read("universe", sessions=[day], columns=list(INFO_COLUMNS))
            continue
        except pl.exceptions.ColumnNotFoundError:
            stored = lake_store.read("universe", sessions=[day], columns=old)
        info = universe_lists.symbol_info(stored["symbol"].to_list()).select("symbol", *INFO_COLUMNS)
        lake_store.write("universe", day, stored.join(info, on="symbol", how="left", maintain_order="left"))
        done.append(day)
    return done


@dg.asset(
    partitions_def=SESSION_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="market_data",
    kinds={"polars", "parquet"},
    description="Every candidate symbol of the session, included or not, with the reason when excluded.\n\n"
    "The premarket session; liquidity (last close, 20-session dollar volume) judged on the sessions before D.",
)
def universe(context: dg.AssetExecutionContext, config: UniverseConfig, source: MarketDataSource) -> dg.Output:
    sessions = [calendar.session(k) for k in context.partition_keys]
    symbols, list_name, as_of = candidates(config, source)
    symbols = list(dict.fromkeys([*symbols, *schemas.normalize_symbols(config.always_include)]))
    start = calendar.sessions_before(sessions[0], config.lookback_sessions)[0]
    end = calendar.previous_session(sessions[-1])
    fetched = source.fetch(symbols, Interval.DAY, start, end)
    daily = schemas.validate_bars(fetched.bars, intraday=False).bars
    table = liquidity_universe(
        symbols,
        daily,
        sessions,
        min_price=config.min_price,
        min_avg_dollar_volume=config.min_avg_dollar_volume,
        lookback_sessions=config.lookback_sessions,
        failures=fetched.failures,
    )
    table = with_list_info(table, symbols, list_name, as_of)
    included = table.filter("included")
    excluded = table.filter(~pl.col("included")).group_by("reason").len().sort("len", descending=True)
    return dg.Output(
        table,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(table.height),
            "list": dg.MetadataValue.text(list_name + (f" (as of {as_of})" if as_of else "")
                                          + (f" ({universe_lists.list_source()})" if list_name in universe_lists.INDEX_LISTS
                                             else "")),
            "sectors": dg.MetadataValue.json(  # included symbols per sector, of the last session
                dict(included.filter(pl.col("date") == sessions[-1]).group_by(pl.col("sector").fill_null("unknown"))
                     .len().sort("sector").iter_rows())
            ),
            "candidates": dg.MetadataValue.int(len(symbols)),
            "included_per_session": dg.MetadataValue.int(included.height // max(len(sessions), 1)),
            "excluded_reasons": dg.MetadataValue.md(markdown_table(excluded, 20)),
            "failed_symbols": dg.MetadataValue.json(dict(sorted(fetched.failures.items())[:200])),
            "preview": dg.MetadataValue.md(markdown_table(included)),
        },
    )
