"""The embedded (local SQLite) Dagster instance's storage, with its connections kept open.

Dagster's own SQLite storages open a new SQLAlchemy engine and a new SQLite connection for every
statement group (``poolclass=NullPool``) and close them after: on a 250-session backfill that is
~9,000 engines, about a fifth of the run's time (py-spy / cProfile of ``make run``). This storage
is Dagster's, file for file (``history/runs.db``, ``history/runs/<run>.db``, ``history/runs/index.db``,
``schedules/schedules.db`` under ``base_dir``), with these changes. First: each database file keeps one
engine, whose pool keeps two connections open (``QueuePool``), so a statement reuses one (the 16 most
recently used files keep theirs; see ``_Engines``).

Second change: the files are in SQLite's write-ahead-log mode with ``synchronous=NORMAL`` (set on
every connection; WAL mode stays with the file). A commit then appends to ``<file>-wal`` instead of
rewriting pages behind a rollback journal with two fsyncs: on the 250-session backfill, commits were
40% of py-spy's samples. What that trades, in SQLite's words: a killed process loses nothing
committed; a power cut or OS crash may lose the last transactions, never the file's consistency.
Dagster's live run view watches the run's ``.db`` file, which in WAL mode changes only at a
checkpoint, so the run-log watcher here is also woken by the ``-wal`` file.

Third: events are stored with less work, the rows themselves Dagster's (``tests/test_sqlite_storage.py``
replays runs' events into this storage and into Dagster's and compares the run's shard and the index's
event, asset-key, asset-check and tag tables). A check planned over many partitions (a backfill's range
run): Dagster serialized the planned event once per partition's row (a 10 KB event, 0.39 ms, 250 times
per check on a 250-session backfill), here once. An evaluation: the update of its planned row is one
statement built at import with bound parameters (Dagster builds a new statement per evaluation, whose
cache key SQLAlchemy then computes to find the compiled form), storing the string the event's own log
row was just serialized to (Dagster serializes it twice). Every event's rows in the run's shard and
the index are inserted by one statement built at import (``store_event``). 1,000 evaluations of a
range run, best of 3, each step measured as it was added: Dagster's storage 1.77 s, the update
statement 1.57 s, the string reused 1.44 s, the inserts 1.31 s. An asset event's row in the asset-key
table is updated first and inserted when missing (Dagster inserts first, so every event after an
asset's first raised and caught an IntegrityError), and the table's columns, which Dagster reflects
before every asset event, are looked up until found, then remembered: 250 materializations with
their planned events, best of 3, 0.89 s -> 0.77 s -> 0.68 s.

What stays as it was: every write is its own transaction (``conn.begin()``), committed before the
context returns; the storages' own lock still serializes a process's access; other processes (the
webserver, the daemon, a second CLI) open the same files as before, since an idle SQLite connection
holds no lock. ``dispose()`` closes every kept connection.

The files are found through ``DAGSTER_HOME`` (``base_dir: {env: DAGSTER_HOME}``), as Dagster's own
commands find an instance, so a copied or moved instance directory keeps working where it is (copy
it whole, ``-wal`` and ``-shm`` files included, while no process has it open: the latest commits
may still be in a ``-wal`` file); a program that opens it by path (``InstanceRef.from_dir``) sets
``DAGSTER_HOME`` to that path first. ``schedules/schedules.db`` stays Dagster's plain storage (a
connection per statement, rollback journal): schedule ticks are few.

Configured by the instance's ``dagster.yaml`` (written by ``tradingstation.cli.runs.instance`` for a
new local instance; PostgreSQL instances use ``dagster-postgres``, untouched)::

    storage:
      custom:
        module: tradingstation.resources.sqlite_storage
        class: PooledSqliteStorage
        config:
          base_dir: {env: DAGSTER_HOME}

Longer than ~300 lines: each override sits beside the Dagster behaviour it keeps, in the one class
Dagster instantiates, and the replay test holds them all to Dagster's tables.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ContextManager

import sqlalchemy as db
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, AssetKeyTable, SqlEventLogStorageTable

from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
    SqliteEventLogStorageWatchdog,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events.log import EventLogEntry
from dagster._serdes import ConfigurableClassData, serialize_value
from dagster._utils import mkdir_p
from sqlalchemy.pool import QueuePool
from watchdog.observers import Observer

CONFIG_YAML = """storage:
  custom:
    module: tradingstation.resources.sqlite_storage
    class: PooledSqliteStorage
    config:
      base_dir:
        env: DAGSTER_HOME
"""


def _update_evaluation(partition_is_null: bool) -> db.sql.Update:
    """The planned row of one check evaluation (asset, check, run, partition) set to its outcome."""
    table = AssetCheckExecutionsTable
    return (
        table.update()
        .where(
            table.c.asset_key == db.bindparam("asset_key_"),
            table.c.check_name == db.bindparam("check_name_"),
            table.c.run_id == db.bindparam("run_id_"),
            table.c.partition.is_(None) if partition_is_null else table.c.partition == db.bindparam("partition_"),
        )
        .values({c: db.bindparam(c) for c in (
            "execution_status", "evaluation_event", "evaluation_event_timestamp", "evaluation_event_storage_id",
            "materialization_event_storage_id", "partition")})
    )


_INSERT_EVENT = SqlEventLogStorageTable.insert()
_UPDATE_EVALUATION = {False: _update_evaluation(False), True: _update_evaluation(True)}


def _write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    """WAL with ``synchronous=NORMAL``: a commit appends to the ``-wal`` file without an fsync."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _Engines:
    """One engine per database file, created on first use, each keeping its connections open; the
    ``KEPT`` most recently used are kept, the others closed (a webserver reading many runs' shards
    would otherwise hold every shard's files open: in WAL mode three descriptors a connection)."""

    KEPT = 16

    def __init__(self) -> None:
        self._engines: OrderedDict[str, db.engine.Engine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn_string: str) -> db.engine.Engine:
        with self._lock:
            engine = self._engines.get(conn_string)
            if engine is None:
                # Two connections kept; more at once (threads of the webserver or daemon) are opened
                # and closed as before (unbounded overflow). A connection serves one checkout at a
                # time, so handing it to another thread later is safe (check_same_thread off).
                engine = self._engines[conn_string] = db.create_engine(
                    conn_string, poolclass=QueuePool, pool_size=2, max_overflow=-1,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
                )
                db.event.listen(engine, "connect", _write_ahead_log)
            self._engines.move_to_end(conn_string)
            evicted = [self._engines.popitem(last=False)[1] for _ in range(len(self._engines) - self.KEPT)]
        for old in evicted:  # its idle connections close now; one still in use closes when returned
            old.dispose()
        return engine

    @contextmanager
    def transaction(self, engine: db.engine.Engine) -> Iterator[db.engine.Connection]:
        """A kept connection in a transaction committed on exit, as Dagster's own ``connect`` gives."""
        with engine.connect() as conn:
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        with self._lock:
            engines, self._engines = list(self._engines.values()), OrderedDict()
        for engine in engines:
            engine.dispose()


class _KeepsEngines:
    """A storage that closes its kept connections when Dagster disposes of it."""

    _engines: _Engines

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self._engines.dispose()


class PooledSqliteEventLogStorage(_KeepsEngines, SqliteEventLogStorage):
    """Dagster's SQLite event log (a database per run plus the index), its connections kept open."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines = _Engines()
        self._tables_found: set[str] = set()
        self._asset_key_columns_found: set[str] = set()
        self._last_row = threading.local()  # the event this thread last serialized for its log row
        super().__init__(base_dir, inst_data)

    def _event_to_row(self, event: EventLogEntry) -> dict[str, Any]:
        row = super()._event_to_row(event)
        self._last_row.event, self._last_row.text = event, row["event"]
        return row

    def _serialized(self, event: EventLogEntry) -> str:
        """``serialize_value(event)``, reusing the string of the event's own log row: ``store_event``
        makes the row first, then the check tables store the same event again."""
        if getattr(self._last_row, "event", None) is event:
            return self._last_row.text
        return serialize_value(event)

    def has_table(self, table_name: str) -> bool:
        """Dagster asks this before every asset-check event (``supports_asset_checks``), each time on
        a new engine; a table, once there, stays (migrations only add), so a found one is remembered."""
        if table_name in self._tables_found:
            return True
        # not through _connect: Dagster calls this with the storage's lock held
        with self._engines.get(self.conn_string_for_shard(INDEX_SHARD_NAME)).connect() as conn:
            found = bool(conn.dialect.has_table(conn, table_name))
        if found:
            self._tables_found.add(table_name)
        return found

    def _has_asset_key_col_on_connection(self, conn: db.engine.Connection, column_name: str) -> bool:
        """Dagster reflects the asset-key table's columns before storing every asset event (a schema
        query each time); a column, once there, stays, so a found one is remembered."""
        if column_name in self._asset_key_columns_found:
            return True
        found = super()._has_asset_key_col_on_connection(conn, column_name)
        if found:
            self._asset_key_columns_found.add(column_name)
        return found

    def _store_asset_event(self, conn: db.engine.Connection, event: EventLogEntry, event_id: int) -> None:
        """Dagster's upsert of the asset's row (last materialization, last run), update first: Dagster
        inserts first, so every asset event after an asset's first raised and caught an IntegrityError."""
        asset_key = event.dagster_event.asset_key if event.dagster_event else None
        if asset_key is None:
            return
        values = self._get_asset_entry_values(event, event_id, self._has_asset_key_index_cols_on_connection(conn))
        if not values:
            return
        key = asset_key.to_string()
        update = AssetKeyTable.update().values(**values).where(AssetKeyTable.c.asset_key == key)
        if conn.execute(update).rowcount == 0:
            try:
                conn.execute(AssetKeyTable.insert().values(asset_key=key, **values))
            except db.exc.IntegrityError:  # Dagster's fallback, kept; SQLite's write lock, held since
                conn.execute(update)  # the update, leaves no other writer a moment to insert the row

    def store_event(self, event: EventLogEntry) -> None:
        """Dagster's ``store_event`` (the run's shard; asset, check and run-status events mirrored in
        the index), each row inserted by one statement built at import with the row as parameters:
        Dagster builds an insert with the row's values per event and SQLAlchemy then computes its
        cache key for each of the two shards."""
        row = self._event_to_row(event)
        with self.run_connection(event.run_id) as conn:
            conn.execute(_INSERT_EVENT, row)
        kind = event.dagster_event_type if event.is_dagster_event else None
        if kind in ASSET_EVENTS:
            with self.index_transaction() as conn:
                event_id = conn.execute(_INSERT_EVENT, row).inserted_primary_key[0]
                self._store_asset_event_tags(conn, [event], [event_id])
                self._store_asset_event(conn, event, event_id)
        if kind in ASSET_CHECK_EVENTS:
            with self.index_connection() as conn:
                event_id = conn.execute(_INSERT_EVENT, row).inserted_primary_key[0]
            self.store_asset_check_event(event, event_id)
        if kind in EVENT_TYPE_TO_PIPELINE_RUN_STATUS:
            with self.index_connection() as conn:
                conn.execute(_INSERT_EVENT, row)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.engine.Connection]:
        with self._db_lock:
            engine = self._engines.get(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with self._engines.transaction(engine) as conn:
                yield conn

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """Dagster's rows, one per planned partition (one without a partition for an unpartitioned
        check), with the event serialized once rather than once per partition."""
        planned = event.dagster_event.event_specific_data  # type: ignore[union-attr]
        keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        common = dict(
            asset_key=planned.asset_key.to_string(),
            check_name=planned.check_name,
            run_id=event.run_id,
            execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
            evaluation_event=self._serialized(event),
            evaluation_event_timestamp=self._event_insert_timestamp(event),
            evaluation_event_storage_id=event_id,
        )
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert().values([dict(common, partition=key) for key in keys]))

    def _update_asset_check_evaluation(self, event: EventLogEntry, event_id: int | None) -> None:
        """Dagster's update of the evaluation's planned row (or insert, when its run planned none), by a
        statement built once with bound parameters, storing the event's string made for its log row."""
        evaluation = event.dagster_event.event_specific_data  # type: ignore[union-attr]
        target = evaluation.target_materialization_data
        row = {
            "execution_status": (AssetCheckExecutionRecordStatus.SUCCEEDED if evaluation.passed
                                 else AssetCheckExecutionRecordStatus.FAILED).value,
            "evaluation_event": self._serialized(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
            "materialization_event_storage_id": target.storage_id if target else None,
            "partition": evaluation.partition,
        }
        planned = {"asset_key_": evaluation.asset_key.to_string(), "check_name_": evaluation.check_name,
                   "run_id_": event.run_id, "partition_": evaluation.partition}
        with self.index_connection() as conn:
            updated = conn.execute(_UPDATE_EVALUATION[evaluation.partition is None], {**row, **planned}).rowcount
            if updated == 0:  # a run without planned events (Dagster: step launchers)
                conn.execute(AssetCheckExecutionsTable.insert(), {
                    **row, "asset_key": planned["asset_key_"], "check_name": evaluation.check_name, "run_id": event.run_id})
        if updated > 1:
            raise DagsterInvariantViolationError(
                f"Updated {updated} rows for asset check evaluation {evaluation.asset_check_key} "
                "as a result of duplicate AssetCheckPlanned events."
            )

    def watch(self, run_id: str, cursor: str | None, callback: Any) -> None:
        if not self._obs:
            self._obs = Observer()
            self._obs.start()
        watchdog = _WalWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (watchdog, self._obs.schedule(watchdog, self._base_dir, recursive=True))


class _WalWatchdog(SqliteEventLogStorageWatchdog):
    """Dagster's run-log watcher (the UI's live run view), woken by the run's ``-wal`` file too:
    in WAL mode a commit writes there, and the ``.db`` file changes only at a checkpoint."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._patterns = [self._log_path, f"{self._log_path}-wal"]  # the parent passes only the first

    def on_modified(self, event: Any) -> None:
        self._process_log()


class PooledSqliteRunStorage(_KeepsEngines, SqliteRunStorage):
    """Dagster's SQLite run storage (``runs.db``), its connection kept open."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines = _Engines()
        super().__init__(conn_string, inst_data)

    def connect(self) -> ContextManager[db.engine.Connection]:
        return self._engines.transaction(self._engines.get(self._conn_string))


class PooledSqliteStorage(DagsterSqliteStorage):
    """``DagsterSqliteStorage`` (same files under ``base_dir``) with the pooled run and event storages."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self.base_dir = base_dir
        self._run_storage = PooledSqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()  # DagsterStorage's: the parts are built above

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> PooledSqliteStorage:
        mkdir_p(config_value["base_dir"])
        return cls(inst_data=inst_data, **config_value)
