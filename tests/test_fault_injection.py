"""Faults injected on purpose: a kill -9 in the middle of a multi-session materialize.

After the kill: every Parquet file in the lake is readable (writes are atomic), the orphaned run
does not stay STARTED (the CLI marks it FAILED on its next start), and re-running completes.
Bounded: one subprocess, a poll of at most 60 s, a kill at a random moment of the writes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from tradingstation.cli import runs

START, END = "2025-09-02", "2025-09-30"


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TRADINGSTATION_LAKE_ROOT": str(tmp_path / "lake"),
        "DAGSTER_HOME": str(tmp_path / "home"),
        "TRADINGSTATION_SOURCE": "synthetic",
        "TRADINGSTATION_UNIVERSE": "AAPL,MSFT,NVDA,AMZN,META,GOOGL,TSLA,JPM",
    }


def materialize(env: dict[str, str]) -> subprocess.Popen:
    args = ["materialize", "--start", START, "--end", END, "--select", "universe,daily_bars", "--no-history"]
    code = f"import sys; from tradingstation.cli import main; sys.exit(main({args!r}))"
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_kill_9_mid_run_leaves_readable_files_a_failed_run_and_a_run_that_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = cli_env(tmp_path)
    process = materialize(env)
    lake = tmp_path / "lake"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(lake.glob("universe/date=*/part-0.parquet")):
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 0.3))  # somewhere in the writes
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    for file in lake.rglob("*.parquet"):  # atomic writes: the old file or the whole new one
        pl.read_parquet(file)

    for name in ("TRADINGSTATION_LAKE_ROOT", "DAGSTER_HOME", "TRADINGSTATION_SOURCE", "TRADINGSTATION_UNIVERSE"):
        monkeypatch.setenv(name, env[name])
    instance = runs.instance()  # the CLI's next start sweeps its orphaned runs
    records = instance.get_run_records()
    assert len(records) == 1
    assert records[0].dagster_run.status.value == "FAILURE"

    rerun = materialize(env)
    out, _ = rerun.communicate(timeout=240)
    assert rerun.returncode == 0, out.decode()[-2000:]
    sessions = sorted(p.parent.name for p in lake.glob("daily_bars/date=*/part-0.parquet"))
    assert sessions[0] == f"date={START}" and sessions[-1] == f"date={END}"
