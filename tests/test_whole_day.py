"""A whole synthetic trading day, walked through every schedule tick against a real (SQLite) instance.

The operator's history backfill first, then every tick of the premarket, market, postmarket and
maintenance schedules in time order; each requested run is executed once per run key, as the
daemon would. The day must end with a dashboard holding signals from every screener, every
asset check evaluated, nothing stale, and a healthy maintenance run.
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator

from screeners.registry import SCREENERS
from tradingstation.checks import ALL_CHECKS
from tradingstation.cli import runs as cli
from tradingstation.core import calendar
from tradingstation.lake import Lake
from tradingstation.quality import freshness

from history import prepared_workspace

DAY = dt.date(2025, 11, 25)
# Symbols whose synthetic bars give every screener something on DAY, plus some that give nothing.
UNIVERSE = "GL,DLTR,MRK,NOW,AON,WAB,NEM,MPWR,KR,HIG,ODFL,GRMN,KO,PG"
# The operator's one-time backfill (as `make run` does), built once per test session (tests/history.py).
# No charts on the page (TRADINGSTATION_CHART_ROWS=0): drawing them would be half of the walk's time, and
# the charts are tested in test_charts.py and in test_session_chain.py's whole session.
whole_day_history = prepared_workspace(
    "whole_day_history", day=DAY.isoformat(), env={"TRADINGSTATION_UNIVERSE": UNIVERSE, "TRADINGSTATION_CHART_ROWS": "0"}
)


def ticks(schedule: dg.ScheduleDefinition) -> list[dt.datetime]:
    start = dt.datetime.combine(DAY, dt.time(0, 0), tzinfo=calendar.NY)
    crons = [schedule.cron_schedule] if isinstance(schedule.cron_schedule, str) else schedule.cron_schedule
    out = []
    for cron in crons:
        for when in cron_string_iterator(start.timestamp(), cron, str(calendar.NY)):
            if when.astimezone(calendar.NY).date() != DAY:
                break
            out.append(when)
    return out


@pytest.mark.slow
def test_a_whole_day_through_every_schedule_tick(whole_day_history: Path) -> None:
    # A copy of the lake and instance after the operator's backfill; LAKE_ROOT, DAGSTER_HOME, UNIVERSE set.
    assert "backfilling daily_bars history: 199 session(s)" in (whole_day_history / "history.log").read_text()
    assert cli.ensure_history(DAY, "WARNING")  # the backfill left nothing missing: no run here

    from tradingstation.definitions import build_definitions

    defs = build_definitions()
    repo, job = defs.get_repository_def(), defs.resolve_job_def("session_job")
    schedules = repo.schedule_defs
    schedule_ticks = sorted(((when, s) for s in schedules for when in ticks(s)), key=lambda pair: pair[0])
    launched: set[str] = set()
    results: list[dg.ExecuteInProcessResult] = []
    with dg.DagsterInstance.get() as instance:
        for when, schedule in schedule_ticks:
            context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=repo)
            for request in schedule.evaluate_tick(context).run_requests or []:
                if request.run_key in launched:  # the daemon launches a run key once
                    continue
                launched.add(request.run_key)
                result = job.execute_in_process(
                    instance=instance, partition_key=request.partition_key, raise_on_error=False,
                    asset_selection=list(request.asset_selection), tags={**request.tags, "dagster/run_key": request.run_key},
                )
                assert result.success, f"{request.run_key} failed"
                results.append(result)
        scheduled = instance.get_runs(dg.RunsFilter(tags={"tradingstation/session": "market"}), limit=500)
        assert len(scheduled) == len([r for r in results if r.dagster_run.tags["tradingstation/session"] == "market"])

    market = [k for k in launched if k.startswith("market:")]
    assert len(market) == 78 and {"premarket:2025-11-25:0700", "postmarket:2025-11-25", "maintenance:2025-11-25"} <= launched

    lake = Lake(str(whole_day_history / "lake"))
    plan = lake.read("master_dashboard", DAY, DAY)
    assert set(plan["screeners"].str.split(", ").explode()) == set(SCREENERS)

    evaluated = {(e.asset_key.path[-1], e.check_name): e for r in results for e in r.get_asset_check_evaluations()}
    expected = {(key.asset_key.path[-1], key.name) for check in ALL_CHECKS for key in check.check_keys}
    assert expected <= set(evaluated), expected - set(evaluated)
    assert all(e.passed for (_, name), e in evaluated.items() if name == "bar_integrity")

    last_tick = dt.datetime.combine(DAY, dt.time(15, 55), tzinfo=calendar.NY)
    assert not [r for r in freshness.evaluate(lake, last_tick) if r.stale]
    maintenance = [r for r in results if r.dagster_run.tags.get("tradingstation/session") == "maintenance"]
    meta = maintenance[0].get_asset_materialization_events()[0].event_specific_data.materialization.metadata
    assert meta["health_data"].value and meta["health_signals"].value and meta["health_storage"].value
