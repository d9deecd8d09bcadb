"""Whole sessions end to end through the CLI, Dagster and the lake: synthetic and real bars."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from screeners.registry import SCREENERS, signals_dataset
from tradingstation import cli
from tradingstation.lake import Lake

from conftest import REAL_DATA


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    return tmp_path


def test_a_synthetic_session_yields_signals_from_every_screener(workspace: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["materialize", "--date", "2025-11-25"]) == 0
    out = capsys.readouterr().out
    assert "backfilling daily_bars history: 199 session(s)" in out and "succeeded" in out
    lake = Lake(str(workspace / "lake"))
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
    assert "dashboard page: " + str(page) in out and page.read_text().count("<svg") >= 10
    # A second run is idempotent: no new history, the same partitions rewritten.
    assert cli.main(["materialize", "--date", "2025-11-25"]) == 0
    assert "backfilling" not in capsys.readouterr().out
    assert lake.read("orb_signals", "2025-11-25", "2025-11-25").height == counts["orb"]


def test_the_chain_runs_on_real_bars_through_the_files_source(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "files")
    monkeypatch.setenv("TRADINGSTATION_FILES_PATH", str(REAL_DATA))
    assert cli.main(["materialize", "--date", "2017-12-29"]) == 0
    lake = Lake(str(workspace / "lake"))
    assert set(lake.read("daily_bars", "2017-12-29", "2017-12-29")["symbol"]) == {"AAPL", "GOOG", "SPY"}
    assert lake.read("intraday_1m", "2017-12-29", "2017-12-29").height == 0  # no real 1-minute file for 2017
    for name in SCREENERS:  # every screener ran; an empty result is an empty file, not a missing one
        assert lake.exists(signals_dataset(name), "2017-12-29")
    anchors = lake.read("avwap_anchors", "2017-12-29", "2017-12-29")
    assert {"AAPL", "GOOG", "SPY"} <= set(anchors["symbol"])
