"""Frames shown to a person: a small Markdown table for the Dagster UI's metadata.

Presentation for the operator, like the alerts and the health summaries, hence the ops layer: below
the Dagster layer, so the assets and the checks share it (the quality rules produce the frames,
they do not render them), and free of Dagster itself (it returns a string; the caller wraps it in
``MetadataValue.md``).
"""

from __future__ import annotations

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
