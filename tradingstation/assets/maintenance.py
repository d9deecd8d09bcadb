"""The daily maintenance session (20:00 ET): lake integrity, gap report, retention, health.

Recorded as the materialization metadata of ``lake_maintenance`` for the session, so the UI keeps
a day-by-day history of the lake's health. Nothing is written to the lake but the deletions the
retention policy (``TRADINGSTATION_RETENTION_*``) asks for.
"""

import dagster as dg

from tradingstation import maintenance
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
    verified = maintenance.verify(lake_store)
    gaps = maintenance.detect_gaps(lake_store, "daily_bars", calendar.sessions_before(day, GAP_WINDOW)[0], day)
    if len(context.partition_keys) == 1:
        cleaned = maintenance.cleanup(lake_store, maintenance.RetentionPolicy.from_env(), today=day)
    else:  # a backfill range: retention as of its last key would delete the range it just wrote
        cleaned = maintenance.cleanup(lake_store, maintenance.RetentionPolicy.from_env(), today=day, dry_run=True)
    # Freshness judges the wall clock, not this session: it belongs to the sensor and the UI.
    report = health.health(lake_store, day, ["storage", "data", "signals", "storage-use"])
    for line in [verified.summary(), cleaned.summary(), report.summary()]:
        context.log.info(line)
    healthy = verified.ok and report.ok and gaps.is_empty()
    return dg.MaterializeResult(
        metadata={
            "healthy": dg.MetadataValue.bool(healthy),
            "verify": dg.MetadataValue.md(f"```\n{verified.summary()}\n```"),
            "gaps": dg.MetadataValue.int(gaps.height),
            "gap_symbols": dg.MetadataValue.json(sorted(set(gaps["symbol"].to_list()))[:50]),
            "retention_dry_run": dg.MetadataValue.bool(cleaned.dry_run),
            "retention_deleted_partitions": dg.MetadataValue.int(len(cleaned.deleted)),
            "retention_deleted_bytes": dg.MetadataValue.int(cleaned.bytes),
            "health": dg.MetadataValue.md(f"```\n{report.summary()}\n```"),
            **{f"health_{c.name}": dg.MetadataValue.bool(c.ok) for c in report.checks},
        }
    )
