import datetime as dt

import dagster as dg
import pytest

from tradingstation.core import calendar
from tradingstation.core.errors import NotASessionError
from tradingstation.partitions import SESSION_PARTITIONS, session_key, sessions_window

HOLIDAYS = ["2025-07-04", "2025-11-27", "2025-12-25", "2026-04-03", "2026-06-19"]


@pytest.mark.parametrize("day", HOLIDAYS)
def test_holidays_are_not_sessions_nor_partition_keys(day: str) -> None:
    assert not calendar.is_session(day)
    assert day not in SESSION_PARTITIONS.get_partition_keys_in_range(
        dg.PartitionKeyRange("2025-01-02", "2026-12-31")
    )
    with pytest.raises(NotASessionError, match="holiday"):
        calendar.session(day)


def test_weekend_is_named_as_such() -> None:
    with pytest.raises(NotASessionError, match="weekend"):
        session_key("2025-07-05")


def test_day_after_thanksgiving_closes_at_1300_new_york() -> None:
    times = calendar.session_times("2025-11-28")
    assert times.close.astimezone(calendar.NY).time() == dt.time(13, 0)
    assert times.is_early_close
    assert times.postmarket_close.astimezone(calendar.NY).time() == dt.time(17, 0)
    assert "2025-11-28" in SESSION_PARTITIONS.get_partition_keys_in_range(
        dg.PartitionKeyRange("2025-11-26", "2025-12-01")
    )


def test_session_windows_are_utc_aware_and_follow_daylight_saving() -> None:
    summer, winter = calendar.session_times("2025-07-03"), calendar.session_times("2025-12-01")
    assert summer.open == dt.datetime(2025, 7, 3, 13, 30, tzinfo=dt.timezone.utc)
    assert winter.open == dt.datetime(2025, 12, 1, 14, 30, tzinfo=dt.timezone.utc)
    assert winter.premarket_open.astimezone(calendar.NY).time() == dt.time(4, 0)
    assert winter.postmarket_close.astimezone(calendar.NY).time() == dt.time(20, 0)
    assert summer.part(summer.open - dt.timedelta(minutes=1)) == "pre"
    assert summer.part(summer.close) == "post"
    assert summer.part(summer.postmarket_close) is None


def test_previous_and_next_session_skip_holidays_and_weekends() -> None:
    assert calendar.previous_session("2025-07-07") == dt.date(2025, 7, 3)
    assert calendar.previous_session("2025-07-05") == dt.date(2025, 7, 3)
    assert calendar.next_session("2025-07-03") == dt.date(2025, 7, 7)
    assert calendar.sessions_before("2025-12-01", 2) == [dt.date(2025, 11, 26), dt.date(2025, 11, 28)]


def test_partitions_match_the_calendar_for_a_whole_year() -> None:
    keys = SESSION_PARTITIONS.get_partition_keys_in_range(dg.PartitionKeyRange("2025-01-02", "2025-12-31"))
    expected = [d.isoformat() for d in calendar.sessions_in_range("2025-01-01", "2025-12-31")]
    assert keys == expected
    assert len(keys) == 250  # 2025 had 250 NYSE sessions (incl. the 2025-01-09 national day of mourning closure)


def test_window_mapping_counts_sessions_not_days() -> None:
    mapping = sessions_window(3, include_current=False)
    result = mapping.get_upstream_mapped_partitions_result_for_partitions(
        SESSION_PARTITIONS.subset_with_partition_keys(["2025-07-07"]), SESSION_PARTITIONS, SESSION_PARTITIONS
    )
    assert result.partitions_subset.get_partition_keys() == ["2025-07-01", "2025-07-02", "2025-07-03"]


def test_calendar_known_a_year_ahead() -> None:
    assert calendar.last_known_date() >= dt.date.today() + dt.timedelta(days=365)


@pytest.mark.parametrize("bad", ["2025-13-01", "yesterday", ""])
def test_malformed_dates_are_rejected_clearly(bad: str) -> None:
    with pytest.raises(NotASessionError):
        calendar.session(bad)


def test_cached_lookups_agree_with_exchange_calendars_on_every_day() -> None:
    """The date index the lookups use says what exchange_calendars says, day by day, 1995 to the end."""
    xnys = calendar.calendar()
    assert calendar.all_sessions() == [ts.date() for ts in xnys.sessions]
    day, last = calendar.FIRST_SESSION - dt.timedelta(days=3), calendar.last_known_date()
    assert last == xnys.last_session.date()
    while day <= last:
        expected = day >= calendar.FIRST_SESSION and bool(xnys.is_session(day.isoformat()))
        assert calendar.is_session(day) is expected, day
        day += dt.timedelta(days=1)
    assert calendar.previous_session("2025-11-28") == dt.date(2025, 11, 26)  # Thanksgiving skipped
    assert calendar.next_session("2025-11-26") == dt.date(2025, 11, 28)
    assert calendar.sessions_before("2025-11-28", 2) == [dt.date(2025, 11, 25), dt.date(2025, 11, 26)]
    assert calendar.sessions_in_range("2025-11-27", "2025-11-27") == []
    with pytest.raises(NotASessionError, match="no session before"):
        calendar.previous_session(calendar.FIRST_SESSION)
