"""Dagster runs started by the command line: the instance, one job run in this process, history.

Every subcommand that runs assets goes through :func:`execute`, so runs are recorded in the
instance of ``$DAGSTER_HOME`` (a local SQLite one under ``./.dagster_home`` by default) and shown
step by step while they run.
"""

from __future__ import annotations

import datetime as dt
import os
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
    return dg.DagsterInstance.get()


# Sessions before D the screeners read; with D itself, daily_bars fills exactly its 200-session retention.
HISTORY_ASSETS = {"daily_bars": 199, "intraday_30m": 10}


def execute(job_name: str, *, key: str | None = None, first: str | None = None, last: str | None = None,
            assets: list[str] | None = None, log_level: str = "WARNING", run_config: dict | None = None):
    """Run a job of the definitions in this process, recorded in the instance, showing progress."""
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from tradingstation.definitions import build_definitions
    from tradingstation.ops.progress import follow

    tags = {}
    if first and last:
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
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
