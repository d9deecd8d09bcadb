"""The lake as Dagster resources: ``LakeResource`` for direct access, ``LakeIOManager`` for assets.

Dagster's UPath-based IO managers refuse an output that spans several partitions, which is
exactly what a single-run backfill hands over; this IO manager splits the frame by its ``date``
column and writes one lake key per session itself (an empty file for a session with no rows).
Inputs load one partition or a whole window of them (say the 200 sessions before D) in one read.

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


from collections.abc import Mapping

import dagster as dg
import polars as pl

from tradingstation.core import calendar
from tradingstation.lake import DEFAULT_ROOT, Lake, WriteInfo
from tradingstation.quality import replacement
from tradingstation.quality.bars import MAX_EXCLUDED_SHARE, exclude_broken_bars


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
        context.add_output_metadata(write_metadata(infos))

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        dataset = context.asset_key.path[-1]
        lake_store = self.lake.get()
        columns = (context.definition_metadata or {}).get("columns")
        if not context.has_asset_partitions:
            return lake_store.read(dataset, columns=columns)
        keys = context.asset_partition_keys
        stored = {d.isoformat() for d in lake_store.sessions(dataset)}
        present = [k for k in keys if k in stored]
        if not present:
            raise FileNotFoundError(
                f"{dataset} has none of the {len(keys)} session(s) {keys[0]}..{keys[-1]} this step needs: "
                f"materialize {dataset} for them first"
            )
        if len(present) < len(keys):
            absent = sorted(set(keys) - set(present))
            context.log.warning(f"{dataset}: {len(absent)} of {len(keys)} sessions missing, e.g. {absent[:5]}")
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


def write_metadata(infos: list[WriteInfo]) -> dict[str, dg.MetadataValue]:
    """Metadata a person can act on for what was written: where, how much."""
    if not infos:
        return {}
    meta: dict[str, dg.MetadataValue] = {
        "lake_partitions_written": dg.MetadataValue.int(len(infos)),
        "lake_bytes": dg.MetadataValue.int(sum(i.bytes for i in infos)),
        "lake_key": dg.MetadataValue.path(infos[-1].uri),
    }
    if len(infos) > 1:
        meta["lake_first_key"] = dg.MetadataValue.path(infos[0].uri)
    empty = [i.date.isoformat() for i in infos if i.rows == 0]
    if empty:
        meta["empty_partitions"] = dg.MetadataValue.json(empty[:50])
    return meta
