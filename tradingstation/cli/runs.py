"""Dagster runs started by the command line: the instance, one job run in this process, history.

Every subcommand that runs assets goes through :func:`execute`, so runs are recorded in the
instance of ``$DAGSTER_HOME`` (a local SQLite one under ``./.dagster_home`` by default) and shown
step by step while they run.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

from tradingstation.core import calendar

DEFAULT_DAGSTER_HOME = ".dagster_home"


latest_closed_session = calendar.latest_closed_session


def instance():  # -> dg.DagsterInstance
    """The Dagster instance of $DAGSTER_HOME, or a local SQLite one under ./.dagster_home."""
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if not home:
        home = str(Path(DEFAULT_DAGSTER_HOME).resolve())
        os.environ["DAGSTER_HOME"] = home
    Path(home).mkdir(parents=True, exist_ok=True)
    config = Path(home) / "dagster.yaml"
    if not config.exists():  # a local instance: SQLite storage (Dagster's default), no telemetry
        config.write_text("telemetry:\n  enabled: false\n")
    found = dg.DagsterInstance.get()
    fail_orphaned_runs(found)
    return found


PID_TAG, HOST_TAG = "tradingstation/cli_pid", "tradingstation/cli_host"


def fail_orphaned_runs(instance) -> list[str]:  # instance: dg.DagsterInstance
    """Mark FAILED the runs this host's CLI started whose process is gone (killed by the OS, kill -9):
    they would otherwise show STARTED forever. Returns their run ids."""
    import dagster as dg

    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
                              tags={HOST_TAG: socket.gethostname()}),
        limit=100,
    )
    failed = []
    for record in records:
        pid = record.dagster_run.tags.get(PID_TAG, "")
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


# Sessions before D the screeners read; with D itself, daily_bars fills exactly its 200-session retention.
HISTORY_ASSETS = {"daily_bars": 199, "intraday_30m": 10}


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
    """Run a job of the definitions in this process, recorded in the instance, showing progress."""
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from tradingstation.definitions import build_definitions
    from tradingstation.ops.progress import follow

    tags = {**(tags or {}), PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}
    if first and last:
        tags |= {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    run_id = make_new_run_id()
    with follow(instance(), run_id):
        return build_definitions().resolve_job_def(job_name).execute_in_process(
            instance=instance(),
            partition_key=key,
            tags=tags,
            asset_selection=[dg.AssetKey(a) for a in assets] if assets else None,
            raise_on_error=False,
            run_id=run_id,
            run_config={**(run_config or {}), "loggers": {"console": {"config": {"log_level": log_level}}}},
        )


def ensure_history(day: dt.date, log_level: str, run_config: dict | None = None) -> bool:
    """Backfill, as one run per dataset, the history sessions before ``day`` the lake lacks."""
    from tradingstation.lake import Lake

    lake = Lake.from_env()
    for dataset, count in HISTORY_ASSETS.items():
        wanted = calendar.sessions_before(day, count)
        stored = set(lake.sessions(dataset))
        missing = [d for d in wanted if d not in stored]
        if not missing:
            continue
        print(f"backfilling {dataset} history: {len(missing)} session(s) {missing[0]} .. {missing[-1]} as one run")
        result = execute(
            "market_data_job", first=missing[0].isoformat(), last=missing[-1].isoformat(),
            assets=["universe", dataset], log_level=log_level, run_config=run_config,
        )
        if not result.success:
            print(f"history run {result.run_id} FAILED")
            return False
    return True


def failure_lines(result) -> list[str]:  # result: dg.ExecuteInProcessResult
    """One line per failed step: the innermost error's message, which names what is wrong."""
    lines = []
    for event in result.get_step_failure_events():
        error = event.event_specific_data.error
        while error is not None and error.cause is not None:  # Dagster wraps the user code's error
            error = error.cause
        text = error.message.strip() if error is not None else "failed"
        exc_name, sep, rest = text.partition(": ")
        text = rest if sep and "." in exc_name and " " not in exc_name else text  # drop "module.Error: "
        lines.append(f"{event.step_key}: {text.splitlines()[0] if text else 'failed'}")
    return lines


def print_failures(result) -> None:  # result: dg.ExecuteInProcessResult
    for line in failure_lines(result):
        print(f"  {line}")


def print_materializations(result) -> None:  # result: dg.ExecuteInProcessResult
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
