"""Faults injected on purpose: a kill -9 in the middle of a multi-session materialize.

After the kill: every Parquet file in the lake is readable (writes are atomic), the orphaned run
does not stay STARTED (the CLI marks it FAILED on its next start), and re-running completes with a
lake `lake verify` finds clean. Bounded: one subprocess, a poll of at most 60 s.

The kill comes at a random moment of the writes: once a random number of the run's Parquet files
(1 to all of them) are in place, so most likely while the next one is being written (or, after the
last, while the asset checks run). TRADINGSTATION_KILL_TRIALS=N runs N trials (default 1), each in
a fresh lake with its own number drawn from the seed TRADINGSTATION_KILL_SEED (random when unset; a
failure names it, and setting it draws the same numbers again).
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import polars as pl
import pytest

from tradingstation.cli import runs
from tradingstation.testing import cli_env, run_cli, start_cli, wait_until

START, END = "2025-09-02", "2025-09-30"
MATERIALIZE = [
    "materialize", "--start", START, "--end", END, "--select", "universe,daily_bars", "--no-history"
]
TRIALS = int(os.environ.get("TRADINGSTATION_KILL_TRIALS") or 1)
SEED = int(os.environ.get("TRADINGSTATION_KILL_SEED") or random.SystemRandom().randrange(2**32))
FILES = 3 * 21  # MATERIALIZE writes universe, daily_bars and daily_bars_quarantine for 21 sessions


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
def test_kill_9_mid_run_leaves_readable_files_a_failed_run_and_a_run_that_completes(
    trial: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = random.Random(f"{SEED}/{trial}").randint(1, FILES)
    where = (f"trial {trial}, seed {SEED} (TRADINGSTATION_KILL_SEED={SEED} draws it again): "
             f"killed after {files} of {FILES} files")
    lake = tmp_path / "lake"
    env = cli_env(tmp_path / "home", lake)
    process = start_cli(MATERIALIZE, env)
    wait_until(lambda: sum(1 for _ in lake.rglob("part-0.parquet")) >= files, process, where)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL, where

    unreadable = []
    for file in lake.rglob("*.parquet"):  # atomic writes: the old file or the whole new one
        try:
            pl.read_parquet(file)
        except Exception as exc:  # noqa: BLE001 - each unreadable file is named below
            unreadable.append(f"{file.relative_to(lake)}: {exc}")
    assert not unreadable, f"{where}: {unreadable}"

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    instance = runs.instance()  # the CLI's next start sweeps its orphaned runs
    statuses = [record.dagster_run.status.value for record in instance.get_run_records()]
    assert statuses == ["FAILURE"], where

    rerun = start_cli(MATERIALIZE, env)
    out, err = rerun.communicate(timeout=240)
    assert rerun.returncode == 0, f"{where}\n{out.decode()[-2000:]}\n{err.decode()[-2000:]}"
    sessions = sorted(p.parent.name for p in lake.glob("daily_bars/date=*/part-0.parquet"))
    assert sessions[0] == f"date={START}" and sessions[-1] == f"date={END}", where
    code, report = run_cli(["lake", "verify"])  # every file read whole; a killed write's temp file only warns
    assert code == 0 and " 0 error(s)" in report, f"{where}\n{report}"
