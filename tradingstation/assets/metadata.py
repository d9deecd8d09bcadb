"""Materialization metadata shared by the asset families: what a person needs to act."""

from __future__ import annotations

import dagster as dg
import polars as pl

from tradingstation.ops.tables import markdown_table


def bars_metadata(
    bars: pl.DataFrame,
    *,
    requested: int,
    failures: dict[str, str],
    quarantine: pl.DataFrame,
    notes: list[str],
) -> dict[str, dg.MetadataValue]:
    """Rows, symbols, failures and why, quarantined rows by reason, the time range, a preview."""
    meta: dict[str, dg.MetadataValue] = {
        "dagster/row_count": dg.MetadataValue.int(bars.height),
        "symbols_requested": dg.MetadataValue.int(requested),
        "symbols": dg.MetadataValue.int(bars["symbol"].n_unique() if bars.height else 0),
        "failed_symbols": dg.MetadataValue.int(len(failures)),
        "quarantined_rows": dg.MetadataValue.int(quarantine.height),
        "preview": dg.MetadataValue.md(markdown_table(bars)),
    }
    if failures:
        meta["failures"] = dg.MetadataValue.json(dict(sorted(failures.items())[:200]))
    if quarantine.height:
        by_reason = quarantine.group_by("reason").len().sort("len", descending=True)
        meta["quarantine_reasons"] = dg.MetadataValue.json(dict(by_reason.iter_rows()))
    if bars.height:
        meta["first_ts"] = dg.MetadataValue.timestamp(bars["ts"].min())  # type: ignore[arg-type]
        meta["last_ts"] = dg.MetadataValue.timestamp(bars["ts"].max())  # type: ignore[arg-type]
    if notes:
        meta["source_notes"] = dg.MetadataValue.json(notes)
    return meta
