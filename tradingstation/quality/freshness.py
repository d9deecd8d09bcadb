"""Session-aware, partition-aware freshness of the lake: is the data that should exist by now there?

Pure functions of (lake, instant), so any instant can be tested: ``evaluate(lake, instant)``
returns one :class:`FreshnessResult` per watched dataset. The rules (all times America/New_York,
sessions and their open/close from :mod:`tradingstation.core.calendar`, early closes honoured):

``intraday_1m`` — *stale* when the market has been open for more than 15 minutes
(``instant > open + 15 min``) and the current session's partition is missing, holds no regular
bar, or its latest regular bar (by its start ``ts``) is more than 15 minutes older than the
reference instant. The reference instant is ``min(instant, close)``: after the close nothing new
is expected, so after a 13:00 early close bars up to 12:59 are fresh at 14:00, and in the
evening a complete session stays fresh. Not checked (never an alarm): on a day that is not a
session (weekend, holiday), before the open, and in the first 15 minutes of the session.

``daily_bars`` — on a session day after the premarket deadline (09:00 ET), the *previous*
session's partition must exist and hold at least one bar; missing or empty is *stale*. Not
checked: days that are not sessions (weekends, holidays) and session days before 09:00 ET (the
premarket schedule fetches yesterday's bar from 07:00 ET). The session's own daily bar is
written after its close by the postmarket run and is the next session's concern.

Why more than Dagster's own freshness? Dagster 1.13's ``FreshnessPolicy`` (``time_window`` /
``cron``) judges an asset by its *latest materialization*, whatever partition it wrote: a
backfill of last year's sessions makes ``intraday_1m`` look fresh while today's partition does
not exist, and a fresh today's partition written by a run that then failed downstream is not
told apart. Its cron policy knows no exchange calendar either: a weekday deadline such as
``0 9 * * 1-5`` expects an update on Christmas and Good Friday and fails there, and it cannot
know that 2025-11-28 closes at 13:00. The native policies are attached anyway, where they cannot
be wrong (``tradingstation.assets.declarations``: an outage alarm); these rules ask the lake for
the partition the session calendar says must exist at that instant, and look at the bars inside it.

They run three ways: ``tradingstation.checks.freshness`` (Dagster asset checks, WARN severity,
with the reason and the last key/timestamp as metadata; a result that checked nothing,
``checked=False``, is no evaluation there: *Skipped*, never *Passed*), the ``freshness_sensor``
(every 5 minutes, alerts once per stale dataset and session), and directly from Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from tradingstation.core import calendar
from tradingstation.lake import Lake

STALE_AFTER = dt.timedelta(minutes=15)  # intraday: open this long before checking; bar age limit
DAILY_DEADLINE = dt.time(9, 0)  # ET: the previous session's daily bar must exist by then

INTRADAY = "intraday_1m"
DAILY = "daily_bars"


@dataclass(frozen=True)
class FreshnessResult:
    """The verdict on one dataset at one instant.

    ``fresh`` is False only for a real problem; ``checked`` is False when nothing is expected at
    that instant (then ``fresh`` is True and ``reason`` says why). ``session`` is the session
    whose partition the rule is about (today's for intraday, the previous one for daily bars);
    None on a day that is not a session.
    """

    dataset: str
    instant: dt.datetime
    session: dt.date | None
    fresh: bool
    checked: bool
    reason: str
    last_key: str | None = None  # the partition looked at (its URI), or the latest stored one
    last_ts: dt.datetime | None = None  # intraday: the latest regular bar's start

    @property
    def stale(self) -> bool:
        return not self.fresh

    @property
    def status(self) -> str:
        return "stale" if not self.fresh else "fresh" if self.checked else "not checked"


def now() -> dt.datetime:
    """The current instant (UTC); tests replace this to evaluate at a chosen instant."""
    return dt.datetime.now(dt.UTC)


def _utc(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None:
        raise ValueError(f"freshness needs a timezone-aware instant, got {instant!r}")
    return instant.astimezone(dt.UTC)


def _et(instant: dt.datetime) -> str:
    return f"{instant.astimezone(calendar.NY):%H:%M} ET"


def _not_a_session(day: dt.date) -> str:
    why = "a weekend" if day.weekday() >= 5 else "an NYSE holiday"
    return f"{day} is not a session ({why}): nothing expected"


def _minutes(delta: dt.timedelta) -> int:
    return int(delta.total_seconds() // 60)


def check_intraday(lake: Lake, instant: dt.datetime, dataset: str = INTRADAY) -> FreshnessResult:
    """The intraday rule (see the module docstring) for ``dataset`` at ``instant``."""
    instant = _utc(instant)
    day = instant.astimezone(calendar.NY).date()

    def result(fresh: bool, checked: bool, reason: str, **kw) -> FreshnessResult:
        return FreshnessResult(dataset, instant, day if calendar.is_session(day) else None, fresh, checked, reason, **kw)

    if not calendar.is_session(day):
        return result(True, False, _not_a_session(day))
    times = calendar.session_times(day)
    if instant <= times.open + STALE_AFTER:
        state = "has not opened" if instant < times.open else f"opened {_minutes(instant - times.open)} min ago"
        return result(
            True, False,
            f"the {day} session {state} (open {_et(times.open)}); bars are checked from {_et(times.open + STALE_AFTER)}",
        )
    reference = min(instant, times.close)
    after_close = instant >= times.close
    as_of = (
        f"as of the {'early ' if times.is_early_close else ''}close at {_et(times.close)}" if after_close else f"at {_et(instant)}"
    )
    if not lake.exists(dataset, day):
        return result(
            False, True,
            f"{dataset} has no partition for {day} {as_of}, {_minutes(reference - times.open)} min after the open",
        )
    uri = lake.uri(dataset, day)
    bars = lake.read(dataset, sessions=[day], columns=["ts", "session"])
    last = bars.filter(pl.col("session") == "regular")["ts"].max()
    if last is None:
        return result(False, True, f"{dataset}[{day}] holds no regular-session bar {as_of}", last_key=uri)
    assert isinstance(last, dt.datetime)
    age = reference - last
    if age > STALE_AFTER:
        return result(
            False, True,
            f"{dataset}[{day}]: latest regular bar {_et(last)} is {_minutes(age)} min old {as_of} "
            f"(limit {_minutes(STALE_AFTER)} min)",
            last_key=uri, last_ts=last,
        )
    return result(True, True, f"{dataset}[{day}]: latest regular bar {_et(last)} {as_of}", last_key=uri, last_ts=last)


def check_daily(lake: Lake, instant: dt.datetime, dataset: str = DAILY) -> FreshnessResult:
    """The daily rule (see the module docstring) for ``dataset`` at ``instant``."""
    instant = _utc(instant)
    day = instant.astimezone(calendar.NY).date()
    if not calendar.is_session(day):
        return FreshnessResult(dataset, instant, None, True, False, _not_a_session(day))
    previous = calendar.previous_session(day)
    deadline = dt.datetime.combine(day, DAILY_DEADLINE, tzinfo=calendar.NY)
    if instant < deadline:
        return FreshnessResult(
            dataset, instant, previous, True, False,
            f"before the {day} premarket deadline {DAILY_DEADLINE:%H:%M} ET for {dataset}[{previous}]",
        )
    if lake.exists(dataset, previous):
        uri = lake.uri(dataset, previous)
        rows = lake.read(dataset, sessions=[previous], columns=["symbol"]).height
        if rows == 0:
            return FreshnessResult(dataset, instant, previous, False, True, f"{dataset}[{previous}] holds no bars", last_key=uri)
        return FreshnessResult(dataset, instant, previous, True, True, f"{dataset}[{previous}] holds {rows} bars", last_key=uri)
    stored = [d for d in lake.sessions(dataset) if d < day]
    latest = f"; the latest stored session is {stored[-1]}" if stored else "; nothing stored"
    return FreshnessResult(
        dataset, instant, previous, False, True,
        f"{dataset} has no partition for the previous session {previous} after the "
        f"{DAILY_DEADLINE:%H:%M} ET deadline of {day}{latest}",
        last_key=lake.uri(dataset, stored[-1]) if stored else None,
    )


RULES = {INTRADAY: check_intraday, DAILY: check_daily}


def evaluate(lake: Lake, instant: dt.datetime | None = None) -> list[FreshnessResult]:
    """Every watched dataset's verdict at ``instant`` (default: now)."""
    at = now() if instant is None else instant
    return [rule(lake, at) for rule in RULES.values()]
