"""Trading-session partitions: one key per NYSE session, shared by every asset.

Keys are session dates (``YYYY-MM-DD``, America/New_York). Weekends fall outside the weekday
cron; exchange holidays and special closures come from exchange_calendars as exclusions, so the
keys stay right for years ahead. ``end_offset=1`` makes today's session a key from midnight New
York time, so the pre-market run can materialize it before the open.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from tradingstation.core import calendar

SESSION_PARTITIONS = dg.TimeWindowPartitionsDefinition(
    start=calendar.FIRST_SESSION.isoformat(),
    fmt="%Y-%m-%d",
    cron_schedule="0 0 * * 1-5",
    timezone=calendar.NY_TZ,
    end_offset=1,
    exclusions=[dt.datetime.combine(day, dt.time()) for day in calendar.holidays()],
)


def sessions_window(before: int, *, include_current: bool = True) -> dg.TimeWindowPartitionMapping:
    """Map session D to the ``before`` sessions before it (and D itself when ``include_current``).

    Offsets count sessions, not calendar days, because holidays are excluded keys.
    """
    return dg.TimeWindowPartitionMapping(start_offset=-before, end_offset=0 if include_current else -1)


def session_key(day: dt.date | str) -> str:
    """The partition key of a session; NotASessionError for anything else."""
    return calendar.session(day).isoformat()
