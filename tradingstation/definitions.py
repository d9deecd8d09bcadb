"""The one Definitions object: assets, jobs and resources of TradingStation."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from tradingstation.assets.dashboard import master_dashboard
from tradingstation.assets.declarations import with_declarations
from tradingstation.assets.earnings import earnings
from tradingstation.assets.maintenance import lake_maintenance
from tradingstation.assets.market_data import daily_bars, intraday_1m, intraday_30m
from tradingstation.assets.outcomes import OUTCOME_ASSETS
from tradingstation.assets.signals import SIGNAL_ASSETS
from tradingstation.assets.universe import universe
from tradingstation.checks import ALL_CHECKS, FRESHNESS_CHECKS
from tradingstation.ops.logs import dagster_loggers
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.resources.config import resources_from_env
from tradingstation.schedules import build_schedules
from tradingstation.sensors import ALL_SENSORS, SENSOR_JOBS

MARKET_DATA_ASSETS = [universe, daily_bars, intraday_1m, intraday_30m, earnings]
# Column schemas, owners, session tags, README links and native freshness policies: declared once.
ALL_ASSETS = with_declarations(
    [*MARKET_DATA_ASSETS, *SIGNAL_ASSETS, *OUTCOME_ASSETS, master_dashboard, lake_maintenance]
)

# Every step runs in the run's own process: the multiprocess executor pays ~3 s of process
# start per step here, more than most steps take.
EXECUTOR = dg.in_process_executor

# Freshness checks judge the wall clock, not a session: they run from the UI and the freshness
# sensor, never inside a (possibly historical) session run. These jobs leave them out; runs Dagster
# builds itself (a UI backfill adds every check of its assets) find them not evaluating there.
WITHOUT_FRESHNESS = dg.AssetSelection.checks(*FRESHNESS_CHECKS)

session_job = dg.define_asset_job(
    "session_job",
    selection=dg.AssetSelection.assets(*ALL_ASSETS) - WITHOUT_FRESHNESS,
    partitions_def=SESSION_PARTITIONS,
    description="Every asset of one trading session, in dependency order.",
)
market_data_job = dg.define_asset_job(
    "market_data_job",
    selection=dg.AssetSelection.groups("market_data") - WITHOUT_FRESHNESS,
    partitions_def=SESSION_PARTITIONS,
    description="The universe and its bars for one session.",
)

SCHEDULES = build_schedules(session_job)


def build_definitions(env: Mapping[str, str] = os.environ) -> dg.Definitions:
    """The definitions with resources configured from ``env`` (the CLI builds them per command)."""
    return dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=[*ALL_CHECKS, *FRESHNESS_CHECKS],
        jobs=[session_job, market_data_job, *SENSOR_JOBS],
        schedules=SCHEDULES,
        sensors=ALL_SENSORS,
        resources=resources_from_env(env),
        loggers=dagster_loggers(env.get("TRADINGSTATION_LOG_FORMAT")),
        executor=EXECUTOR,
    )


defs = build_definitions()
