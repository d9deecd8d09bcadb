"""What the lake deletes, the Dagster catalog forgets: retention reported to the instance.

Retention (:func:`tradingstation.maintenance.cleanup`) deletes ``date=`` partitions from the lake;
untold, the catalog goes on showing them materialized. :func:`forget_deleted` tells the instance,
called by the ``lake_maintenance`` asset and by ``tradingstation lake cleanup``:

- **What** is forgotten: of every dataset that is an asset the instance knows (a quarantine dataset
  is none), the partitions the cleanup deleted and, after a cleanup without errors, any others the
  catalog still shows materialized before the dataset's oldest kept session (deleted before this
  was reported, or by hand). Only partitions the catalog shows materialized are named.
- **How**: ``DagsterInstance.wipe_asset_partitions``, Dagster's own partition wipe. The open-source
  SQL event-log storages (SQLite, PostgreSQL) raise ``NotImplementedError`` there: partition wipes
  are a Dagster+ feature (dagster-io/dagster#21976, #14749). On those the same effect is made in the
  storage's asset index (:func:`_wipe_in_sql_index`): the index rows of those partitions' events
  (materializations, planned ones, failures, observations) lose their partition key, the asset's
  partition-status cache is cleared, and the ``ASSET_WIPED`` event Dagster's own wipe logs is
  logged. The event records themselves stay, so the run that wrote a partition still shows it;
  the partition status, ``get_materialized_partitions`` and partition filters no longer count it.
  A later materialization of the partition counts again, as after any wipe.
- A **dry run** names what would be forgotten and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg

from tradingstation.core import secrets
from tradingstation.maintenance import CleanupReport

WIPE_CHUNK = 500  # partition keys per UPDATE: under SQLite's bound-parameter limit


@dataclass
class Forgotten:
    """Partitions the instance was told to forget (dry run: would be told), by asset."""

    dry_run: bool
    partitions: dict[str, list[str]] = field(default_factory=dict)  # asset -> partition keys, sorted
    method: str = ""  # "wipe_asset_partitions" or "sql index": what did it, for the record
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def count(self) -> int:
        return sum(len(keys) for keys in self.partitions.values())

    def by_asset(self) -> dict[str, dict[str, int | str]]:
        return {
            name: {"partitions": len(keys), "first": keys[0], "last": keys[-1]}
            for name, keys in sorted(self.partitions.items())
        }

    def summary(self) -> str:
        verb = "would forget" if self.dry_run else "forgot"
        how = f" ({self.method})" if self.method and not self.dry_run else ""
        lines = [f"Dagster catalog: {verb} {self.count} materialized partition(s){how}"]
        lines += [f"  {name:<30} {v['partitions']:>5}  {v['first']}..{v['last']}" for name, v in self.by_asset().items()]
        lines += [f"ERROR {e}" for e in self.errors]
        return "\n".join(lines)


def stale_partitions(instance: dg.DagsterInstance, report: CleanupReport) -> dict[str, list[str]]:
    """By asset, the partitions the catalog shows materialized that this cleanup deleted (or would),
    plus, when it had no error, those before the dataset's oldest kept session."""
    deleted: dict[str, set[str]] = {}
    for d in report.deleted:
        deleted.setdefault(d.dataset, set()).add(d.date.isoformat())
    names = sorted(set(deleted) | {n for n, start in report.keep_from.items() if start is not None})
    known = {r.asset_entry.asset_key for r in instance.get_asset_records([dg.AssetKey(n) for n in names])}
    stale: dict[str, list[str]] = {}
    for name in names:
        if dg.AssetKey(name) not in known:
            continue
        shown = instance.get_materialized_partitions(dg.AssetKey(name))
        start = report.keep_from.get(name)
        before = {k for k in shown if start is not None and k < start.isoformat()} if report.ok else set()
        keys = sorted((deleted.get(name, set()) & shown) | before)
        if keys:
            stale[name] = keys
    return stale


def forget_deleted(instance: dg.DagsterInstance, report: CleanupReport) -> Forgotten:
    """Tell ``instance`` to forget the partitions ``report`` deleted (a dry run: name them only).

    Never raises for the instance's sake: the lake's deletions stand either way, so a catalog that
    cannot be read or wiped is reported in ``errors`` (the command exits non-zero, the asset logs
    an error and records it in its metadata).
    """
    result = Forgotten(dry_run=report.dry_run)
    try:
        result.partitions = stale_partitions(instance, report)
    except Exception as exc:  # e.g. the instance's database unreachable
        result.errors.append(f"reading the Dagster catalog: {secrets.redact(str(exc))}")
        return result
    if report.dry_run:
        return result
    for name, keys in result.partitions.items():
        try:
            result.method = wipe_partitions(instance, dg.AssetKey(name), keys)
        except Exception as exc:
            result.errors.append(f"{name}: the catalog still shows {len(keys)} deleted partition(s): {secrets.redact(str(exc))}")
    return result


def wipe_partitions(instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_keys: Sequence[str]) -> str:
    """Wipe ``partition_keys`` of ``asset_key`` from the instance; returns how it was done."""
    if not partition_keys:
        return ""
    try:
        instance.wipe_asset_partitions(asset_key, list(partition_keys))
        return "wipe_asset_partitions"
    except NotImplementedError:  # the OSS storages: see the module docstring
        pass
    _wipe_in_sql_index(instance, asset_key, partition_keys)
    return "sql index"


def _wipe_in_sql_index(instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_keys: Sequence[str]) -> None:
    """The open-source stand-in for a partition wipe: see the module docstring."""
    # Dagster internals, imported here: the one place that reaches into the event-log storage.
    from dagster._core.events import AssetWipedData, DagsterEvent, DagsterEventType
    from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

    storage = instance.event_log_storage
    if not isinstance(storage, SqlEventLogStorage):
        raise NotImplementedError(f"{type(storage).__name__} supports no partition wipe")
    table = SqlEventLogStorageTable
    with storage.index_transaction() as conn:
        for chunk in _chunks(partition_keys, WIPE_CHUNK):
            conn.execute(
                table.update()
                .where(table.c.asset_key == asset_key.to_string())
                .where(table.c.partition.in_(chunk))
                .values(partition=None)
            )
    storage.wipe_asset_cached_status(asset_key)  # rebuilt from the index on its next read
    instance.report_dagster_event(  # as DagsterInstance.wipe_asset_partitions records its wipes
        DagsterEvent(
            event_type_value=DagsterEventType.ASSET_WIPED.value,
            event_specific_data=AssetWipedData(asset_key=asset_key, partition_keys=list(partition_keys)),
            job_name=RUNLESS_JOB_NAME,
        ),
        run_id=RUNLESS_RUN_ID,
    )


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def forgotten_metadata(forgotten: Forgotten) -> Mapping[str, dg.MetadataValue]:
    """What the catalog forgot (a dry run: would forget), for the maintenance run's metadata."""
    return {
        "catalog_forgotten_partitions": dg.MetadataValue.int(0 if forgotten.dry_run else forgotten.count),
        "catalog_forgotten": dg.MetadataValue.json(forgotten.by_asset()),
        "catalog_errors": dg.MetadataValue.json(forgotten.errors),
    }
