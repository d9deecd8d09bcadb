"""The embedded instance's SQLite storage: Dagster's files, its connections kept open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from tradingstation.cli import runs
from tradingstation.resources.sqlite_storage import PooledSqliteEventLogStorage, PooledSqliteRunStorage


@dg.asset
def tiny() -> int:
    return 1


def test_a_new_local_instance_keeps_its_connections_and_dagster_reads_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with runs.instance() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        assert isinstance(instance.run_storage, PooledSqliteRunStorage)
        for _ in range(5):
            assert dg.materialize([tiny], instance=instance).success
        engines = instance.event_log_storage._engines._engines
        # one engine per database file (the index and the five runs' shards), however many statements
        assert len(engines) == 6, sorted(engines)
        assert len(instance.run_storage._engines._engines) == 1
    assert (home / "history" / "runs.db").is_file() and (home / "history" / "runs" / "index.db").is_file()

    # Dagster's own SQLite storage, in another process, reads the same files.
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {home}\n")
    probe = (
        "import dagster as dg\n"
        "i = dg.DagsterInstance.get()\n"
        "print(type(i.event_log_storage).__name__, len(i.get_runs()),"
        " i.get_latest_materialization_event(dg.AssetKey('tiny')) is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], env={"DAGSTER_HOME": str(tmp_path / "plain"), "PATH": ""},
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["SqliteEventLogStorage", "5", "True"]


def test_an_existing_instance_config_is_left_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with runs.instance() as instance:
        assert not isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_many_threads_share_the_kept_connections_safely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A webserver or daemon reads from many threads while a run writes: more threads than kept
    connections, each statement on a connection no other thread is using."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    with runs.instance() as instance:
        assert dg.materialize([tiny], instance=instance).success

        def read(_: int) -> int:
            return sum(len(instance.get_runs()) + len(instance.get_records_for_run(r.run_id).records)
                       for r in instance.get_runs())

        with ThreadPoolExecutor(max_workers=12) as pool:
            readers = [pool.submit(read, i) for i in range(60)]
            for _ in range(3):
                assert dg.materialize([tiny], instance=instance).success
            counts = [f.result() for f in readers]
        assert len(instance.get_runs()) == 4 and all(c > 0 for c in counts)


def test_the_files_are_in_write_ahead_log_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with runs.instance() as instance:
        run_id = dg.materialize([tiny], instance=instance).run_id
    for db_file in (home / "history" / "runs.db", home / "history" / "runs" / "index.db",
                    home / "history" / "runs" / f"{run_id}.db"):
        with sqlite3.connect(db_file) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal", db_file


def test_the_live_run_view_sees_each_event_while_the_run_is_still_going(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UI follows a running run through ``watch``: an event must reach it before the run ends,
    though in WAL mode the run's ``.db`` file is not touched until a checkpoint."""
    import threading

    heard = threading.Event()

    def callback(entry, _cursor) -> None:  # noqa: ANN001
        if entry.user_message == "halfway":
            heard.set()

    @dg.asset
    def waits(context) -> bool:  # noqa: ANN001  (Dagster reads the annotation; a string one fails)
        storage = context.instance.event_log_storage
        storage.watch(context.run_id, None, callback)
        context.log.info("halfway")
        try:
            return heard.wait(20)  # the run goes on only when the watcher has seen the line
        finally:
            storage.end_watch(context.run_id, callback)

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    with runs.instance() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = dg.materialize([waits], instance=instance)
        assert result.success and result.output_for_node("waits") is True, "the watcher missed a running run's event"


def test_the_cli_keeps_one_instance_until_it_is_disposed_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    first = runs.instance()
    assert runs.instance() is first  # every run of one command shares it
    with first:
        pass
    second = runs.instance()  # disposed of: not handed out again
    assert second is not first and len(second.get_runs()) == 0
    runs.dispose_instances()
    assert runs.instance() is not second
    runs.dispose_instances()


def test_a_process_reading_many_runs_keeps_only_the_recent_shards_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webserver browsing old runs must not hold every run's SQLite files open (three descriptors a
    connection in WAL mode): engines beyond the most recent ``KEPT`` are closed, and reopen on use."""
    import os

    monkeypatch.setattr("tradingstation.resources.sqlite_storage._Engines.KEPT", 4)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    with runs.instance() as instance:
        ids = [dg.materialize([tiny], instance=instance).run_id for _ in range(8)]
        engines = instance.event_log_storage._engines._engines
        assert len(engines) <= 4
        open_files = lambda: sum(1 for f in os.listdir("/proc/self/fd")  # noqa: E731
                                 if os.path.realpath(f"/proc/self/fd/{f}").startswith(str(tmp_path)))
        assert open_files() <= 4 * 2 * 3 + 6  # kept engines x pooled connections x (db, wal, shm) + runs.db
        for run_id in ids:  # every run's log still reads: an evicted shard reopens
            kinds = {r.event_log_entry.dagster_event.event_type for r in instance.get_records_for_run(run_id).records
                     if r.event_log_entry.dagster_event}
            assert dg.DagsterEventType.RUN_SUCCESS in kinds, run_id
        assert len(engines) <= 4


DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-02-01")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily_tiny(context) -> None:  # noqa: ANN001  (Dagster reads the annotation; a string one fails)
    context.log.info(f"{len(context.partition_keys)} day(s)")


@dg.asset_check(asset=daily_tiny, partitions_def=DAYS)
def daily_tiny_check(context) -> dg.AssetCheckResult:  # noqa: ANN001
    return dg.AssetCheckResult(passed=True)


@dg.asset_check(asset=daily_tiny, partitions_def=DAYS)
def daily_tiny_fails_on_the_tenth(context) -> dg.AssetCheckResult:  # noqa: ANN001
    for key in context.partition_keys:  # a range run: one evaluation per partition, as the bar checks do
        yield dg.AssetCheckEvaluation(asset_key=daily_tiny.key, check_name="daily_tiny_fails_on_the_tenth",
                                      passed=key != "2026-01-10", partition=key, metadata={"key": key})
    yield dg.Output(None)


@dg.asset_check(asset=tiny)
def tiny_check() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)


def _rows(storage, table) -> list[tuple]:  # noqa: ANN001
    """A table's rows but their id and the moment the database wrote them."""
    columns = [c for c in table.columns if c.name not in ("id", "create_timestamp")]
    with storage.index_connection() as conn:
        return [tuple(row) for row in conn.execute(table.select().with_only_columns(*columns).order_by(table.c.id))]


def _replayed(storage, events) -> dict[str, list[tuple]]:  # noqa: ANN001
    """Each run's events stored in ``storage`` in order, then its index tables (ids left out)."""
    from dagster._core.storage.event_log.schema import (
        AssetCheckExecutionsTable,
        AssetEventTagsTable,
        AssetKeyTable,
        SqlEventLogStorageTable,
    )

    for event in events:
        storage.store_event(event)
    out = {"checks": _rows(storage, AssetCheckExecutionsTable), "events": _rows(storage, SqlEventLogStorageTable),
           "assets": _rows(storage, AssetKeyTable), "tags": _rows(storage, AssetEventTagsTable)}
    with storage.run_connection(events[0].run_id) as conn:  # the run's own shard too
        out["run"] = [tuple(r) for r in conn.execute(SqlEventLogStorageTable.select().with_only_columns(
            *[c for c in SqlEventLogStorageTable.columns if c.name != "id"]).order_by(SqlEventLogStorageTable.c.id))]
    storage.dispose()
    return out


def _events_of_two_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list:
    """The events of a range run of ``daily_tiny`` (20 days) with its two checks, of ``tiny``'s run, and
    two reported outside a run."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    checks = [daily_tiny_check, daily_tiny_fails_on_the_tenth, tiny_check]
    defs = dg.Definitions(assets=[daily_tiny, tiny], asset_checks=checks,
                          jobs=[dg.define_asset_job("days", selection=[daily_tiny]), dg.define_asset_job("one", selection=[tiny])])
    with runs.instance() as instance:
        days = defs.resolve_job_def("days").execute_in_process(
            instance=instance, raise_on_error=False,
            tags={"dagster/asset_partition_range_start": "2026-01-05", "dagster/asset_partition_range_end": "2026-01-24"})
        one = defs.resolve_job_def("one").execute_in_process(instance=instance, raise_on_error=False)
        # and reported outside any run: an observation, then a materialization of an asset seen before
        instance.report_runless_asset_event(dg.AssetObservation(asset_key="daily_tiny", metadata={"rows": 3}))
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key="tiny", description="by hand"))
        return [e for r in (days.run_id, one.run_id, "") for e in instance.all_logs(r)]


def test_a_runs_asset_and_check_events_are_stored_as_dagster_stores_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables this storage writes by its own statements (every event's rows in its run's shard and
    the index; a range's planned check rows, each evaluation's update, the insert when no row was
    planned; the asset keys, updated first, their columns found once; the asset events' tags)
    equal those Dagster's SQLite storage writes for the same events: partitioned and not, passed and
    failed, tied to a materialization."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    events = _events_of_two_runs(tmp_path, monkeypatch)
    kinds = [e.dagster_event.event_type for e in events if e.dagster_event]
    # 20 evaluations of the range, one of its check returning a single result (Dagster records it without
    # a partition: no planned row matches, so it is inserted), one of the unpartitioned check
    assert kinds.count(dg.DagsterEventType.ASSET_CHECK_EVALUATION) == 22 and dg.DagsterEventType.ASSET_MATERIALIZATION in kinds
    unplanned = [e for e in events if not (e.dagster_event and e.dagster_event.event_type
                                          == dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED)]
    found = {}
    for replay, name in ((events, "planned"), (unplanned, "unplanned")):  # without planned rows: all inserted
        found[name] = _replayed(PooledSqliteEventLogStorage(str(tmp_path / f"ours-{name}")), replay)
        assert found[name] == _replayed(SqliteEventLogStorage(str(tmp_path / f"theirs-{name}")), replay), name
    statuses = [row[4] for row in found["planned"]["checks"]]  # execution_status
    assert (statuses.count("PLANNED"), statuses.count("SUCCEEDED"), statuses.count("FAILED")) == (20, 20, 2)
    assert len(found["unplanned"]["checks"]) == 22 and found["planned"]["tags"] and found["planned"]["run"]
    assert [row[0] for row in found["planned"]["assets"]] == ['["daily_tiny"]', '["tiny"]']  # asset_key


def test_each_check_event_is_serialized_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster serializes a planned check once per partition's row and an evaluation twice (its log
    row, its check row); here every check event is serialized once."""
    from collections import Counter

    from dagster._core.events.log import EventLogEntry
    from dagster._core.storage.event_log import sql_event_log

    from tradingstation.resources import sqlite_storage

    events = _events_of_two_runs(tmp_path, monkeypatch)
    serialized: Counter = Counter()
    for module in (sql_event_log, sqlite_storage):  # Dagster's log rows, this storage's check rows
        def counting(value, *args, _serialize=module.serialize_value, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if isinstance(value, EventLogEntry):
                serialized[id(value)] += 1
            return _serialize(value, *args, **kwargs)

        monkeypatch.setattr(module, "serialize_value", counting)
    storage = PooledSqliteEventLogStorage(str(tmp_path / "counted"))
    for event in events:
        storage.store_event(event)
    storage.dispose()
    check_events = [e for e in events if e.dagster_event and e.dagster_event.event_type in
                    (dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED, dg.DagsterEventType.ASSET_CHECK_EVALUATION)]
    assert len(check_events) == 25 and [serialized[id(e)] for e in check_events] == [1] * 25


def test_an_events_serialization_is_reused_for_that_event_only(tmp_path: Path) -> None:
    from dagster._core.events.log import EventLogEntry
    from dagster._serdes import serialize_value

    storage = PooledSqliteEventLogStorage(str(tmp_path))
    first, second = (EventLogEntry(error_info=None, level=20, user_message=m, run_id="r", timestamp=1.0)
                     for m in ("first", "second"))
    storage._event_to_row(first)  # store_event makes the log row first
    assert storage._serialized(first) == serialize_value(first)
    assert storage._serialized(second) == serialize_value(second) != serialize_value(first)  # another event
    storage.dispose()
