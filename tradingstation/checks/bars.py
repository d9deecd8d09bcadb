"""Asset checks on the bar datasets, evaluated per session partition.

``ALL_CHECKS`` holds one ``@asset_check`` per (asset, check); the data comes from the lake (the
``lake`` resource), the judgement from the pure functions of ``tradingstation.quality``
(``bar_contract``, ``gaps``, ``steps``, ``coverage``).

=================  ================================  ========  ========
asset              check                             blocking  severity
=================  ================================  ========  ========
daily_bars         bar_integrity                     yes       ERROR
daily_bars         no_missing_sessions               no        WARN
daily_bars         no_price_volume_jumps             no        WARN
daily_bars         universe_coverage                 no        WARN
intraday_1m        bar_integrity                     yes       ERROR
intraday_1m        regular_session_complete          no        WARN
intraday_1m        universe_coverage                 no        WARN
intraday_30m       bar_integrity                     yes       ERROR
intraday_30m       regular_session_complete          no        WARN
intraday_30m       universe_coverage                 no        WARN
=================  ================================  ========  ========

A failed blocking check fails its step and keeps every downstream asset of the run from running
(the screeners never see broken bars).

Which sessions are checked. The checks carry ``partitions_def=SESSION_PARTITIONS`` (partitioned
asset checks, a preview feature of Dagster 1.13): every evaluation is recorded against a session,
so the UI shows the status per partition, like the asset's. The sessions are the run's partitions
(``context.partition_keys``):

- a one-session run (the daily ``session_job``, a check launched for one partition): one
  ``AssetCheckResult``; Dagster attaches the partition and the materialization it judged;
- a single-run backfill (a partition range, one step for all its sessions): Dagster 1.13 would
  record one result without a partition for the whole range, so the check instead emits one
  ``AssetCheckEvaluation`` per session (with its partition, severity and blocking flag; any failed
  blocking session fails the step) — the step reads the lake once for the whole range;
- a run without partitions (not launched by the UI for these checks): the latest stored session.
"""

import datetime as dt
import warnings
from collections.abc import Iterator

import dagster as dg

from tradingstation.core import calendar
from tradingstation.lake import Lake
from tradingstation.ops.tables import markdown_table
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.quality.findings import MAX_LISTED, Findings
from tradingstation.quality.gaps import GAP_WINDOW
from tradingstation.quality.lake_checks import Evaluate, coverage, gaps, integrity, regular_session, steps
from tradingstation.resources.lake_io import LakeResource

# --- from findings to Dagster evaluations ------------------------------------------------------


def findings_metadata(
    findings: Findings, *, session: dt.date | None = None, lake_key: str | None = None
) -> dict:
    """What a person needs to act: the counts, the offending symbols, the offending rows."""
    meta: dict[str, dg.MetadataValue] = {}
    if session is not None:
        meta["session"] = dg.MetadataValue.text(session.isoformat())
    if lake_key is not None:
        meta["lake_key"] = dg.MetadataValue.path(lake_key)
    for key, value in findings.counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            meta[key] = dg.MetadataValue.text(str(value))
        else:
            meta[key] = (
                dg.MetadataValue.int(value)
                if isinstance(value, int)
                else dg.MetadataValue.float(float(value))
            )
    meta["offending_symbol_count"] = dg.MetadataValue.int(findings.offender_count)
    meta["offending_symbols"] = dg.MetadataValue.json(findings.offenders)
    if findings.details.height:
        meta["details"] = dg.MetadataValue.md(markdown_table(findings.details, rows=MAX_LISTED))
    return meta


def _run_sessions(
    context: dg.AssetCheckExecutionContext, lake_store: Lake, dataset: str
) -> tuple[list[dt.date], bool]:
    """The sessions of the run and whether Dagster itself records the result per partition."""
    if context.has_partition_key or context.has_partition_key_range:
        return [calendar.session(k) for k in context.partition_keys], context.has_partition_key
    stored = lake_store.sessions(dataset)
    if not stored:
        raise FileNotFoundError(
            f"{dataset} has no partition in the lake at {lake_store.root}: materialize it first"
        )
    context.log.info(f"not a partitioned run: checking the latest stored session of {dataset}, {stored[-1]}")
    return stored[-1:], True


# The latest materialization (from any run) of each of a run's partitions, per (run, asset,
# partitions): a range run's checks of one asset (four on daily_bars) share one fetch of its 250
# materializations (0.05 s each, mostly deserializing them). Only the latest run is kept. A
# partition materialized by another run between two of these checks keeps the link to the one this
# run found first: the evaluation still judges the lake as it reads it.
_RUN_TARGETS: dict[tuple[str, dg.AssetKey, tuple[str, ...]], dict] = {}


def _targets(context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey, keys: list[str]) -> dict:
    """The latest materialization of each partition, so the UI ties each evaluation to what it judged."""
    run_id = context.op_execution_context.run_id
    cache_key = (run_id, asset_key, tuple(keys))
    kept = _RUN_TARGETS.get(cache_key)
    if kept is not None:
        return kept
    try:
        from dagster._core.definitions.asset_checks.asset_check_evaluation import (
            AssetCheckEvaluationTargetMaterializationData,
        )

        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=keys), limit=2 * len(keys)
        ).records
    except (ImportError, AttributeError, dg.DagsterError):  # only the link to the materialization is lost
        return {}
    out: dict = {}
    for rec in records:  # newest first
        if rec.partition_key and rec.partition_key not in out:
            out[rec.partition_key] = AssetCheckEvaluationTargetMaterializationData(
                run_id=rec.run_id, storage_id=rec.storage_id, timestamp=rec.timestamp
            )
    if any(other != run_id for other, _, _ in list(_RUN_TARGETS)):
        _RUN_TARGETS.clear()
    _RUN_TARGETS[cache_key] = out
    return out


def bars_check(
    asset: str, name: str, evaluate: Evaluate, *, blocking: bool, description: str
) -> dg.AssetChecksDefinition:
    """One session-partitioned check of ``asset``; blocking checks fail with ERROR, the others WARN."""
    severity = dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN
    asset_key = dg.AssetKey(asset)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned checks: chosen on purpose, see above

        @dg.asset_check(
            asset=asset_key,
            name=name,
            blocking=blocking,
            description=description,
            partitions_def=SESSION_PARTITIONS,
            metadata={"severity_on_failure": severity.value, "blocking": blocking},
        )
        def _check(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Iterator:
            lake_store = lake.get()
            sessions, single = _run_sessions(context, lake_store, asset)
            results = evaluate(lake_store, asset, sessions)
            if single:
                day = sessions[0]
                found = results[day]
                yield dg.AssetCheckResult(
                    passed=found.passed,
                    severity=severity,
                    description=found.description,
                    metadata=findings_metadata(found, session=day, lake_key=lake_store.uri(asset, day)),
                )
                return
            keys = [d.isoformat() for d in sessions]
            targets = _targets(context, asset_key, keys)
            failed = [k for k, d in zip(keys, sessions, strict=True) if not results[d].passed]
            if failed:
                context.log.warning(
                    f"{asset} {name}: {len(failed)} of {len(keys)} session(s) failed, e.g. {failed[:10]}"
                )
            for key, day in zip(keys, sessions, strict=True):
                found = results[day]
                yield dg.AssetCheckEvaluation(
                    asset_key=asset_key,
                    check_name=name,
                    passed=found.passed,
                    severity=severity,
                    description=found.description,
                    metadata=findings_metadata(found, session=day, lake_key=lake_store.uri(asset, day)),
                    target_materialization_data=targets.get(key),
                    blocking=blocking,
                    partition=key,
                )
            yield dg.Output(None)  # the check's own output, which the per-session evaluations replace

    return _check


_INTEGRITY = (
    "The bar contract in the lake: low <= open, close <= high; prices finite and > 0; volume >= 0; no nulls; "
    "one row per (symbol, ts); each bar on its partition's session. Blocking: the screeners never run on "
    "broken bars. The asset quarantines such rows before writing, so a failure means the stored file changed."
)
_COVERAGE = "At least 99% of the universe's included symbols have bars in the session."


def _market_data_checks() -> list[dg.AssetChecksDefinition]:
    out = []
    for asset in ("daily_bars", "intraday_1m", "intraday_30m"):
        out.append(bars_check(asset, "bar_integrity", integrity, blocking=True, description=_INTEGRITY))
    out += [
        bars_check(
            "daily_bars",
            "no_missing_sessions",
            gaps,
            blocking=False,
            description=f"No symbol skips a session between its first and last bar in the last "
            f"{GAP_WINDOW} sessions up to the checked one (a symbol that starts later is no gap).",
        ),
        bars_check(
            "daily_bars",
            "no_price_volume_jumps",
            steps,
            blocking=False,
            description="No price step > 50% (open or close against the previous close), nor > 25% together "
            "with a volume step > 300%, into the session's bar: a split or a bad print. A volume step alone "
            "is ordinary (earnings, news) and no finding (tradingstation.quality.steps.price_volume_steps).",
        ),
        bars_check(
            "intraday_1m",
            "regular_session_complete",
            regular_session(1),
            blocking=False,
            description="The 100 most traded symbols of the session have every regular-session minute from "
            "the open to the close (13:00 ET on early closes).",
        ),
        bars_check(
            "intraday_30m",
            "regular_session_complete",
            regular_session(30),
            blocking=False,
            description="The 100 most traded symbols of the session have every regular-session 30-minute bar.",
        ),
    ]
    out += [
        bars_check(a, "universe_coverage", coverage, blocking=False, description=_COVERAGE)
        for a in ("daily_bars", "intraday_1m", "intraday_30m")
    ]
    return out


ALL_CHECKS: list[dg.AssetChecksDefinition] = _market_data_checks()
BLOCKING_CHECKS: list[dg.AssetCheckKey] = [
    key for c in ALL_CHECKS for key in c.check_keys if c.get_spec_for_check_key(key).blocking
]
