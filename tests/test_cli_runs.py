"""CLI runs are first-class runs; session modes with nothing to do say so (issue 9, items 1, 6 and 5).

A run `tradingstation materialize` or `run --mode` starts carries the code location's origins, so
the webserver re-executes it (GraphQL `launchRunReexecution` against workspace.yaml's own
location, in a code server process), the run-failure sensor of the location alerts on it, and an
instance whose dagster.yaml configures a queue gets it in that queue. A session mode before its
window skips with its schedule's reason and writes nothing. `make run`'s history covers every bar
dataset a screener reads. Bounded: one code server, runs of two symbols, polls with a deadline.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from tradingstation import cli, schedules
from tradingstation.cli import commands, launch, runs
from tradingstation.core import calendar
from tradingstation.lake import Lake

REPO = Path(__file__).resolve().parent.parent
DAY = "2025-11-26"  # a Wednesday session (regular hours until 16:00 ET)
SYMBOLS = "NVDA,AAPL"
NO_QUEUE = {"telemetry": {"enabled": False},
            "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "DefaultRunCoordinator"}}
REEXECUTE = """
mutation($params: ReexecutionParams) {
  launchRunReexecution(reexecutionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId parentRunId } }
    ... on PythonError { message }
  }
}"""


def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: dict) -> Path:
    """A lake and a Dagster instance of their own, configured by ``config`` (dagster.yaml)."""
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "synthetic")
    monkeypatch.setenv("TRADINGSTATION_UNIVERSE", SYMBOLS)
    return tmp_path / "lake"


def at_ny(day: str, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), tzinfo=calendar.NY)


def wait_finished(instance: dg.DagsterInstance, run_id: str, seconds: float = 240) -> dg.DagsterRun:
    deadline = time.monotonic() + seconds
    run = instance.get_run_by_id(run_id)
    while run is not None and not run.is_finished and time.monotonic() < deadline:
        time.sleep(0.5)
        run = instance.get_run_by_id(run_id)
    assert run is not None
    return run


def materialized(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    return {r.event_log_entry.dagster_event.asset_key.to_user_string() for r in records}


# --- item 1: origins, re-execution from the UI ---------------------------------------------------


def test_a_cli_run_is_a_run_of_the_code_location_and_reexecutes_from_the_ui(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    from tradingstation.definitions import build_definitions

    lake = home(tmp_path, monkeypatch, NO_QUEUE)
    assert cli.main(["materialize", "--date", DAY, "--select", "universe,daily_bars", "--no-history"]) == 0
    assert "✓ daily_bars" in capsys.readouterr().out  # the live step display is kept
    with dg.DagsterInstance.get() as instance:
        (parent,) = instance.get_runs()
        assert parent.remote_job_origin.location_name == "tradingstation"
        assert parent.remote_job_origin.repository_origin.repository_name == "__repository__"
        assert parent.job_code_origin.repository_origin.code_pointer.module == "tradingstation.definitions"
        assert parent.asset_selection == {dg.AssetKey("universe"), dg.AssetKey("daily_bars")}
        checks = {c.name for c in parent.asset_check_selection}  # the job's checks of daily_bars, no wall clock
        assert "bar_integrity" in checks and not any("freshness" in name for name in checks)
        # A run as the CLI made them before (execute_in_process): no origin, and the UI cannot re-execute it.
        legacy = build_definitions().resolve_job_def("market_data_job").execute_in_process(
            instance=instance, partition_key=DAY, asset_selection=[dg.AssetKey("universe")]
        )
        written = (lake / "daily_bars" / f"date={DAY}" / "part-0.parquet").stat().st_mtime_ns

        with define_out_of_process_context(str(REPO / "workspace.yaml"), None, instance) as context:
            refused = execute_dagster_graphql(
                context, REEXECUTE, {"params": {"parentRunId": legacy.run_id, "strategy": "ALL_STEPS"}}
            ).data["launchRunReexecution"]
            launched = execute_dagster_graphql(
                context, REEXECUTE, {"params": {"parentRunId": parent.run_id, "strategy": "ALL_STEPS"}}
            ).data["launchRunReexecution"]
            assert launched["__typename"] == "LaunchRunSuccess", launched
            child = wait_finished(instance, launched["run"]["runId"])

        assert refused["__typename"] == "PythonError" and "Expected non-None value" in refused["message"]
        assert launched["run"]["parentRunId"] == parent.run_id
        assert child.status == dg.DagsterRunStatus.SUCCESS, child.status
        assert materialized(instance, child.run_id) == {"universe", "daily_bars"}
        assert child.tags["dagster/partition"] == DAY
        # It inherits the CLI's pid and host tags (the orphan sweep leaves it alone: the next test).
        assert child.tags[runs.PID_TAG] == parent.tags[runs.PID_TAG]
    assert (lake / "daily_bars" / f"date={DAY}" / "part-0.parquet").stat().st_mtime_ns > written


def test_the_orphan_sweep_fails_a_dead_cli_run_but_not_a_reexecution_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home(tmp_path, monkeypatch, NO_QUEUE)
    with dg.DagsterInstance.get() as instance:
        dead = {runs.PID_TAG: "999999999", runs.HOST_TAG: socket.gethostname()}  # no such process
        orphan = dg.DagsterRun(job_name="session_job", status=dg.DagsterRunStatus.STARTED, tags=dead)
        child = dg.DagsterRun(job_name="session_job", status=dg.DagsterRunStatus.STARTED,
                              tags={**dead, "dagster/parent_run_id": orphan.run_id})
        for run in (orphan, child):
            instance.add_run(run)
        assert runs.fail_orphaned_runs(instance) == [orphan.run_id]
        assert instance.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(child.run_id).status == dg.DagsterRunStatus.STARTED


# --- item 1: the run-failure sensor --------------------------------------------------------------


def test_the_run_failure_sensor_alerts_on_a_failed_cli_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from tradingstation.definitions import build_definitions
    from tradingstation.resources.sources.synthetic_source import SyntheticSource
    from tradingstation.sensors import run_failure

    home(tmp_path, monkeypatch, NO_QUEUE)
    alerts: list[dict] = []
    monkeypatch.setattr(run_failure, "send_alert", lambda title, text, fields, severity: alerts.append(fields))

    def source_down(self, symbols, interval, start, end):
        raise ConnectionError("HTTP 503 from the source")

    with dg.DagsterInstance.get() as instance, launch.code_location(instance) as (_, location):
        repository = location.get_repository("__repository__")

        def tick(cursor: str | None) -> str | None:  # one evaluation, as the daemon makes it
            data = location.get_sensor_execution_data(
                instance, repository.handle, "run_failure_alert", None, None, cursor, None, None
            )
            return data.cursor

        cursor = tick(None)  # a run-status sensor starts from the newest event
        monkeypatch.setattr(SyntheticSource, "_fetch", source_down)
        assert cli.main(["materialize", "--date", DAY, "--select", "universe,daily_bars", "--no-history"]) == 1
        (failed,) = instance.get_runs()
        legacy = build_definitions().resolve_job_def("market_data_job").execute_in_process(
            instance=instance, partition_key=DAY, asset_selection=[dg.AssetKey("daily_bars")], raise_on_error=False
        )  # failed too, without an origin: the sensor of a code location never sees such a run
        assert not legacy.success and failed.status == dg.DagsterRunStatus.FAILURE
        tick(cursor)
    assert [a["run_id"] for a in alerts] == [failed.run_id]
    assert alerts[0]["failed_steps"] == ["universe"] and alerts[0]["partition"] == DAY  # the source fails first there


# --- item 1: an instance with a run queue --------------------------------------------------------


def test_an_instance_with_a_run_queue_gets_the_cli_runs_in_its_queue_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

    production = yaml.safe_load((REPO / "dagster.yaml").read_text())  # its queue, without its PostgreSQL
    lake = home(tmp_path, monkeypatch, {"telemetry": {"enabled": False}, "run_coordinator": production["run_coordinator"],
                                        "concurrency": production["concurrency"]})
    assert cli.main(["run", "--mode", "premarket", "--date", DAY, "--tickers", "NVDA"]) == 0
    out = capsys.readouterr().out
    assert "the daemon (dagster-daemon run) will launch it" in out and f"premarket for {DAY} queued" in out
    assert "✓" not in out and not list(lake.rglob("*.parquet"))  # nothing executed here
    with dg.DagsterInstance.get() as instance:
        daily, premarket = sorted(instance.get_runs(), key=lambda r: instance.get_run_record_by_id(r.run_id).create_timestamp)
        for run in (daily, premarket):
            assert run.status == dg.DagsterRunStatus.QUEUED
            assert run.remote_job_origin.location_name == "tradingstation" and run.job_code_origin is not None
            assert runs.PID_TAG not in run.tags  # the daemon's launcher runs it, not this process
            assert run.tags[launch.CHAIN_TAG] == launch.CHAIN
        assert daily.tags["dagster/partition"] == calendar.previous_session(DAY).isoformat()
        # production's queue launches one run of a chain at a time, the first submitted first
        queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
        batch = queue._get_runs_to_dequeue(instance, instance.get_concurrency_config(), fixed_iteration_time=None)
        assert [r.run_id for r in batch] == [daily.run_id]


def test_only_a_queue_the_instance_configures_gets_the_cli_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster's implicit default is a queue no daemon serves in the embedded default: runs execute here."""
    home(tmp_path, monkeypatch, {"telemetry": {"enabled": False}})
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert not launch.queues_runs(instance)
    queued = {"run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"}}
    (tmp_path / "home" / "dagster.yaml").write_text(yaml.safe_dump(queued))
    with dg.DagsterInstance.get() as instance:
        assert launch.queues_runs(instance)


def test_the_cli_names_the_location_workspace_yaml_and_pyproject_load() -> None:
    import tomllib

    (entry,) = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]
    assert entry["python_module"] == {"module_name": launch.DEFINITIONS_MODULE, "location_name": launch.LOCATION_NAME}
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dagster"]
    assert (tool["module_name"], tool["code_location_name"]) == (launch.DEFINITIONS_MODULE, launch.LOCATION_NAME)
    limits = yaml.safe_load((REPO / "dagster.yaml").read_text())["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": launch.CHAIN_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


# --- item 6: session modes with nothing to do ----------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "clock", "plan"),
    [
        ("market", at_ny(DAY, 9, 0), schedules.market_requests),
        ("postmarket", at_ny(DAY, 15, 30), schedules.postmarket_requests),
    ],
)
def test_a_session_mode_before_its_window_skips_with_its_schedules_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, mode: str, clock: dt.datetime, plan
) -> None:
    lake = home(tmp_path, monkeypatch, NO_QUEUE)
    monkeypatch.setattr(commands, "now", lambda: clock.astimezone(dt.timezone.utc))
    (reason,) = [r.skip_message for r in plan(clock.astimezone(dt.timezone.utc))]
    for argv in (["run", "--mode", mode], ["run", "--mode", mode, "--date", DAY]):  # today, named or not
        assert cli.main(argv) == 0
        out = capsys.readouterr().out
        assert f"nothing to do yet: {reason}" in out
    assert "has not opened" in reason or "closes at 16:00 ET" in reason
    assert not lake.exists()
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs() == []


def test_a_non_session_day_skips_with_the_schedules_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    lake = home(tmp_path, monkeypatch, NO_QUEUE)
    monkeypatch.setattr(commands, "now", lambda: at_ny("2025-11-29", 10))  # a Saturday
    assert cli.main(["run", "--mode", "market"]) == 0
    assert "2025-11-29 is not an NYSE trading session (a weekend)" in capsys.readouterr().out
    assert not lake.exists()


def test_a_named_closed_session_runs_whatever_the_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Before the open of 2025-11-26, the closed session 2025-11-25 runs (at 09:00, the ORB included)."""
    home(tmp_path, monkeypatch, NO_QUEUE)
    started = record_runs(monkeypatch)
    monkeypatch.setattr(commands, "now", lambda: at_ny(DAY, 9, 0))
    assert cli.main(["run", "--mode", "postmarket", "--date", "2025-11-25"]) == 0
    assert cli.main(["run", "--mode", "market", "--date", "2025-11-25"]) == 0
    assert started == [("2025-11-25", schedules.POSTMARKET_ASSETS), ("2025-11-25", [*schedules.MARKET_ASSETS, "orb_signals"])]
    assert "postmarket for 2025-11-25 succeeded" in capsys.readouterr().out


def record_runs(monkeypatch: pytest.MonkeyPatch, tags: list | None = None) -> list[tuple[str, list[str]]]:
    """Replace the run the CLI starts with a record of (session, assets), and of its tags in ``tags``."""
    started: list[tuple[str, list[str]]] = []

    class Done:
        success, run_id = True, "recorded"

        def get_asset_materialization_events(self) -> list:
            return []

        def get_step_failure_events(self) -> list:
            return []

    def record(job: str, *, key: str, assets: list[str], **kwargs) -> Done:
        started.append((key, assets))
        if tags is not None:
            tags.append(kwargs.get("tags"))
        return Done()

    monkeypatch.setattr(commands, "execute", record)
    return started


def test_the_market_mode_runs_what_its_schedule_runs_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At 09:40 the opening range has not closed: no ORB yet, as the schedule says; at 09:50 there is."""
    home(tmp_path, monkeypatch, NO_QUEUE)
    tags: list[dict] = []
    started = record_runs(monkeypatch, tags)
    for minute in (40, 50):
        monkeypatch.setattr(commands, "now", lambda minute=minute: at_ny(DAY, 9, minute))
        assert cli.main(["run", "--mode", "market"]) == 0
    assert started == [(DAY, schedules.MARKET_ASSETS), (DAY, [*schedules.MARKET_ASSETS, "orb_signals"])]
    assert tags[1] == dict(next(schedules.market_requests(at_ny(DAY, 9, 50))).tags)  # tagged as the schedule tags


def test_daily_mode_exits_non_zero_on_an_unhealthy_lake_and_zero_on_a_healthy_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from tradingstation.ops import health

    home(tmp_path, monkeypatch, NO_QUEUE)
    assert cli.main(["run", "--mode", "daily", "--date", DAY]) == 1  # an empty lake: nothing screened that day
    out = capsys.readouterr().out
    assert "the lake is UNHEALTHY" in out and "signals" in out

    # The same run on a lake maintenance finds healthy (its judges replaced): exit 0.
    monkeypatch.setattr(health, "health", lambda *args, **kwargs: _Verdict("health: HEALTHY"))
    monkeypatch.setattr("tradingstation.maintenance.verify", lambda *args, **kwargs: _Verdict("lake verify: OK"))
    assert cli.main(["run", "--mode", "daily", "--date", DAY]) == 0, capsys.readouterr().out
    assert f"daily for {DAY} succeeded" in capsys.readouterr().out


class _Verdict:
    ok, errors, checks = True, [], []

    def __init__(self, text: str) -> None:
        self.text = text

    def summary(self) -> str:
        return self.text


# --- item 5 (part): the history the screeners read -----------------------------------------------


def test_the_history_covers_every_bar_dataset_a_screener_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    from screeners import orb
    from screeners.registry import SCREENERS, ScreenerInput

    assert runs.history_assets() == {"daily_bars": 199, "intraday_1m": orb.OrbParams.rvol_sessions, "intraday_30m": 10}
    deeper = SCREENERS["orb"].__class__(**{**SCREENERS["orb"].__dict__, "name": "toy",
                                           "inputs": (ScreenerInput("intraday_30m", "intraday_30m", 40),)})
    monkeypatch.setitem(SCREENERS, "toy", deeper)
    monkeypatch.setenv("TRADINGSTATION_RETENTION_DAILY_BARS", "250")
    assert runs.history_assets() == {"daily_bars": 249, "intraday_1m": 5, "intraday_30m": 40}


def test_ensure_history_backfills_the_intraday_history_orb_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    lake = home(tmp_path, monkeypatch, NO_QUEUE)
    monkeypatch.setattr(runs, "history_assets", lambda: {"intraday_1m": 5})  # just ORB's, to stay small
    assert runs.ensure_history(dt.date.fromisoformat(DAY), "WARNING")
    assert "backfilling intraday_1m history: 5 session(s)" in capsys.readouterr().out
    assert Lake(str(lake)).sessions("intraday_1m") == calendar.sessions_before(DAY, 5)


def test_a_history_run_recomputes_no_universe_the_lake_already_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = home(tmp_path, monkeypatch, NO_QUEUE)
    monkeypatch.setattr(runs, "history_assets", lambda: {"daily_bars": 6, "intraday_1m": 3})
    assert runs.ensure_history(dt.date.fromisoformat(DAY), "WARNING")
    with dg.DagsterInstance.get() as instance:
        selected = [sorted(k.to_user_string() for k in r.asset_selection or ()) for r in reversed(instance.get_runs())]
    # the daily history's run wrote the universe of every session the 1-minute history spans
    assert selected == [["daily_bars", "universe"], ["intraday_1m"]]
    assert Lake(str(lake)).sessions("intraday_1m") == calendar.sessions_before(DAY, 3)

    # a session without its universe: the run computes the universes again
    (lake / "universe" / f"date={calendar.sessions_before(DAY, 1)[0]}" / "part-0.parquet").unlink()
    (lake / "intraday_1m" / f"date={calendar.sessions_before(DAY, 1)[0]}" / "part-0.parquet").unlink()
    assert runs.ensure_history(dt.date.fromisoformat(DAY), "WARNING")
    with dg.DagsterInstance.get() as instance:
        last = instance.get_runs(limit=1)[0]
    assert sorted(k.to_user_string() for k in last.asset_selection or ()) == ["intraday_1m", "universe"]


def test_a_session_before_the_partitions_is_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from tradingstation.partitions import SESSION_PARTITIONS

    home(tmp_path, monkeypatch, NO_QUEUE)
    before = calendar.previous_session(SESSION_PARTITIONS.start.date()).isoformat()
    assert cli.main(["materialize", "--date", before, "--select", "universe", "--no-history"]) == 2
    assert f"session_job has no partition {before}" in capsys.readouterr().err
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs() == []  # refused before any run was created
