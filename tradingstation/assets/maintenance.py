"""The daily maintenance session (20:00 ET): retention, lake integrity, gap report, health.

Retention runs first (``TRADINGSTATION_RETENTION_*``; it also removes the leftovers of writes
interrupted over an hour ago), then ``lake verify`` at its default depth judges what is left: every
file read, stray files, leftovers, missing sessions; health's storage check reuses that report.
Recorded as the materialization metadata of ``lake_maintenance`` for the session, so the UI keeps
a day-by-day history of the lake's health. Nothing is written to the lake but the deletions the
retention policy asks for. What retention deleted, the Dagster catalog is told to forget
(:mod:`tradingstation.assets.deleted_partitions`), so it never shows a deleted partition as materialized; the
metadata says, per dataset, how many partitions went and their first and last session.
"""

import dagster as dg

from tradingstation import maintenance
from tradingstation.assets.deleted_partitions import forget_deleted, forgotten_metadata
from tradingstation.core import calendar
from tradingstation.ops import health
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.resources.lake_io import LakeResource

GAP_WINDOW = 20  # sessions of daily bars searched for per-symbol gaps


@dg.asset(
    partitions_def=SESSION_PARTITIONS,
    group_name="maintenance",
    deps=["master_dashboard"],
    backfill_policy=dg.BackfillPolicy.single_run(),  # like every asset of session_job  # runs after the day is complete; lineage shows it judges everything
    kinds={"parquet"},
    description=__doc__,
)
def lake_maintenance(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    lake_store = lake.get()
    day = calendar.session(context.partition_keys[-1])  # a range is judged as of its last session
    if len(context.partition_keys) == 1:
        cleaned = maintenance.cleanup(lake_store, maintenance.RetentionPolicy.from_env(), today=day)
    else:  # a backfill range: retention as of its last key would delete the range it just wrote
        cleaned = maintenance.cleanup(lake_store, maintenance.RetentionPolicy.from_env(), today=day, dry_run=True)
    forgotten = forget_deleted(context.instance, cleaned)  # what the lake deleted, the catalog forgets
    (context.log.info if forgotten.ok else context.log.error)(forgotten.summary())
    verified = maintenance.verify(lake_store)
    gaps = maintenance.detect_gaps(lake_store, "daily_bars", calendar.sessions_before(day, GAP_WINDOW)[0], day)
    # Freshness judges the wall clock, not this session: it belongs to the sensor and the UI.
    report = health.health(lake_store, day, ["storage", "data", "signals", "storage-use"], verified=verified)
    for line in [verified.summary(), cleaned.summary(), report.summary()]:
        context.log.info(line)
    healthy = verified.ok and report.ok and gaps.is_empty()
    return dg.MaterializeResult(
        metadata={
            "healthy": dg.MetadataValue.bool(healthy),
            "verify": dg.MetadataValue.md(f"```\n{verified.summary()}\n```"),
            "verify_errors": dg.MetadataValue.int(len(verified.errors)),
            "gaps": dg.MetadataValue.int(gaps.height),
            "gap_symbols": dg.MetadataValue.json(sorted(set(gaps["symbol"].to_list()))[:50]),
            "retention_dry_run": dg.MetadataValue.bool(cleaned.dry_run),
            "retention_deleted_partitions": dg.MetadataValue.int(len(cleaned.deleted)),
            "retention_deleted_bytes": dg.MetadataValue.int(cleaned.bytes),
            "retention_deleted": dg.MetadataValue.json(cleaned.deleted_by_dataset()),
            "retention": dg.MetadataValue.md(f"```\n{cleaned.summary()}\n```"),
            **forgotten_metadata(forgotten),
            "leftovers_removed": dg.MetadataValue.int(0 if cleaned.dry_run else len(cleaned.leftovers)),
            "health": dg.MetadataValue.md(f"```\n{report.summary()}\n```"),
            **{f"health_{c.name}": dg.MetadataValue.bool(c.ok) for c in report.checks},
        }
    )
