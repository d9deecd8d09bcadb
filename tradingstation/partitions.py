"""Trading-session partitions: one key per NYSE session, shared by every asset.

Keys are session dates (``YYYY-MM-DD``, America/New_York). Weekends fall outside the weekday
cron; exchange holidays and special closures come from exchange_calendars as exclusions, so the
keys stay right for years ahead. ``end_offset=1`` makes today's session a key from midnight New
York time, so the pre-market run can materialize it before the open.

The first key is where the lake's history can start: ``TRADINGSTATION_HISTORY_START``
(``YYYY-MM-DD``; a non-session moves to the next session), default :data:`DEFAULT_HISTORY_START`.
Every key before it is one the catalog would count as "missing" forever, so the default is a few
years back, not the calendar's first session: the catalog's missing counts then name sessions a
backfill could really fill. It is read once, when this module is imported (Dagster fixes a
partitions definition when the code location loads). A session key D needs its upstream windows
inside the history too (the dashboard reads the 200 sessions before D): materialize D at least 200
sessions after the start.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

import dagster as dg

from tradingstation.core import calendar

HISTORY_START_ENV = "TRADINGSTATION_HISTORY_START"
# The first session of 2020: five-plus years of daily history for a 2025/2026 deployment, more
# than any retention default keeps (200 daily sessions), well inside yfinance's daily history.
DEFAULT_HISTORY_START = dt.date(2020, 1, 2)


def history_start(environ: Mapping[str, str] | None = None) -> dt.date:
    """The first session key: ``TRADINGSTATION_HISTORY_START`` or the default, moved to a session."""
    env = os.environ if environ is None else environ
    raw = (env.get(HISTORY_START_ENV) or "").strip()
    if not raw:
        return DEFAULT_HISTORY_START
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{HISTORY_START_ENV}={raw!r}: expected a date YYYY-MM-DD") from None
    if not calendar.FIRST_SESSION <= day <= dt.date.today():
        raise ValueError(
            f"{HISTORY_START_ENV}={raw}: must lie between the calendar's first session "
            f"{calendar.FIRST_SESSION} and today"
        )
    return day if calendar.is_session(day) else calendar.next_session(day)


HISTORY_START = history_start()

SESSION_PARTITIONS = dg.TimeWindowPartitionsDefinition(
    start=HISTORY_START.isoformat(),
    fmt="%Y-%m-%d",
    cron_schedule="0 0 * * 1-5",
    timezone=calendar.NY_TZ,
    end_offset=1,
    exclusions=[dt.datetime.combine(day, dt.time()) for day in calendar.holidays(HISTORY_START)],
)


def sessions_window(before: int, *, include_current: bool = True) -> dg.TimeWindowPartitionMapping:
    """Map session D to the ``before`` sessions before it (and D itself when ``include_current``).

    Offsets count sessions, not calendar days, because holidays are excluded keys.
    """
    return dg.TimeWindowPartitionMapping(start_offset=-before, end_offset=0 if include_current else -1)


def session_key(day: dt.date | str) -> str:
    """The partition key of a session; NotASessionError for anything else."""
    return calendar.session(day).isoformat()
