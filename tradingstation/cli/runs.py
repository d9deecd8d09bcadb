"""Dagster runs started by the command line: the instance, first-class runs, history.

Every subcommand that runs assets goes through :func:`execute`, so runs are recorded in the
instance of ``$DAGSTER_HOME`` (a local SQLite one under ``./.dagster_home`` by default).

A CLI run is a run of the code location ``tradingstation`` (the name workspace.yaml and
pyproject's ``[tool.dagster]`` give it), created as ``dagster job launch`` creates one: from the
location's remote job, with its ``remote_job_origin`` and ``job_code_origin``. So the UI
re-executes it, and every run sensor of the location (``run_failure_alert``) sees it. Then:

- an instance whose ``dagster.yaml`` configures a run queue (production) gets the run in its
  queue: the daemon launches it within the queue's limits, and the CLI says so and returns. Runs
  one process submits carry one ``tradingstation/cli_chain`` tag value, which production's
  ``dagster.yaml`` limits to one run at a time, so a history backfill runs before the session
  that reads it (the queue is first in, first out);
- any other instance (the embedded default, which has no daemon: Dagster's implicit default is a
  queue nobody would serve) executes the run in this process, shown step by step.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from tradingstation.core import calendar
from tradingstation.core.errors import TradingStationError

if TYPE_CHECKING:  # the commands that need no Dagster (--help, sessions) do not import it
    import dagster as dg

DEFAULT_DAGSTER_HOME = ".dagster_home"


latest_closed_session = calendar.latest_closed_session


_CURRENT: dict[str, dg.DagsterInstance] = {}  # the process's instance, by its DAGSTER_HOME (one kept)


def instance():  # -> dg.DagsterInstance
    """The Dagster instance of $DAGSTER_HOME, or a local SQLite one under ./.dagster_home.

    Made once per process and home, as Dagster's own commands do, and reused by every run the
    command executes (a fresh ``make run`` executes four: each new instance cost ~0.35 s of
    storage set-up, and its kept connections). Orphaned runs are swept when it is made. Once
    disposed of (``with instance() as i``), it is forgotten: the next call makes a new one."""
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(Path(DEFAULT_DAGSTER_HOME).resolve())
        os.environ["DAGSTER_HOME"] = home
    if home in _CURRENT:
        return _CURRENT[home]
    Path(home).mkdir(parents=True, exist_ok=True)
    config = Path(home) / "dagster.yaml"
    if not config.exists():  # a local instance: Dagster's SQLite files, connections kept open; no telemetry
        from tradingstation.resources.sqlite_storage import CONFIG_YAML

        config.write_text(f"{CONFIG_YAML}telemetry:\n  enabled: false\n")
    found = dg.DagsterInstance.get()
    fail_orphaned_runs(found)
    dispose = found.dispose

    def dispose_and_forget() -> None:  # ``with instance() as i`` disposes of it: the next call makes a new one
        if _CURRENT.get(home) is found:
            del _CURRENT[home]
        dispose()

    found.dispose = dispose_and_forget  # type: ignore[method-assign]
    _CURRENT.clear()  # another home's instance is let go, as before (not disposed: a caller may hold it)
    _CURRENT[home] = found
    return found


def dispose_instances() -> None:
    """Dispose of the process's kept instance (the console script does, before it exits)."""
    while _CURRENT:
        _CURRENT.popitem()[1].dispose()


PID_TAG, HOST_TAG = "tradingstation/cli_pid", "tradingstation/cli_host"


def fail_orphaned_runs(instance) -> list[str]:  # instance: dg.DagsterInstance
    """Mark FAILED the runs this host's CLI started whose process is gone (killed by the OS, kill -9):
    they would otherwise show STARTED forever. Returns their run ids.

    A re-execution (from the UI, or a run retry) inherits its parent's tags, the CLI's pid and host
    too, but runs in the launcher's process: a run with a parent is never the CLI's own."""
    import dagster as dg
    from dagster._core.storage.tags import PARENT_RUN_ID_TAG

    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
                              tags={HOST_TAG: socket.gethostname()}),
        limit=100,
    )
    failed = []
    for record in records:
        pid = record.dagster_run.tags.get(PID_TAG, "")
        if PARENT_RUN_ID_TAG in record.dagster_run.tags:
            continue
        if pid.isdigit() and not _alive(int(pid)):
            message = f"the tradingstation process {pid} that ran it is gone (killed?): marked failed"
            instance.report_run_failed(record.dagster_run, message)
            failed.append(record.dagster_run.run_id)
    if failed:
        print(f"marked {len(failed)} orphaned run(s) FAILED: {', '.join(failed)}")
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def history_assets() -> dict[str, int]:
    """Sessions before D of each bar dataset to have in the lake: the deepest ``sessions_back`` any
    screener of the registry reads (command or asset), and for daily_bars at least its retention
    less D itself (199 of 200), so the daily history is whole from the first run on."""
    from screeners.registry import SCREENERS
    from tradingstation.maintenance.retention import BAR_DATASETS, RetentionPolicy

    depth: dict[str, int] = {}
    for spec in SCREENERS.values():
        for wanted in (*spec.inputs, *spec.asset_wiring[1]):
            if wanted.dataset in BAR_DATASETS:
                depth[wanted.dataset] = max(depth.get(wanted.dataset, 0), wanted.sessions_back)
    kept = RetentionPolicy.from_env().daily_bars or RetentionPolicy().daily_bars  # "all": the default
    depth["daily_bars"] = max(depth.get("daily_bars", 0), kept - 1)
    return {dataset: depth[dataset] for dataset in BAR_DATASETS if depth.get(dataset)}


def preflight() -> None:
    """Fail before any run starts, in one line, when the lake or the source cannot work as configured
    (unreachable endpoint, refused credentials, missing bucket, unknown source, missing files path)."""
    from tradingstation.lake import Lake
    from tradingstation.resources.config import make_source
    from tradingstation.resources.sources.files_source import FilesSource

    Lake.from_env().sessions("universe")  # one listing: reachability, credentials, bucket
    source = make_source(os.environ.get("TRADINGSTATION_SOURCE", "synthetic"))
    if isinstance(source, FilesSource):
        source.known_symbols()  # reads the folder: a missing path is an error, not "no data"


def execute(job_name: str, *, key: str | None = None, first: str | None = None, last: str | None = None,
            assets: list[str] | None = None, log_level: str = "WARNING", run_config: dict | None = None,
            tags: dict[str, str] | None = None):
    """Run a job of the definitions as a run of the code location (see the module docstring).

    Returns the execution result of a run executed here (step by step on the way), or a
    ``launch.QueuedRun`` when the instance queues runs; either has ``success`` and ``run_id``."""
    import dagster as dg
    from dagster._core.definitions.partitions.context import partition_loading_context
    from dagster._core.utils import make_new_run_id

    from tradingstation.cli import launch
    from tradingstation.definitions import build_definitions
    from tradingstation.ops.progress import follow

    found = instance()
    queued = launch.queues_runs(found)
    job = build_definitions().resolve_job_def(job_name)
    keys = [dg.AssetKey(a) for a in assets] if assets else None
    # the job's own checks of the selected assets (session_job leaves the wall-clock freshness checks out)
    checks = {c for c in job.asset_layer.asset_graph.asset_check_keys if c.asset_key in keys} if keys else None
    tags = dict(tags or {})
    with partition_loading_context(dynamic_partitions_store=found) as context:
        for partition in [p for p in (key, first, last) if p]:  # a key the job does not have: one line
            try:
                job.validate_partition_key(partition, selected_asset_keys=keys, context=context)
            except dg.DagsterUnknownPartitionError as exc:
                raise TradingStationError(f"{job_name} has no partition {partition}: {exc}") from None
    if key:
        tags |= job.get_tags_for_partition_key(key, selected_asset_keys=keys)
    if first and last:
        tags |= {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    # Queued runs run in the daemon's launcher; runs executed here are this process's (orphan sweep).
    tags |= {launch.CHAIN_TAG: launch.CHAIN} if queued else {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    config = {**(run_config or {}), "loggers": {"console": {"config": {"log_level": log_level}}}}
    with launch.code_location(found) as (request, location):
        run = launch.create_run(found, location, job_name, run_id=make_new_run_id(), run_config=config,
                                tags=tags, assets=keys, checks=checks)
        if queued:
            result = launch.submit(found, request, run)
            print(f"run {run.run_id} {result.status}: this instance queues runs, "
                  "the daemon (dagster-daemon run) will launch it; follow it in the UI")
            return result
    with follow(found, run.run_id):
        return launch.execute_here(found, run, one_line_known_failures(job))


def queued(result) -> bool:
    """Whether ``execute`` left the run in the instance's queue (nothing executed yet)."""
    return bool(getattr(result, "queued", False))


def ensure_history(day: dt.date, log_level: str, run_config: dict | None = None) -> bool:
    """Backfill, as one run per dataset, the history sessions before ``day`` the lake lacks."""
    from tradingstation.lake import Lake

    lake = Lake.from_env()
    for dataset, count in history_assets().items():
        wanted = calendar.sessions_before(day, count)
        stored = set(lake.sessions(dataset))
        missing = [d for d in wanted if d not in stored]
        if not missing:
            continue
        # The bars of a session are fetched for its universe: computed in the same run unless every
        # session of the range has one already (the daily history's run wrote the intraday ones')
        # and no universe configuration was given (``--tickers``: the universe is recomputed). A
        # stored universe is the session's universe (``quality.universe``), whatever configuration
        # wrote it: the history's bars follow it, as the coverage check judges them by it.
        universes = set(lake.sessions("universe"))
        spanned = calendar.sessions_in_range(missing[0], missing[-1])
        kept = run_config is None and all(d in universes for d in spanned)
        assets = [dataset] if kept else ["universe", dataset]
        print(f"backfilling {dataset} history: {len(missing)} session(s) {missing[0]} .. {missing[-1]} as one run")
        result = execute(
            "market_data_job", first=missing[0].isoformat(), last=missing[-1].isoformat(),
            assets=assets, log_level=log_level, run_config=run_config,
        )
        if not result.success:
            print(f"history run {result.run_id} FAILED")
            return False
    return True


def _innermost(error):  # error: a SerializableErrorInfo or None -> the same
    """The error at the end of ``error``'s cause chain (Dagster wraps the user code's error)."""
    while error is not None and error.cause is not None:
        error = error.cause
    return error


def error_line(error) -> str:  # error: a SerializableErrorInfo or None
    """The innermost error's message, its first line without the "module.Error: " prefix: it names
    what is wrong."""
    error = _innermost(error)
    text = error.message.strip() if error is not None else ""
    exc_name, sep, rest = text.partition(": ")
    text = rest if sep and "." in exc_name and " " not in exc_name else text
    return text.splitlines()[0] if text else "failed"


def one_line_known_failures(job):  # job: dg.JobDefinition -> dg.JobDefinition
    """``job`` whose console logger writes an error caused by a TradingStationError (an unreachable
    lake, refused credentials: its message says what is wrong) without Dagster's stack trace: the
    step failure in one line with that message, the run failure in one line. Other errors keep
    their trace, and the event log (the UI) keeps every error whole."""
    import dagster as dg

    console = job.loggers["console"]

    def make_logger(context):
        logger = console.logger_fn(context)
        logger.addFilter(_shorten_known_failure)
        return logger

    quiet = dg.LoggerDefinition(
        make_logger, config_schema=console.config_schema, description=console.description
    )
    return job.with_logger_defs({**job.loggers, "console": quiet})


def _shorten_known_failure(record) -> bool:  # record: a logging.LogRecord of a Dagster logger
    event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
    error = getattr(getattr(event, "event_specific_data", None), "error", None)
    cause = _innermost(error)
    if cause is not None and cause.cls_name in _known_errors():
        first = str(record.msg).splitlines()[0]
        record.msg = f"{first} {error_line(error)}" if event.is_step_failure else first
        record.args = ()
    return True


def _known_errors() -> set[str]:
    """The class names of TradingStationError and its subclasses."""
    found, todo = set(), [TradingStationError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def failure_lines(result) -> list[str]:  # result: an execution result (or launch.QueuedRun: none)
    """One line per failed step: the innermost error's message, which names what is wrong."""
    return [
        f"{event.step_key}: {error_line(event.event_specific_data.error)}"
        for event in result.get_step_failure_events()
    ]


def print_failures(result) -> None:  # result: as failure_lines
    for line in failure_lines(result):
        print(f"  {line}")


def print_materializations(result) -> None:  # result: as failure_lines
    rows: dict[str, list] = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta = mat.metadata
        name = mat.asset_key.to_user_string()
        entry = rows.setdefault(name, [0, "", 0])
        count = meta.get("dagster/row_count")
        entry[0] = count.value if count is not None else entry[0]
        key = meta.get("lake_key")
        entry[1] = key.value if key is not None else entry[1]
        entry[2] += 1
    if not rows:
        return
    pages = [
        e.event_specific_data.materialization.metadata["html"].value
        for e in result.get_asset_materialization_events()
        if "html" in e.event_specific_data.materialization.metadata
    ]
    width = max(len(n) for n in rows)
    print(f"{'asset':<{width}}  {'rows':>10}  lake key")
    for name, (count, key, _) in rows.items():
        print(f"{name:<{width}}  {count:>10,}  {key}" if key else f"{name:<{width}}  {'-':>10}  (metadata only: see the UI)")
    if pages:
        print(f"dashboard page: {pages[-1]}")
