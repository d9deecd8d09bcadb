"""Dagster asset checks for the session-aware freshness rules of :mod:`tradingstation.quality.freshness`.

Each check judges the lake at the wall clock's instant (the partition the session calendar says
must exist by now, and the bars inside it; Dagster's native freshness policies, attached in
:mod:`tradingstation.assets.declarations`, only see when an asset last materialized). Three outcomes,
never a *Passed* that checked nothing:

- fresh: passed;
- stale: failed, WARN severity, with the reason and the last key/timestamp as metadata;
- nothing expected at this instant (a weekend, a holiday, before the open or the 09:00 ET
  deadline): **no evaluation**. The run succeeds and the UI shows the check *Skipped*; the
  reason is in the run's log.

Wall clock only. Dagster puts every check of the selected assets into a run, a UI backfill
included, so the checks look at the run: inside a run tied to sessions (a partition, a partition
range, any backfill) they do not evaluate either (*Skipped*, the reason logged) — a backfill of
2025 sessions never judges 2026's wall clock. They evaluate when launched on their own (the
asset's *Checks* tab, *Execute*), and the ``freshness_sensor`` applies the same rules every
5 minutes.
"""

import datetime as dt
from collections.abc import Callable, Iterator, Mapping

import dagster as dg

from tradingstation.lake import Lake
from tradingstation.quality import freshness
from tradingstation.quality.freshness import DAILY, INTRADAY, FreshnessResult, check_daily, check_intraday
from tradingstation.resources.lake_io import LakeResource


def not_a_wall_clock_run(tags: Mapping[str, str]) -> str | None:
    """Why a run with ``tags`` must not judge wall-clock freshness, or None when it may.

    Dagster's own tags tie a run to sessions: ``dagster/partition`` (one), the partition-range pair
    (a single-run backfill, ``tradingstation materialize --start/--end``), ``dagster/backfill``.
    """
    if backfill := tags.get("dagster/backfill"):
        return f"the run belongs to backfill {backfill}: freshness judges the wall clock, not its sessions"
    if key := tags.get("dagster/partition"):
        return f"the run is for session {key}: freshness judges the wall clock, not a session"
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start or end:
        return f"the run is for sessions {start}..{end}: freshness judges the wall clock, not a range"
    return None


def check_result(result: FreshnessResult) -> dg.AssetCheckResult | None:
    """A Dagster check result (WARN severity) carrying the reason and the last key/timestamp;
    None when the rule checked nothing at that instant (no evaluation: *Skipped*, never *Passed*)."""
    if not result.checked:
        return None
    metadata: dict[str, dg.MetadataValue] = {
        "status": dg.MetadataValue.text(result.status),
        "reason": dg.MetadataValue.text(result.reason),
        "evaluated_at": dg.MetadataValue.text(result.instant.isoformat()),
    }
    if result.session:
        metadata["session"] = dg.MetadataValue.text(result.session.isoformat())
    if result.last_key:
        metadata["last_key"] = dg.MetadataValue.path(result.last_key)
    if result.last_ts:
        metadata["last_ts"] = dg.MetadataValue.text(result.last_ts.isoformat())
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(result.dataset),
        check_name=f"{result.dataset}_freshness",
        passed=result.fresh,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=result.reason,
    )


Rule = Callable[[Lake, dt.datetime], FreshnessResult]


def freshness_check(dataset: str, rule: Rule, description: str) -> dg.AssetChecksDefinition:
    """The check ``<dataset>_freshness``: ``rule`` at the wall clock, or no evaluation (see the module doc).

    A one-spec ``multi_asset_check`` with ``can_subset=True``: its output is optional, which is
    what lets a run end without an evaluation (Dagster then resolves the check as *Skipped*).
    """
    name = f"{dataset}_freshness"

    @dg.multi_asset_check(
        specs=[dg.AssetCheckSpec(name, asset=dataset, description=description)],
        can_subset=True,
        name=name,
    )
    def _check(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Iterator[dg.AssetCheckResult]:
        why = not_a_wall_clock_run(context.run.tags)
        if why is not None:
            context.log.info(f"{name} not evaluated (Skipped): {why}")
            return
        result = rule(lake.get(), freshness.now())
        evaluation = check_result(result)
        if evaluation is None:
            context.log.info(f"{name} not evaluated (Skipped): {result.reason}")
            return
        yield evaluation

    return _check


intraday_1m_freshness = freshness_check(
    INTRADAY,
    check_intraday,
    "Today's 1-minute partition exists and its latest regular bar is at most 15 minutes old (from 15 minutes "
    "after the open; early closes honoured). Skipped when nothing is expected: non-sessions, before "
    "open + 15 min, and inside session runs and backfills.",
)
daily_bars_freshness = freshness_check(
    DAILY,
    check_daily,
    "From 09:00 ET of a session day, the previous session's daily bars exist. Skipped when nothing is "
    "expected: weekends, holidays, before 09:00 ET, and inside session runs and backfills.",
)


FRESHNESS_CHECKS = [intraday_1m_freshness, daily_bars_freshness]
