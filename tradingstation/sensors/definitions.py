"""Sensors: alert on failed runs, follow universe changes, watch the lake's freshness.

- ``run_failure_alert`` — every failed run of this code location (all jobs): one alert naming the
  job, the run id, the failed step(s), the error and the partition (``tradingstation.alerts``).
- ``universe_change_sensor`` — on a new ``universe`` materialization, compares the included
  symbols of its session with the previous stored universe session in the lake. New symbols get
  their history: ONE run of ``daily_bars`` over the 199 sessions before that session (a
  single-run backfill through the ``dagster/asset_partition_range_start``/``_end`` tags), with a
  run key per (session, new-symbol set) so it is requested once. Added and removed symbols are
  alerted (severity info). No new symbols: a skip naming the session.
- ``freshness_sensor`` — every 5 minutes, :func:`tradingstation.freshness.evaluate` at the current
  instant; a stale (dataset, session) is alerted once (the cursor remembers what was alerted),
  otherwise the tick is skipped with the reason ("all fresh", "2025-12-25 is not a session ...").

All three are created **STOPPED**: an operator turns them on in the UI (*Automation*) or with
``dagster sensor start <name>``, and the daemon (``dagster-daemon run``) must be running.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os

import dagster as dg
import polars as pl

from tradingstation import calendar, freshness
from tradingstation.alerts import send_alert
from tradingstation.assets.universe import included_symbols
from tradingstation.lake import Lake
from tradingstation.resources.lake_io import LakeResource

HISTORY_SESSIONS = 199  # daily bars before its first session a new symbol needs (= the CLI's history)
FRESHNESS_INTERVAL_SECONDS = 300
CURSOR_KEEP_DAYS = 14  # alerted (dataset, session) pairs older than this are forgotten
ENV_UI_URL = "TRADINGSTATION_UI_URL"  # optional, e.g. https://dagster.example.com: links the run in alerts
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
MAX_LISTED = 50

daily_bars_history_job = dg.define_asset_job(
    "daily_bars_history_job",
    selection=dg.AssetSelection.assets("daily_bars"),  # session-partitioned: inferred from the asset
    description="daily_bars alone, for the history backfills the universe_change_sensor requests.",
)


# --- run failures ----------------------------------------------------------------------------


def _partition(tags: dict[str, str]) -> str | None:
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    if tags.get(RANGE_START) and tags.get(RANGE_END):
        return f"{tags[RANGE_START]}..{tags[RANGE_END]}"
    return None


def _clip(text: str, limit: int = 1500) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dg.run_failure_sensor(
    name="run_failure_alert",
    description="Alerts (log line, webhook, e-mail) on every failed run of any job: job, run id, failed steps, error, partition.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    steps = [e.step_key for e in step_failures if e.step_key]
    errors = []
    for event in step_failures:
        error = event.step_failure_data.error if event.step_failure_data else None
        while error is not None and error.cause is not None:  # Dagster wraps the user's exception
            error = error.cause
        if error is not None:
            errors.append(f"{event.step_key}: {error.message.strip()}")
    error_text = _clip("\n".join(errors) or context.failure_event.message or "the run failed")
    fields = {
        "job": run.job_name,
        "run_id": run.run_id,
        "failed_steps": steps or "none (the run failed outside its steps)",
        "partition": _partition(dict(run.tags)),
        "error": error_text,
    }
    ui = os.environ.get(ENV_UI_URL, "").rstrip("/")
    if ui:
        fields["run"] = f"{ui}/runs/{run.run_id}"
    send_alert(f"run of {run.job_name} failed", error_text, fields, severity="error")
    context.log.info(f"alerted the failure of run {run.run_id} ({run.job_name})")


# --- universe changes ------------------------------------------------------------------------


def _listed(symbols: list[str]) -> str:
    shown = ", ".join(symbols[:MAX_LISTED])
    return shown + (f" and {len(symbols) - MAX_LISTED} more" if len(symbols) > MAX_LISTED else "") if symbols else "none"


def _tag_list(symbols: list[str], limit: int = 250) -> str:
    text = ",".join(symbols)
    if len(text) <= limit:
        return text
    cut = text[: limit - 12].rsplit(",", 1)[0]
    return f"{cut},...(+{len(symbols) - len(cut.split(','))})"


def universe_change(lake: Lake, session: dt.date | str | None = None) -> dg.RunRequest | dg.SkipReason:
    """What a universe change at ``session`` (default: the latest stored) requires.

    Compares the included symbols with the previous stored universe session; alerts the added and
    removed symbols; returns a RunRequest of the new symbols' daily history or a SkipReason.
    """
    stored = lake.sessions("universe")
    if session is None:
        if not stored:
            return dg.SkipReason("the universe has never been materialized")
        day = stored[-1]
    else:
        day = calendar.session(session)
    if day not in stored:
        return dg.SkipReason(f"universe[{day}] is not in the lake ({lake.root})")
    earlier = [d for d in stored if d < day]
    if not earlier:
        return dg.SkipReason(f"universe[{day}] has no earlier stored universe session to compare with")
    previous = earlier[-1]
    frames = lake.read("universe", sessions=[previous, day], columns=["symbol", "included"])
    now_in = set(included_symbols(frames.filter(pl.col("date") == day)))
    before = set(included_symbols(frames.filter(pl.col("date") == previous)))
    added, removed = sorted(now_in - before), sorted(before - now_in)
    if added or removed:
        send_alert(
            f"universe changed on {day}",
            f"compared with {previous}: {len(added)} symbol(s) added, {len(removed)} removed",
            {"session": day.isoformat(), "previous_session": previous.isoformat(),
             "added": _listed(added), "removed": _listed(removed)},
            severity="info",
        )
    if not added:
        gone = f" ({len(removed)} removed: {_listed(removed)})" if removed else ""
        return dg.SkipReason(f"universe[{day}]: no new symbols since {previous}{gone}")
    history = calendar.sessions_before(day, HISTORY_SESSIONS)
    digest = hashlib.sha1(",".join(added).encode()).hexdigest()[:12]
    return dg.RunRequest(
        run_key=f"universe-history:{day}:{digest}",
        asset_selection=[dg.AssetKey("daily_bars")],
        tags={
            RANGE_START: history[0].isoformat(),
            RANGE_END: history[-1].isoformat(),
            "tradingstation/reason": "universe_change",
            "tradingstation/universe_session": day.isoformat(),
            "tradingstation/added_symbols": _tag_list(added),
        },
    )


@dg.asset_sensor(
    asset_key=dg.AssetKey("universe"),
    name="universe_change_sensor",
    job=daily_bars_history_job,
    minimum_interval_seconds=60,
    description=f"On a new universe materialization: alerts added/removed symbols and backfills, as one run, "
    f"the {HISTORY_SESSIONS} sessions of daily_bars before the session when symbols were added.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def universe_change_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry, lake: LakeResource):
    partition = asset_event.dagster_event.partition if asset_event.dagster_event else None
    result = universe_change(lake.get(), partition)
    if isinstance(result, dg.RunRequest):
        context.log.info(
            f"requesting daily_bars {result.tags[RANGE_START]}..{result.tags[RANGE_END]} "
            f"for {result.tags['tradingstation/added_symbols']}"
        )
    return result


# --- freshness -------------------------------------------------------------------------------


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


def freshness_tick(lake: Lake, instant: dt.datetime, cursor: str | None) -> dg.SensorResult:
    """One evaluation of the freshness sensor at ``instant``: alerts the newly stale, returns the skip and cursor."""
    results = freshness.evaluate(lake, instant)
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
    "(tradingstation.freshness); alerts once per stale dataset and session.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def freshness_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    return freshness_tick(lake.get(), freshness.now(), context.cursor)


ALL_SENSORS = [run_failure_alert, universe_change_sensor, freshness_sensor]
SENSOR_JOBS = [daily_bars_history_job]
