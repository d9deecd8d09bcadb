"""The session schedules: premarket, market (every 5 minutes while open), postmarket, maintenance.

Cron runs in America/New_York, so daylight-saving changes never shift a session; each tick then
asks the calendar whether it is a session and where in it we are, so holidays are skipped with a
visible reason and early closes are honoured (on 2025-11-28 the 12:55 market tick runs, 13:05
does not, and the postmarket run starts after 13:00). Every run request carries the session key
and a run key, so a tick never runs twice.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg

from tradingstation.core import calendar

OPENING_RANGE = dt.timedelta(minutes=15)  # ORB's default window: orb_signals waits for it
SETTLE = dt.timedelta(minutes=10)  # after the close, before the postmarket run reads the day's bars
POSTMARKET_END = dt.time(20, 0)

PREMARKET_ASSETS = ["universe", "earnings", "avwap_anchors", "intraday_1m", "gapgo_signals"]
# The plan is refreshed at every market tick (live status); after the close the whole day's 1-minute
# bars are fetched once more, so the day's intraday signals resolve on every bar of the session.
MARKET_ASSETS = ["intraday_1m", "avwap_reclaim_signals", "breakout_signals", "ema_pullback_signals", "master_dashboard"]
POSTMARKET_ASSETS = ["daily_bars", "intraday_1m", "intraday_30m", "exhaustion_reversal_signals", "signal_outcomes",
                     "screener_scorecard", "master_dashboard"]
AS_OF_TAG = "tradingstation/as_of"  # the tick's instant: the plan of a market run is as of then
ORB_ASSET = "orb_signals"  # in the market runs once its opening range has closed
MAINTENANCE_ASSETS = ["lake_maintenance"]
# Every asset each session mode's schedule materializes (the premarket also fetches yesterday's
# daily bar): the catalog's session tags and native freshness policies derive from it.
SESSION_ASSETS = {
    "premarket": [*PREMARKET_ASSETS, "daily_bars"],
    "market": [*MARKET_ASSETS, ORB_ASSET],
    "postmarket": POSTMARKET_ASSETS,
    "maintenance": MAINTENANCE_ASSETS,
}


def _names(assets: list[str]) -> str:
    return ", ".join(assets)


# What each schedule runs and when: its description in the UI.
DESCRIPTIONS = {
    "premarket_schedule": (
        "Session days at 07:00, 08:00, 09:00 and 09:20 ET, until the open: the previous session's daily_bars "
        f"(once, at the first tick), then {_names(PREMARKET_ASSETS)} of today's session (intraday_1m: the "
        "pre-market bars so far). Skips weekends, holidays and ticks after the open."
    ),
    "market_schedule": (
        f"Every 5 minutes while the market is open (09:30 ET to the close, 13:00 on early closes): "
        f"{_names(MARKET_ASSETS)}; {ORB_ASSET} too from 15 minutes after the open (its opening range "
        "closed). Skips weekends, holidays and ticks outside regular hours."
    ),
    "postmarket_schedule": (
        "Once per session, at the first quarter hour 10 minutes after the close (16:15 ET; 13:15 on early "
        f"closes), until 20:00 ET: {_names(POSTMARKET_ASSETS)}. Skips weekends, holidays and ticks before "
        "the close; later ticks of the same session find its run key used."
    ),
    "maintenance_schedule": (
        f"Session days at 20:00 ET: {_names(MAINTENANCE_ASSETS)} (lake verify, gap report, retention "
        "cleanup, lake health). Skips weekends and holidays."
    ),
}


def _instant(context: dg.ScheduleEvaluationContext) -> dt.datetime:
    when = context.scheduled_execution_time or dt.datetime.now(dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def _session_of(instant: dt.datetime) -> tuple[dt.date, calendar.SessionTimes | None]:
    day = instant.astimezone(calendar.NY).date()
    return day, calendar.session_times(day) if calendar.is_session(day) else None


def _not_a_session(day: dt.date) -> dg.SkipReason:
    why = "a weekend" if day.weekday() >= 5 else "an NYSE holiday"
    return dg.SkipReason(f"{day} is not an NYSE trading session ({why})")


def _request(kind: str, day: dt.date, assets: list[str], instant: dt.datetime | None = None) -> dg.RunRequest:
    stamp = f":{instant.astimezone(calendar.NY):%H%M}" if instant else ""
    return dg.RunRequest(
        run_key=f"{kind}:{day}{stamp}",
        partition_key=day.isoformat(),
        asset_selection=[dg.AssetKey(a) for a in assets],
        tags={"tradingstation/session": kind, **({AS_OF_TAG: instant.isoformat()} if instant else {})},
    )


def premarket_requests(instant: dt.datetime) -> Iterator[dg.RunRequest | dg.SkipReason]:
    day, times = _session_of(instant)
    if times is None:
        yield _not_a_session(day)
        return
    if instant >= times.open:
        yield dg.SkipReason(f"the {day} session opened at {times.open.astimezone(calendar.NY):%H:%M} ET")
        return
    # Yesterday's daily bar (once per session), then today's pre-market assets (every tick).
    yield _request("daily", calendar.previous_session(day), ["daily_bars"])
    yield _request("premarket", day, PREMARKET_ASSETS, instant)


def market_requests(instant: dt.datetime) -> Iterator[dg.RunRequest | dg.SkipReason]:
    day, times = _session_of(instant)
    if times is None:
        yield _not_a_session(day)
        return
    if not times.open <= instant < times.close:
        state = "has not opened" if instant < times.open else "has closed"
        close = times.close.astimezone(calendar.NY)
        yield dg.SkipReason(f"the {day} session {state} (regular hours until {close:%H:%M} ET)")
        return
    assets = MARKET_ASSETS + ([ORB_ASSET] if instant >= times.open + OPENING_RANGE else [])
    yield _request("market", day, assets, instant)


def postmarket_requests(instant: dt.datetime) -> Iterator[dg.RunRequest | dg.SkipReason]:
    day, times = _session_of(instant)
    if times is None:
        yield _not_a_session(day)
        return
    end = dt.datetime.combine(day, POSTMARKET_END, tzinfo=calendar.NY)
    if instant < times.close + SETTLE:
        yield dg.SkipReason(f"the {day} session closes at {times.close.astimezone(calendar.NY):%H:%M} ET")
        return
    if instant >= end:
        yield dg.SkipReason(f"the {day} post-market window ended at 20:00 ET")
        return
    yield _request("postmarket", day, POSTMARKET_ASSETS)  # one run per session: the run key has no time


def maintenance_requests(instant: dt.datetime) -> Iterator[dg.RunRequest | dg.SkipReason]:
    day, times = _session_of(instant)
    if times is None:
        yield _not_a_session(day)
        return
    yield _request("maintenance", day, MAINTENANCE_ASSETS)


def build_schedules(job: object) -> list[dg.ScheduleDefinition]:
    """The three session schedules on ``job`` (the asset job over every asset, partitioned by session)."""
    specs = [
        ("premarket_schedule", ["0 7 * * 1-5", "0 8 * * 1-5", "0 9 * * 1-5", "20 9 * * 1-5"], premarket_requests),
        ("market_schedule", "*/5 9-15 * * 1-5", market_requests),
        ("postmarket_schedule", "*/15 13-19 * * 1-5", postmarket_requests),
        ("maintenance_schedule", "0 20 * * 1-5", maintenance_requests),
    ]
    schedules = []
    for name, cron, plan in specs:

        def evaluate(context: dg.ScheduleEvaluationContext, plan=plan):
            yield from plan(_instant(context))

        schedules.append(
            dg.ScheduleDefinition(
                name=name,
                cron_schedule=cron,
                execution_timezone=calendar.NY_TZ,
                job=job,
                execution_fn=evaluate,
                default_status=dg.DefaultScheduleStatus.STOPPED,
                description=DESCRIPTIONS[name],
            )
        )
    return schedules
