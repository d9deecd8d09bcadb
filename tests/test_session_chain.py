"""Whole sessions end to end through the CLI, Dagster and the lake: synthetic and real bars."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from screeners.registry import SCREENERS, signals_dataset
from tradingstation import cli
from tradingstation.lake import Lake

from conftest import REAL_DATA
from history import prepared_workspace

pytestmark = pytest.mark.slow  # each builds 199 sessions of history first: `make test-slow`

# The history `materialize` backfills first on an empty lake (199 daily sessions, 10 of 30-minute
# bars), built once per test session by the same CLI function (tests/history.py). Each test gets a
# copy of that lake and instance, with TRADINGSTATION_LAKE_ROOT, DAGSTER_HOME (and the source) set.
synthetic_history = prepared_workspace("synthetic_history", day="2025-11-25")
real_history = prepared_workspace(
    "real_history", day="2017-12-29",
    env={"TRADINGSTATION_SOURCE": "files", "TRADINGSTATION_FILES_PATH": str(REAL_DATA)},
)


def test_a_synthetic_session_yields_signals_from_every_screener(synthetic_history: Path, capsys: pytest.CaptureFixture) -> None:
    workspace = synthetic_history
    assert "backfilling daily_bars history: 199 session(s)" in (workspace / "history.log").read_text()
    lake = Lake(str(workspace / "lake"))
    oldest = lake.sessions("daily_bars")[0]
    assert lake.delete("daily_bars", oldest)  # materialize backfills whatever history is missing: here one session
    assert cli.main(["materialize", "--date", "2025-11-25"]) == 0
    out = capsys.readouterr().out
    assert f"backfilling daily_bars history: 1 session(s) {oldest} .. {oldest}" in out and "succeeded" in out
    counts = {name: lake.read(signals_dataset(name), "2025-11-25", "2025-11-25").height for name in SCREENERS}
    assert all(n > 0 for n in counts.values()), counts
    reclaim = lake.read("avwap_reclaim_signals")
    assert (reclaim["score"] >= 7).all() and (reclaim["reasons"].str.len_chars() > 20).all()
    longs = pl.concat([lake.read(signals_dataset(n)).select("side", "entry", "stop", "target") for n in SCREENERS])
    long = longs.filter(pl.col("side") == "long")
    assert ((long["stop"] < long["entry"]) & (long["entry"] < long["target"])).all()
    plan = lake.read("master_dashboard", "2025-11-25", "2025-11-25")
    assert plan["rank"].to_list() == list(range(1, plan.height + 1))
    named = set(plan["screeners"].str.split(", ").explode())
    assert named == set(SCREENERS), named  # every screener reaches the plan
    assert set(plan["regime"]) == {"bull"} or set(plan["regime"]) == {"bear"}  # SPY is in the universe
    page = workspace / "lake" / "master_dashboard" / "date=2025-11-25" / "dashboard.html"
    assert "dashboard page: " + str(page) in out and page.read_text().count("data:image/png;base64,") >= 10
    # A second run is idempotent: no new history, the same partitions rewritten.
    assert cli.main(["materialize", "--date", "2025-11-25"]) == 0
    assert "backfilling" not in capsys.readouterr().out
    assert lake.read("orb_signals", "2025-11-25", "2025-11-25").height == counts["orb"]


def test_the_chain_runs_on_real_bars_through_the_files_source(real_history: Path) -> None:
    workspace = real_history  # TRADINGSTATION_SOURCE=files, TRADINGSTATION_FILES_PATH=REAL_DATA
    assert cli.main(["materialize", "--date", "2017-12-29"]) == 0
    lake = Lake(str(workspace / "lake"))
    assert set(lake.read("daily_bars", "2017-12-29", "2017-12-29")["symbol"]) == {"AAPL", "GOOG", "SPY"}
    assert lake.read("intraday_1m", "2017-12-29", "2017-12-29").height == 0  # no real 1-minute file for 2017
    for name in SCREENERS:  # every screener ran; an empty result is an empty file, not a missing one
        assert lake.exists(signals_dataset(name), "2017-12-29")
    anchors = lake.read("avwap_anchors", "2017-12-29", "2017-12-29")
    assert {"AAPL", "GOOG", "SPY"} <= set(anchors["symbol"])
