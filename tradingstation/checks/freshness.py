"""Dagster asset checks for the session-aware freshness rules of :mod:`tradingstation.quality.freshness`.

Each check judges the lake at the wall clock's instant and reports WARN with the reason and the
last key/timestamp as metadata (why Dagster's own ``FreshnessPolicy`` is not enough is in the
rules' module).
"""

from __future__ import annotations

import dagster as dg

from tradingstation.quality import freshness
from tradingstation.quality.freshness import DAILY, INTRADAY, FreshnessResult, check_daily, check_intraday
from tradingstation.resources.lake_io import LakeResource


def check_result(result: FreshnessResult) -> dg.AssetCheckResult:
    """A Dagster check result (WARN severity) carrying the reason and the last key/timestamp."""
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
        passed=result.fresh,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=result.reason,
    )


@dg.asset_check(
    asset=INTRADAY,
    name="intraday_1m_freshness",
    description="Today's 1-minute partition exists and its latest regular bar is at most 15 minutes old "
    "(from 15 minutes after the open; early closes honoured; nothing expected on non-sessions).",
)
def intraday_1m_freshness(lake: LakeResource) -> dg.AssetCheckResult:
    return check_result(check_intraday(lake.get(), freshness.now()))


@dg.asset_check(
    asset=DAILY,
    name="daily_bars_freshness",
    description="From 09:00 ET of a session day, the previous session's daily bars exist "
    "(nothing expected on weekends and holidays).",
)
def daily_bars_freshness(lake: LakeResource) -> dg.AssetCheckResult:
    return check_result(check_daily(lake.get(), freshness.now()))


FRESHNESS_CHECKS = [intraday_1m_freshness, daily_bars_freshness]
