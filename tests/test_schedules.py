"""Session schedules evaluated at chosen instants (New York time): what they request, and why not."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from tradingstation.core import calendar
from tradingstation.definitions import SCHEDULES, defs

BY_NAME = {s.name: s for s in SCHEDULES}
REPO = defs.get_repository_def()


def tick(name: str, when: str) -> dg.ScheduleExecutionData:
    instant = dt.datetime.fromisoformat(when).replace(tzinfo=calendar.NY)
    context = dg.build_schedule_context(scheduled_execution_time=instant, repository_def=REPO)
    return BY_NAME[name].evaluate_tick(context)


def requested(result: dg.ScheduleExecutionData) -> list[tuple[str, str, list[str]]]:
    return [
        (r.run_key, r.partition_key, sorted(k.path[-1] for k in r.asset_selection or []))
        for r in result.run_requests or []
    ]


def test_schedules_run_in_new_york_time() -> None:
    assert {s.execution_timezone for s in SCHEDULES} == {"America/New_York"}
    assert set(BY_NAME) == {"premarket_schedule", "market_schedule", "postmarket_schedule", "maintenance_schedule"}


def test_early_close_market_ticks() -> None:
    runs = requested(tick("market_schedule", "2025-11-28T12:55"))
    assert [r[:2] for r in runs] == [("market:2025-11-28:1255", "2025-11-28")]
    late = tick("market_schedule", "2025-11-28T13:05")
    assert not late.run_requests and "closed (regular hours until 13:00 ET)" in late.skip_message


def test_every_market_tick_refreshes_the_plan_as_of_the_tick() -> None:
    result = tick("market_schedule", "2025-12-01T10:05")
    (request,) = result.run_requests
    assert "master_dashboard" in {k.path[-1] for k in request.asset_selection}
    as_of = dt.datetime.fromisoformat(request.tags["tradingstation/as_of"])
    assert as_of == dt.datetime(2025, 12, 1, 10, 5, tzinfo=calendar.NY)


def test_orb_waits_for_the_opening_range() -> None:
    (_, _, early), = requested(tick("market_schedule", "2025-12-01T09:40"))
    (_, _, later), = requested(tick("market_schedule", "2025-12-01T09:45"))
    assert "orb_signals" not in early and "orb_signals" in later
    assert not tick("market_schedule", "2025-12-01T09:25").run_requests


def test_postmarket_runs_once_after_the_early_close_and_not_before_a_normal_close() -> None:
    assert requested(tick("postmarket_schedule", "2025-11-28T13:15")) == [
        ("postmarket:2025-11-28", "2025-11-28", ["daily_bars", "exhaustion_reversal_signals", "intraday_1m", "intraday_30m",
                                                 "master_dashboard", "screener_scorecard", "signal_outcomes"])
    ]
    # Same run key at every later tick of the session: Dagster launches it once.
    assert requested(tick("postmarket_schedule", "2025-11-28T16:30"))[0][0] == "postmarket:2025-11-28"
    assert "closes at 16:00 ET" in tick("postmarket_schedule", "2025-12-01T15:45").skip_message


@pytest.mark.parametrize("name", ["premarket_schedule", "market_schedule", "postmarket_schedule"])
@pytest.mark.parametrize("day, why", [("2025-12-25", "an NYSE holiday"), ("2025-11-29", "a weekend"), ("2026-06-19", "an NYSE holiday")])
def test_non_sessions_are_skipped_with_the_reason(name: str, day: str, why: str) -> None:
    result = tick(name, f"{day}T10:00" if name == "market_schedule" else f"{day}T08:00" if name == "premarket_schedule" else f"{day}T17:00")
    assert not result.run_requests and result.skip_message == f"{day} is not an NYSE trading session ({why})"


def test_premarket_fetches_yesterdays_daily_bar_then_todays_premarket() -> None:
    runs = requested(tick("premarket_schedule", "2025-12-26T08:00"))
    assert runs == [
        ("daily:2025-12-24", "2025-12-24", ["daily_bars"]),
        ("premarket:2025-12-26:0800", "2025-12-26", ["avwap_anchors", "earnings", "gapgo_signals", "intraday_1m",
                                                     "universe"]),
    ]
    assert "opened at 09:30 ET" in tick("premarket_schedule", "2025-12-26T09:30").skip_message


@pytest.mark.parametrize("day", ["2025-03-07", "2025-03-10", "2025-10-31", "2025-11-03"])  # around both DST changes
def test_daylight_saving_does_not_shift_the_session(day: str) -> None:
    assert not tick("market_schedule", f"{day}T09:25").run_requests
    assert requested(tick("market_schedule", f"{day}T09:30"))[0][0] == f"market:{day}:0930"
    assert requested(tick("market_schedule", f"{day}T15:55"))


def test_maintenance_runs_each_session_evening_only() -> None:
    assert requested(tick("maintenance_schedule", "2025-11-28T20:00")) == [
        ("maintenance:2025-11-28", "2025-11-28", ["lake_maintenance"])
    ]
    assert "a weekend" in tick("maintenance_schedule", "2025-11-29T20:00").skip_message
