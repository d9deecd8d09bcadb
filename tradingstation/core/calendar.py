"""NYSE trading sessions, from exchange_calendars.

The one module that knows when the market is open. A *session* is a trading day, named by
its date in America/New_York; every instant this module returns is timezone-aware UTC.

Extended hours follow the consolidated tape: pre-market from 04:00 ET to the open, post-market
from the close for four hours (20:00 ET on a normal day, 17:00 ET after a 13:00 early close).
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd
import polars as pl

from tradingstation.core.errors import NotASessionError

EXCHANGE = "XNYS"
NY_TZ = "America/New_York"  # the time zone by name, where a library wants a string (polars, Dagster cron)
NY = ZoneInfo(NY_TZ)
UTC = dt.timezone.utc
FIRST_SESSION = dt.date(1995, 1, 3)  # covers the oldest real fixtures (INTC from 1995)
PREMARKET_START = dt.time(4, 0)
POSTMARKET_HOURS = 4


def _calendar_end() -> dt.date:
    # Known at least a year ahead, whatever today is.
    return dt.date(dt.date.today().year + 2, 12, 31)


@lru_cache(maxsize=1)
def calendar() -> xcals.ExchangeCalendar:
    """The NYSE calendar from FIRST_SESSION to the end of the year after next."""
    return xcals.get_calendar(EXCHANGE, start=FIRST_SESSION.isoformat(), end=_calendar_end().isoformat())


@lru_cache(maxsize=1)
def _sessions() -> tuple[dt.date, ...]:
    """Every session of the calendar as a date, oldest first: built once, then looked up by bisect
    and set membership (a pandas lookup per call cost ~0.1 ms, and a range run makes thousands)."""
    return tuple(calendar().sessions.date)


@lru_cache(maxsize=1)
def _session_set() -> frozenset[dt.date]:
    return frozenset(_sessions())


def last_known_date() -> dt.date:
    return _sessions()[-1]


def to_date(value: dt.date | dt.datetime | str) -> dt.date:
    """A session-like value as a date: accepts a date, a datetime (its New York date) or 'YYYY-MM-DD'."""
    if isinstance(value, dt.datetime):
        return value.astimezone(NY).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise NotASessionError(f"{value!r} is not a date in YYYY-MM-DD form") from exc
    raise NotASessionError(f"{value!r} is not a date")


def is_session(value: dt.date | dt.datetime | str) -> bool:
    return to_date(value) in _session_set()


def session(value: dt.date | dt.datetime | str) -> dt.date:
    """Validate that ``value`` is an NYSE session and return it as a date."""
    day = to_date(value)
    if not FIRST_SESSION <= day <= last_known_date():
        raise NotASessionError(
            f"{day.isoformat()} is outside the known calendar ({FIRST_SESSION} .. {last_known_date()})"
        )
    if day not in _session_set():
        why = "a weekend" if day.weekday() >= 5 else "an NYSE holiday"
        raise NotASessionError(f"{day.isoformat()} is not an NYSE trading session ({why})")
    return day


def sessions_in_range(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    """Every session from ``start`` to ``end``, both inclusive; either end may be a non-session."""
    lo, hi = max(to_date(start), FIRST_SESSION), min(to_date(end), last_known_date())
    if lo > hi:
        return []
    sessions = _sessions()
    return list(sessions[bisect.bisect_left(sessions, lo) : bisect.bisect_right(sessions, hi)])


def all_sessions() -> list[dt.date]:
    return list(_sessions())


def holidays(start: dt.date | str = FIRST_SESSION, end: dt.date | str | None = None) -> list[dt.date]:
    """Weekdays on which the exchange is closed all day (holidays and special closures)."""
    lo, hi = to_date(start), to_date(end) if end else last_known_date()
    weekdays = pd.bdate_range(lo, hi)
    open_days = calendar().sessions_in_range(pd.Timestamp(lo), pd.Timestamp(hi))
    return [ts.date() for ts in weekdays.difference(open_days)]


def previous_session(value: dt.date | str) -> dt.date:
    """The session before ``value`` (``value`` itself need not be a session)."""
    day = to_date(value)
    sessions = _sessions()
    i = bisect.bisect_left(sessions, day)  # first session >= day
    if i == 0:
        raise NotASessionError(f"no session before {day.isoformat()} in the known calendar")
    return sessions[i - 1]


def next_session(value: dt.date | str) -> dt.date:
    """The session after ``value`` (``value`` itself need not be a session)."""
    day = to_date(value)
    sessions = _sessions()
    i = bisect.bisect_right(sessions, day)  # first session > day
    if i >= len(sessions):
        raise NotASessionError(f"no session after {day.isoformat()} in the known calendar")
    return sessions[i]


def sessions_before(value: dt.date | str, count: int) -> list[dt.date]:
    """The ``count`` sessions strictly before ``value``, oldest first."""
    sessions = _sessions()
    i = bisect.bisect_left(sessions, to_date(value))
    return list(sessions[max(0, i - count) : i])


@dataclass(frozen=True)
class SessionTimes:
    """The instants (UTC) that bound one session's parts."""

    date: dt.date
    premarket_open: dt.datetime
    open: dt.datetime
    close: dt.datetime
    postmarket_close: dt.datetime

    @property
    def is_early_close(self) -> bool:
        return self.close.astimezone(NY).time() < dt.time(16, 0)

    def part(self, ts: dt.datetime) -> str | None:
        """'pre', 'regular' or 'post' for a bar starting at ``ts``; None outside the extended day."""
        if self.premarket_open <= ts < self.open:
            return "pre"
        if self.open <= ts < self.close:
            return "regular"
        if self.close <= ts < self.postmarket_close:
            return "post"
        return None


@lru_cache(maxsize=4096)
def session_times(value: dt.date | str) -> SessionTimes:
    day = session(value)
    cal = calendar()
    open_ = cal.session_open(pd.Timestamp(day)).to_pydatetime().astimezone(UTC)
    close = cal.session_close(pd.Timestamp(day)).to_pydatetime().astimezone(UTC)
    pre = dt.datetime.combine(day, PREMARKET_START, tzinfo=NY).astimezone(UTC)
    return SessionTimes(
        date=day,
        premarket_open=pre,
        open=open_,
        close=close,
        postmarket_close=close + dt.timedelta(hours=POSTMARKET_HOURS),
    )


def latest_closed_session(now: dt.datetime | None = None) -> dt.date:
    """The most recent session whose regular close has passed (at ``now``, default the wall clock)."""
    now = now or dt.datetime.now(UTC)
    today = now.astimezone(NY).date()
    if is_session(today) and now >= session_close(today):
        return today
    return previous_session(today)


def today_ny() -> dt.date:
    """Today's date in New York (the machine's own date may already be tomorrow)."""
    return dt.datetime.now(NY).date()


def session_open(value: dt.date | str) -> dt.datetime:
    return session_times(value).open


def session_close(value: dt.date | str) -> dt.datetime:
    return session_times(value).close


def is_early_close(value: dt.date | str) -> bool:
    return session_times(value).is_early_close


def session_frame(start: dt.date | str, end: dt.date | str) -> pl.DataFrame:
    """One row per session in the range with its bounds (UTC), for vectorized joins against bars."""
    rows = [session_times(d) for d in sessions_in_range(start, end)]
    ts_type = pl.Datetime("us", "UTC")
    return pl.DataFrame(
        {
            "date": [r.date for r in rows],
            "premarket_open": [r.premarket_open for r in rows],
            "open": [r.open for r in rows],
            "close": [r.close for r in rows],
            "postmarket_close": [r.postmarket_close for r in rows],
        },
        schema={"date": pl.Date, "premarket_open": ts_type, "open": ts_type, "close": ts_type, "postmarket_close": ts_type},
    )
