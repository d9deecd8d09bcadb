"""Sectors in the plan: each row's sector, industry and exchange, and the plan's count per sector.

``with_sectors(plan, universe)`` joins the session's ``universe`` (its ``sector``, ``industry`` and
``exchange`` columns, from pytickersymbols: :mod:`tradingstation.core.universe_lists`) onto the plan
by symbol; without a universe, or for a symbol it does not describe (synthetic symbols, an older
universe partition), the three are null. ``sector_summary(plan)`` counts the plan's long and short
rows per sector (null as ``unknown``), most rows first: a plan that is all one sector is a bet on
that sector, whatever the screeners say. ``markdown_table`` and ``html_section`` show it in the
Dagster UI and on the dashboard page.
"""

from __future__ import annotations

from html import escape

import polars as pl

INFO_COLUMNS = ("sector", "industry", "exchange")
UNKNOWN = "unknown"
SUMMARY_SCHEMA = pl.Schema({"sector": pl.String, "long": pl.Int64, "short": pl.Int64, "rows": pl.Int64})


def with_sectors(plan: pl.DataFrame, universe: pl.DataFrame | None) -> pl.DataFrame:
    """``plan`` with ``sector``, ``industry`` and ``exchange`` from ``universe`` (one row per symbol
    is used; null where the universe is missing, lacks the columns, or does not hold the symbol)."""
    plan = plan.drop([c for c in INFO_COLUMNS if c in plan.columns])
    if universe is None or "symbol" not in universe.columns:
        return plan.with_columns(pl.lit(None, pl.String).alias(c) for c in INFO_COLUMNS)
    columns = [pl.col(c).cast(pl.String) if c in universe.columns else pl.lit(None, pl.String).alias(c)
               for c in INFO_COLUMNS]  # an older universe partition has none of them
    info = universe.select(pl.col("symbol").cast(pl.String), *columns).unique(
        "symbol", keep="first", maintain_order=True
    )
    return plan.join(info, on="symbol", how="left", maintain_order="left")


def sector_summary(plan: pl.DataFrame) -> pl.DataFrame:
    """Long and short plan rows per sector, most rows first (then by name); ``unknown`` for null."""
    if plan.is_empty():
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    sector = pl.col("sector").cast(pl.String) if "sector" in plan.columns else pl.lit(None, pl.String)
    counts = plan.group_by(sector.fill_null(UNKNOWN).alias("sector")).agg(
        long=(pl.col("side") == "long").sum().cast(pl.Int64),
        short=(pl.col("side") == "short").sum().cast(pl.Int64),
    ).with_columns(rows=pl.col("long") + pl.col("short"))
    return counts.sort(["rows", "sector"], descending=[True, False]).select(SUMMARY_SCHEMA.names())


def markdown_table(summary: pl.DataFrame) -> str:
    """The summary as a Markdown table (Dagster metadata); a line saying so when the plan is empty."""
    if summary.is_empty():
        return "no plan rows"
    lines = ["| sector | long | short | rows |", "|---|---|---|---|"]
    lines += [f"| {sector} | {long} | {short} | {n} |" for sector, long, short, n in summary.iter_rows()]
    return "\n".join(lines)


def html_section(plan: pl.DataFrame) -> str:
    """A self-contained ``<section>`` with the plan's rows per sector (every text escaped)."""
    summary = sector_summary(plan)
    head = '<section class="sectors"><h2>Plan by sector</h2>'
    if summary.is_empty():
        return head + "<p>no plan rows</p></section>"
    rows = ["<table><thead><tr><th>sector</th><th>long</th><th>short</th><th>rows</th></tr></thead><tbody>"]
    for r in summary.iter_rows(named=True):
        rows.append(f"<tr><td>{escape(r['sector'])}</td><td class=\"n\">{r['long']}</td>"
                    f"<td class=\"n\">{r['short']}</td><td class=\"n\">{r['rows']}</td></tr>")
    return head + "".join(rows) + "</tbody></table></section>"
