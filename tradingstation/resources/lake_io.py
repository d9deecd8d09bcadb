"""The lake as Dagster resources: ``LakeResource`` for direct access, ``LakeIOManager`` for assets.

Dagster's UPath-based IO managers refuse an output that spans several partitions, which is
exactly what a single-run backfill hands over; this IO manager splits the frame by its ``date``
column and writes one lake key per session itself (an empty file for a session with no rows).
Inputs load one partition or a whole window of them (say the 200 sessions before D) in one read.
"""


import dagster as dg
import polars as pl

from tradingstation.lake import DEFAULT_ROOT, Lake, WriteInfo


class LakeResource(dg.ConfigurableResource):
    """Where the lake lives. S3 credentials come only from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."""

    root: str = DEFAULT_ROOT
    endpoint_url: str | None = None
    region: str | None = None

    def get(self) -> Lake:
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
        infos = self.lake.get().write_sessions(dataset, obj, context.asset_partition_keys)
        context.add_output_metadata(write_metadata(infos))

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        dataset = context.asset_key.path[-1]
        lake = self.lake.get()
        columns = (context.definition_metadata or {}).get("columns")
        if not context.has_asset_partitions:
            return lake.read(dataset, columns=columns)
        keys = context.asset_partition_keys
        stored = {d.isoformat() for d in lake.sessions(dataset)}
        present = [k for k in keys if k in stored]
        if not present:
            raise FileNotFoundError(
                f"{dataset} has none of the {len(keys)} session(s) {keys[0]}..{keys[-1]} this step needs: "
                f"materialize {dataset} for them first"
            )
        if len(present) < len(keys):
            absent = sorted(set(keys) - set(present))
            context.log.warning(f"{dataset}: {len(absent)} of {len(keys)} sessions missing, e.g. {absent[:5]}")
        return lake.read(dataset, sessions=present, columns=columns)


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
