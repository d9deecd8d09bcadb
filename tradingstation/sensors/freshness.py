"""``freshness_sensor``: every 5 minutes, :func:`tradingstation.quality.freshness.evaluate` at the
current instant; a stale (dataset, session) is alerted once (the cursor remembers what was
alerted), otherwise the tick is skipped with the reason ("all fresh", "2025-12-25 is not a
session ...").
"""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg

from tradingstation.core import calendar
from tradingstation.lake import Lake
from tradingstation.ops.alerts import send_alert
from tradingstation.quality import freshness
from tradingstation.resources.lake_io import LakeResource

FRESHNESS_INTERVAL_SECONDS = 300
CURSOR_KEEP_DAYS = 14  # alerted (dataset, session) pairs older than this are forgotten

def _alert_key(result: freshness.FreshnessResult) -> str:
    return f"{result.dataset}:{result.session}"


def _load_cursor(cursor: str | None) -> set[str]:
    if not cursor:
        return set()
    try:
        value = json.loads(cursor)
    except ValueError:
        return set()
    return {str(v) for v in value.get("alerted", [])} if isinstance(value, dict) else set()


def _prune(alerted: set[str], instant: dt.datetime) -> set[str]:
    oldest = instant.astimezone(calendar.NY).date() - dt.timedelta(days=CURSOR_KEEP_DAYS)
    kept = set()
    for key in alerted:
        try:
            if dt.date.fromisoformat(key.rsplit(":", 1)[1]) >= oldest:
                kept.add(key)
        except (ValueError, IndexError):
            continue
    return kept


def freshness_tick(lake_store: Lake, instant: dt.datetime, cursor: str | None) -> dg.SensorResult:
    """One evaluation of the freshness sensor at ``instant``: alerts the newly stale, returns the skip and cursor."""
    results = freshness.evaluate(lake_store, instant)
    alerted = _load_cursor(cursor)
    new, repeated = [], []
    for result in results:
        if result.fresh:
            continue
        key = _alert_key(result)
        if key in alerted:
            repeated.append(result)
            continue
        fields = {
            "dataset": result.dataset,
            "session": result.session.isoformat() if result.session else None,
            "last_key": result.last_key,
            "last_ts": result.last_ts.isoformat() if result.last_ts else None,
            "checked_at": result.instant.isoformat(),
        }
        send_alert(f"{result.dataset} is stale", result.reason, fields, severity="warning")
        alerted.add(key)
        new.append(result)
    if new:
        message = "alerted: " + "; ".join(f"{r.dataset}[{r.session}]: {r.reason}" for r in new)
    elif repeated:
        message = "still stale, already alerted: " + "; ".join(f"{r.dataset}[{r.session}]" for r in repeated)
    elif all(r.checked for r in results):
        message = "all fresh: " + "; ".join(r.reason for r in results)
    else:
        reasons = list(dict.fromkeys(r.reason for r in results if not r.checked))
        checked = [r.reason for r in results if r.checked]
        message = "; ".join(reasons + [f"fresh: {r}" for r in checked])
    cursor_out = json.dumps({"alerted": sorted(_prune(alerted, instant))})
    return dg.SensorResult(skip_reason=dg.SkipReason(message), cursor=cursor_out)


@dg.sensor(
    name="freshness_sensor",
    minimum_interval_seconds=FRESHNESS_INTERVAL_SECONDS,
    description="Every 5 minutes: session-aware freshness of intraday_1m and daily_bars "
    "(tradingstation.quality.freshness); alerts once per stale dataset and session.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def freshness_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    return freshness_tick(lake.get(), freshness.now(), context.cursor)
