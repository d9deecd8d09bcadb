"""Materialization metadata shared by the asset families: what a person needs to act."""

from __future__ import annotations

import dagster as dg
import polars as pl

PREVIEW_ROWS = 10


def markdown_table(df: pl.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A small Markdown table of the first rows, for the Dagster UI."""
    head = df.head(rows)
    if not head.columns:
        return "_(no columns)_"
    cells = [[_cell(v) for v in row] for row in head.iter_rows()]
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(r) + " |" for r in cells]
    if df.height > rows:
        lines.append(f"\n_{rows} of {df.height:,} rows_")
    return "\n".join(lines) if head.height else "_(no rows)_"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


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
