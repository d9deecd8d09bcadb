"""Materialization metadata shared by the asset families: what a person needs to act.

A range run (a single-run backfill) logs one materialization per partition, each with the whole
output's metadata. A figure of the whole range must say so: :func:`label_range` names every figure
of a range ``range_<name>`` (``dagster/row_count`` becomes ``range_row_count``) and adds
``range_partitions``; one partition's metadata passes unchanged. Each partition's own figures
(rows, lake key, bytes, symbols) come from the IO manager as partition-scoped metadata
(:mod:`tradingstation.resources.lake_io`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg
import polars as pl

from tradingstation.ops.tables import markdown_table


def label_range(meta: Mapping[str, dg.MetadataValue], partition_keys: Sequence[str]) -> dict[str, dg.MetadataValue]:
    """``meta`` as it may be shown on every partition of a run over ``partition_keys``.

    One partition: unchanged. A range: each figure renamed ``range_<name>`` (``dagster/row_count``
    to ``range_row_count``; other ``dagster/`` entries, which describe the asset rather than count
    it, stay), plus ``range_partitions``.
    """
    if len(partition_keys) <= 1:
        return dict(meta)
    labelled: dict[str, dg.MetadataValue] = {"range_partitions": dg.MetadataValue.int(len(partition_keys))}
    for name, value in meta.items():
        if name == "dagster/row_count":
            labelled["range_row_count"] = value
        elif name.startswith(("dagster/", "range_")):
            labelled[name] = value
        else:
            labelled[f"range_{name}"] = value
    return labelled


def bars_metadata(
    bars: pl.DataFrame,
    *,
    requested: int,
    failures: dict[str, str],
    quarantine: pl.DataFrame,
    notes: list[str],
    partition_keys: Sequence[str] = (),
) -> dict[str, dg.MetadataValue]:
    """Rows, symbols, failures and why, quarantined rows by reason, the time range, a preview.

    Given the run's ``partition_keys``, a range's figures are labelled as the range's (:func:`label_range`).
    """
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
    return label_range(meta, partition_keys)
