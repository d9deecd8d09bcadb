"""Lake and backfill figures for the market-data foundation.

- write + read-back of one 8,000-symbol regular 1-minute session (~3.1 M rows), local and S3;
- the read of a 200-session daily window for 8,000 symbols, local and S3;
- a one-year `universe` + `daily_bars` backfill through Dagster as one run (synthetic source).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable

import polars as pl

from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.resources.sources.synthetic_source import SyntheticSource

SYMBOLS = [f"S{i:04d}" for i in range(8000)]
SESSION = "2025-11-25"


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best of ``repeat`` wall-clock runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def minute_session() -> pl.DataFrame:
    fetched = SyntheticSource().fetch(SYMBOLS, "1m", SESSION, SESSION)
    bars = schemas.validate_bars(fetched.bars, intraday=True).bars
    return bars.filter(pl.col("session") == "regular")


def daily_window(sessions: list) -> pl.DataFrame:
    fetched = SyntheticSource().fetch(SYMBOLS, "1d", sessions[0], sessions[-1])
    return schemas.validate_bars(fetched.bars, intraday=False).bars


def lake_figures(lake: Lake, label: str, minutes: pl.DataFrame, daily: pl.DataFrame, sessions: list) -> list[str]:
    write = timed(lambda: lake.write("intraday_1m", SESSION, minutes))
    read = timed(lambda: lake.read("intraday_1m", sessions=[SESSION]))
    lake.write_sessions("daily_bars", daily, sessions)
    window = timed(lambda: lake.read("daily_bars", sessions=sessions))
    return [
        f"{label:5} 1m session write      {write:6.3f} s   ({minutes.height:,} rows)",
        f"{label:5} 1m session read back  {read:6.3f} s   write+read {write + read:.3f} s (target < 1 s locally)",
        f"{label:5} 200-session daily read {window:6.3f} s   ({daily.height:,} rows; target < 0.5 s locally)",
    ]


def backfill_figure() -> str:
    import dagster as dg

    from tradingstation.definitions import MARKET_DATA_ASSETS, SESSION_PARTITIONS
    from tradingstation.resources.lake_io import LakeIOManager, LakeResource

    with tempfile.TemporaryDirectory() as tmp:
        lake = LakeResource(root=f"{tmp}/lake")
        job = dg.define_asset_job("backfill", selection=MARKET_DATA_ASSETS[:2], partitions_def=SESSION_PARTITIONS)
        job_def = dg.Definitions(
            assets=MARKET_DATA_ASSETS[:2],
            jobs=[job],
            resources={"source": SyntheticSource(), "lake": lake, "io_manager": LakeIOManager(lake=lake)},
            executor=dg.in_process_executor,
        ).resolve_job_def("backfill")
        sessions = calendar.sessions_in_range("2024-11-25", "2025-11-24")
        tags = {
            "dagster/asset_partition_range_start": sessions[0].isoformat(),
            "dagster/asset_partition_range_end": sessions[-1].isoformat(),
        }
        with dg.DagsterInstance.ephemeral() as instance:
            start = time.perf_counter()
            quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
            result = job_def.execute_in_process(instance=instance, tags=tags, run_config=quiet)
            elapsed = time.perf_counter() - start
            assert result.success
        written = len(lake.get().sessions("daily_bars"))
    return (
        f"one-year backfill (universe + daily_bars, {written} sessions, S&P 500) as one run: "
        f"{elapsed:.1f} s (target < 15 s)"
    )


def main() -> list[str]:
    from tradingstation.testing import TEST_KEY_ID, TEST_SECRET, create_bucket, moto_s3_server

    minutes = minute_session()
    sessions = calendar.sessions_before(SESSION, 200)
    daily = daily_window(sessions)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        lines += lake_figures(Lake(f"{tmp}/lake"), "local", minutes, daily, sessions)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", TEST_KEY_ID)
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", TEST_SECRET)
    with moto_s3_server() as endpoint:
        create_bucket(endpoint, "bench")
        lines += lake_figures(Lake("s3://bench/lake", endpoint_url=endpoint), "s3", minutes, daily, sessions)
    lines.append(backfill_figure())
    return lines
