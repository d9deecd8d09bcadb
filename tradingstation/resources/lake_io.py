"""The lake as Dagster resources: ``LakeResource`` for direct access, ``LakeIOManager`` for assets.

Dagster's UPath-based IO managers refuse an output that spans several partitions, which is
exactly what a single-run backfill hands over; this IO manager splits the frame by its ``date``
column and writes one lake key per session itself (an empty file for a session with no rows).
Inputs load one partition or a whole window of them (say the 200 sessions before D) in one read.

Each partition's materialization carries that partition's own figures: ``dagster/row_count``,
``lake_key``, ``lake_bytes`` and ``symbols`` of its file. Dagster logs one materialization per key of
a range run and copies the output's metadata onto every one of them (``add_output_metadata`` has no
partition argument: dagster-io/dagster#18123), so the figures go in as partition-scoped asset
metadata (``add_asset_metadata(..., partition_key=key)``), which Dagster merges over the output's
for that key only. Totals of a range run are named as such (``range_row_count``,
``range_partitions``, ``range_bytes``, ``range_first_key``, ``range_last_key``): no figure of a range
is ever labelled as one partition's. Assets that write beside their output (the bar quarantine) use
:func:`written_figures` and :func:`record_partitions` the same way.

Names, across the Dagster layer (assets, checks, sensors, resources): ``lake`` is always the
``LakeResource`` — Dagster binds a resource to the parameter named like its key, ``"lake"``, so the
parameter cannot be renamed — and the :class:`~tradingstation.lake.Lake` it opens, the object that
reads and writes the partitions, is ``lake_store``::

    def my_asset(context, lake: LakeResource):
        lake_store = lake.get()
        lake_store.read("daily_bars", sessions=...)

A helper of this layer that takes the opened lake names its parameter ``lake_store: Lake`` too.
Below this layer (quality, maintenance, ops, the lake package) there are no resources, and a
``Lake`` is simply ``lake``.
"""


from collections.abc import Mapping, Sequence
from typing import Protocol

import dagster as dg
import polars as pl

from tradingstation.core import calendar
from tradingstation.lake import DEFAULT_ROOT, Lake, WriteInfo
from tradingstation.quality import replacement
from tradingstation.quality.bar_contract import MAX_EXCLUDED_SHARE, exclude_broken_bars
from tradingstation.resources.windows import WINDOW_KEY, window_keys


class LakeResource(dg.ConfigurableResource):
    """Where the lake lives. S3 credentials come only from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."""

    root: str = DEFAULT_ROOT
    endpoint_url: str | None = None
    region: str | None = None

    def get(self) -> Lake:
        """The lake this resource points at (call it ``lake_store``: see the module doc)."""
        return Lake(self.root, self.endpoint_url, self.region)


class LakeIOManager(dg.ConfigurableIOManager):
    """Stores each asset as the lake dataset of the same name, one Parquet file per session."""

    lake: LakeResource

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | None) -> None:
        if obj is None:  # the asset wrote its partitions itself
            return
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(f"{context.asset_key.to_user_string()} must return a polars DataFrame, got {type(obj)}")
        if not context.has_asset_partitions:
            raise ValueError(f"{context.asset_key.to_user_string()} is not partitioned by session")
        dataset = context.asset_key.path[-1]
        lake_store = self.lake.get()
        refuse_sharp_shrink(lake_store, dataset, obj, context.asset_partition_keys, context.step_context.run_tags)
        infos = lake_store.write_sessions(dataset, obj, context.asset_partition_keys)
        figures = written_figures(infos)
        if "symbol" in obj.columns and "date" in obj.columns:  # one group_by for every partition of the range
            per_day = obj.group_by("date").agg(pl.col("symbol").n_unique()).iter_rows()
            symbols = {day.isoformat(): count for day, count in per_day}
            for key, meta in figures.items():
                meta["symbols"] = dg.MetadataValue.int(symbols.get(key, 0))
        record_partitions(context.step_context, figures, context.asset_key)
        if len(infos) > 1:
            context.add_output_metadata(range_figures(infos))

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        dataset = context.asset_key.path[-1]
        lake_store = self.lake.get()
        columns = (context.definition_metadata or {}).get("columns")
        if not context.has_asset_partitions:
            return lake_store.read(dataset, columns=columns)
        # An input's history window (windows.window_in) is loaded here; the graph's edge stays same-session.
        keys, optional = window_keys(context.asset_partition_keys, (context.definition_metadata or {}).get(WINDOW_KEY))
        stored = {d.isoformat() for d in lake_store.sessions(dataset)}
        present = [k for k in keys if k in stored]
        if not present:
            raise FileNotFoundError(
                f"{dataset} has none of the {len(keys)} session(s) {keys[0]}..{keys[-1]} this step needs: "
                f"materialize {dataset} for them first"
            )
        absent = sorted(set(keys) - set(present))
        if absent:  # a window's optional sessions (windows.window_in) are no fault: an info line
            log = context.log.warning if set(absent) - optional else context.log.info
            log(f"{dataset}: {len(absent)} of {len(keys)} sessions missing, e.g. {absent[:5]}")
        return screened(context, dataset, lake_store.read(dataset, sessions=present, columns=columns))


BAR_DATASETS = ("daily_bars", "intraday_1m", "intraday_30m")


def screened(context: dg.InputContext, dataset: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Bars as downstream assets may use them: rows that break the contract (a file edited or
    damaged after it was written) are excluded and reported; above ``MAX_EXCLUDED_SHARE`` the step
    fails. Other datasets, and loads of a few columns, pass through."""
    if dataset not in BAR_DATASETS or not {"symbol", "ts", "open", "high", "low", "close", "volume"} <= set(frame.columns):
        return frame
    good, findings = exclude_broken_bars(frame)
    if findings.passed:
        return frame
    excluded = frame.height - good.height
    text = f"{dataset} as loaded: {excluded:,} row(s) excluded. {findings.description}"
    if excluded > MAX_EXCLUDED_SHARE * max(frame.height, 1):
        raise dg.Failure(description=f"{text}; over {MAX_EXCLUDED_SHARE:.0%} of the rows: not screened", allow_retries=False)
    context.log.warning(text)
    context.add_input_metadata({"excluded_broken_rows": excluded, "excluded_symbols": findings.offenders})
    return good


def refuse_sharp_shrink(lake_store: Lake, dataset: str, frame: pl.DataFrame, keys: list[str], tags: Mapping[str, str]) -> None:
    """Fail (``dg.Failure``, nothing written) when ``frame`` would replace stored partitions of a
    guarded dataset with under half their symbols (:mod:`tradingstation.quality.replacement`),
    unless the run carries the override tag."""
    if dataset not in replacement.GUARDED_DATASETS or replacement.override_requested(dict(tags)):
        return
    sessions = [calendar.session(k) for k in keys]
    stored = sorted(set(lake_store.sessions(dataset)).intersection(sessions))
    if not stored:
        return
    before = replacement.symbol_counts(lake_store.read(dataset, sessions=stored, columns=["symbol"]))
    after = replacement.symbol_counts(frame.select("date", "symbol")) if "date" in frame.columns else {}
    shrinks = replacement.sharp_shrinks(before, after, stored)
    if shrinks:
        raise dg.Failure(description=replacement.shrink_message(dataset, shrinks, len(stored)), allow_retries=False)


class AcceptsAssetMetadata(Protocol):
    """An asset's execution context, or the step context an IO manager reaches (both Dagster's)."""

    def add_asset_metadata(
        self, metadata: Mapping[str, object], asset_key: dg.AssetKey | None = None, partition_key: str | None = None
    ) -> None: ...


def written_figures(
    infos: Sequence[WriteInfo], *, rows: str = "dagster/row_count", key: str = "lake_key", size: str = "lake_bytes"
) -> dict[str, dict[str, dg.MetadataValue]]:
    """Each written partition's own figures, by partition key: its rows, its lake key, its bytes.

    ``rows``/``key``/``size`` name them; another dataset written beside the output names its own
    (the quarantine: ``rows="quarantined_rows", key="quarantine_key", size="quarantine_bytes"``).
    """
    return {
        i.date.isoformat(): {
            rows: dg.MetadataValue.int(i.rows),
            key: dg.MetadataValue.path(i.uri),
            size: dg.MetadataValue.int(i.bytes),
        }
        for i in infos
    }


def record_partitions(
    context: AcceptsAssetMetadata,
    per_partition: Mapping[str, Mapping[str, dg.MetadataValue]],
    asset_key: dg.AssetKey | None = None,
) -> None:
    """Put each partition's figures on that partition's materialization, and on no other.

    Dagster merges partition-scoped asset metadata over the output's metadata for that key, so a
    name the output also carries (say ``dagster/row_count``) shows the partition's own value.
    """
    for partition_key, meta in per_partition.items():
        context.add_asset_metadata(dict(meta), asset_key=asset_key, partition_key=partition_key)


def range_figures(infos: Sequence[WriteInfo], prefix: str = "range") -> dict[str, dg.MetadataValue]:
    """Totals of a range of written partitions, every name saying it is the range's."""
    if not infos:
        return {}
    meta: dict[str, dg.MetadataValue] = {
        f"{prefix}_partitions": dg.MetadataValue.int(len(infos)),
        f"{prefix}_row_count": dg.MetadataValue.int(sum(i.rows for i in infos)),
        f"{prefix}_bytes": dg.MetadataValue.int(sum(i.bytes for i in infos)),
        f"{prefix}_first_key": dg.MetadataValue.path(infos[0].uri),
        f"{prefix}_last_key": dg.MetadataValue.path(infos[-1].uri),
    }
    empty = [i.date.isoformat() for i in infos if i.rows == 0]
    if empty:
        meta[f"{prefix}_empty_partitions"] = dg.MetadataValue.json(empty[:50])
    return meta
