"""The symbol universe of each session: a candidate list filtered for price and liquidity.

Liquidity is judged on the sessions strictly before D (no look-ahead: the pre-market run of D
decides what to screen): the last close must be at least ``min_price`` and the average dollar
volume over ``lookback_sessions`` at least ``min_avg_dollar_volume``. Excluded symbols stay in
the dataset with the reason, so a missing name can always be explained.
"""


import datetime as dt
import os

import dagster as dg
import polars as pl
from pydantic import Field

from tradingstation.core import calendar, schemas, universe_lists
from tradingstation.ops.tables import markdown_table
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.resources.sources import Interval, MarketDataSource

ENV_UNIVERSE = "TRADINGSTATION_UNIVERSE"  # comma-separated symbols, or a symbol file, for list 'auto'


class UniverseConfig(dg.Config):
    list_name: str = Field(
        "auto",
        description="'auto' ($TRADINGSTATION_UNIVERSE when set: symbols or a symbol file; else the source's "
        "own symbols when it has a fixed set; else 'sp500'), "
        "'sp500' (the bundled list), 'file' (one symbol per line at `path`), or 'explicit' (`symbols`)",
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
    """The candidate symbols, the list's name, and the date the list was taken (when known)."""
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
    if name == "sp500":
        symbols, as_of = universe_lists.load_sp500()
        return symbols, "sp500", as_of
    if name == "file":
        if not config.path:
            raise ValueError("universe list_name='file' needs `path`")
        return universe_lists.load_symbol_file(config.path), f"file:{config.path}", None
    if name == "explicit":
        if not config.symbols:
            raise ValueError("universe list_name='explicit' needs `symbols`")
        return schemas.normalize_symbols(config.symbols), "explicit", None
    raise ValueError(f"unknown universe list {config.list_name!r}: use auto, sp500, file or explicit")


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


@dg.asset(
    partitions_def=SESSION_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="market_data",
    kinds={"polars", "parquet"},
    description=__doc__,
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
    ).with_columns(list_name=pl.lit(list_name), list_as_of=pl.lit(as_of, dtype=pl.Date))
    table = schemas.conform(table, schemas.UNIVERSE, what="universe").select(schemas.UNIVERSE.names())
    included = table.filter("included")
    excluded = table.filter(~pl.col("included")).group_by("reason").len().sort("len", descending=True)
    return dg.Output(
        table,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(table.height),
            "list": dg.MetadataValue.text(list_name + (f" (as of {as_of})" if as_of else "")),
            "candidates": dg.MetadataValue.int(len(symbols)),
            "included_per_session": dg.MetadataValue.int(included.height // max(len(sessions), 1)),
            "excluded_reasons": dg.MetadataValue.md(markdown_table(excluded, 20)),
            "failed_symbols": dg.MetadataValue.json(dict(sorted(fetched.failures.items())[:200])),
            "preview": dg.MetadataValue.md(markdown_table(included)),
        },
    )
