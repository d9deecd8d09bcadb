"""The command line: clear errors for bad input, and the runbook's read-only commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tradingstation import cli
from tradingstation.core import calendar
from tradingstation.lake import Lake

from lake_data import daily_frame


def test_a_holiday_is_refused_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert cli.main(["materialize", "--date", "2025-12-25"]) == 2
    assert "2025-12-25 is not an NYSE trading session (an NYSE holiday)" in capsys.readouterr().err
    assert not (tmp_path / "lake").exists()


def test_a_range_needs_both_ends(capsys) -> None:
    assert cli.main(["materialize", "--start", "2025-11-24"]) == 2
    assert "--start and --end go together" in capsys.readouterr().err


def test_deployment_verification_is_named_apart_from_the_lake_verify(capsys) -> None:
    """`verify-deployment` checks the deployment, `lake verify` the files: no bare `verify` to confuse them."""
    assert cli.main(["verify"]) == 2
    assert "invalid choice: 'verify'" in capsys.readouterr().err
    assert cli.main(["verify-deployment", "--help"]) == 0
    assert "usage: tradingstation verify-deployment" in capsys.readouterr().out


def test_read_prints_a_dataset_and_rejects_bad_tickers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    Lake(str(tmp_path)).write("daily_bars", "2025-11-28", daily_frame(["2025-11-28"], ["NVDA", "AAPL"]))
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    assert cli.main(["read", "daily_bars", "--start", "2025-11-28", "--symbols", "nvda"]) == 0
    out = capsys.readouterr().out
    assert "NVDA" in out and "AAPL" not in out
    assert cli.main(["read", "orb_signals", "--start", "2025-11-28"]) == 0  # analytics datasets are readable too
    assert cli.main(["read", "daily_bars", "--start", "2025-11-28", "--symbols", "../x"]) == 2
    assert "path separator" in capsys.readouterr().err


def test_sessions_lists_the_early_close(capsys) -> None:
    assert cli.main(["sessions", "--start", "2025-11-26", "--end", "2025-12-01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line[:10] for line in lines] == ["2025-11-26", "2025-11-28", "2025-12-01"]
    assert "close 13:00 ET  early close" in lines[1]


def test_latest_closed_session_respects_the_close() -> None:
    before_close = calendar.session_close("2025-11-28") - dt.timedelta(minutes=1)
    assert calendar.latest_closed_session(before_close) == dt.date(2025, 11, 26)
    assert calendar.latest_closed_session(calendar.session_close("2025-11-28")) == dt.date(2025, 11, 28)
    assert calendar.latest_closed_session(dt.datetime(2025, 11, 29, 15, tzinfo=dt.timezone.utc)) == dt.date(2025, 11, 28)


def test_run_mode_premarket_through_dagster_with_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import dagster as dg

    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    Lake(str(tmp_path / "lake")).write("universe", "2025-11-25", _universe(["NVDA"]))
    assert cli.main(["run", "--mode", "premarket", "--date", "2025-11-26", "--tickers", "NVDA,TSLA"]) == 0
    out = capsys.readouterr().out
    assert "✓ gapgo_signals" in out and "premarket for 2025-11-26 succeeded" in out
    universe = Lake(str(tmp_path / "lake")).read("universe", "2025-11-26", "2025-11-26")
    assert set(universe["symbol"]) == {"NVDA", "TSLA", "SPY"}
    with dg.DagsterInstance.get() as instance:  # the runs are in the instance, visible in the UI
        assert len(instance.get_runs()) == 2


def _universe(symbols: list[str], day: dt.date = dt.date(2025, 11, 25)):
    import polars as pl

    from tradingstation.core import schemas

    return schemas.conform(
        pl.DataFrame({"symbol": symbols, "included": True, "reason": "", "list_name": "explicit"}).with_columns(
            last_close=pl.lit(None, pl.Float64), avg_dollar_volume=pl.lit(None, pl.Float64),
            list_as_of=pl.lit(None, pl.Date), date=pl.lit(day),
            sector=pl.lit(None, pl.String), industry=pl.lit(None, pl.String), exchange=pl.lit(None, pl.String),
        ),
        schemas.UNIVERSE,
    )


def test_lake_operations_find_and_repair_a_gap_and_refuse_a_damaged_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    lake_root, backups = tmp_path / "lake", tmp_path / "backups"
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(lake_root))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    lake = Lake(str(lake_root))
    sessions = ["2025-11-24", "2025-11-25", "2025-11-26"]
    lake.write("universe", "2025-11-24", _universe(["NVDA", "AAPL"], dt.date(2025, 11, 24)))
    frame = daily_frame(sessions, ["NVDA", "AAPL"])
    lake.write_sessions("daily_bars", frame.filter(~((frame["symbol"] == "NVDA") & (frame["date"] == dt.date(2025, 11, 25)))), sessions)

    assert cli.main(["lake", "detect-gaps"]) == 1
    assert "NVDA" in capsys.readouterr().out
    assert cli.main(["lake", "detect-gaps", "--symbol", "AAPL"]) == 0  # AAPL has no gap
    assert cli.main(["lake", "fill-gaps", "--symbol", "NVDA"]) == 0
    assert "rebuilding daily_bars for 2025-11-25 .. 2025-11-25 as one run" in capsys.readouterr().out
    assert "NVDA" in set(lake.read("daily_bars", "2025-11-25", "2025-11-25")["symbol"])
    assert cli.main(["lake", "verify", "--check-gaps"]) == 0

    assert cli.main(["lake", "backup", "--target", str(backups), "--label", "good"]) == 0
    victim = backups / "good" / "daily_bars" / "date=2025-11-24" / "part-0.parquet"
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    lake.delete("daily_bars", "2025-11-26")
    capsys.readouterr()
    assert cli.main(["lake", "restore", "--date", "good", "--source", str(backups)]) == 2
    assert "daily_bars/date=2025-11-24/part-0.parquet" in capsys.readouterr().err
    assert not lake.exists("daily_bars", "2025-11-26")  # nothing restored from a damaged backup

    assert cli.main(["lake", "cleanup", "--dry-run"]) == 0
    assert lake.exists("daily_bars", "2025-11-24")


def test_run_mode_daily_records_the_lake_health(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import dagster as dg

    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    Lake(str(tmp_path / "lake")).write("daily_bars", "2025-11-26", daily_frame(["2025-11-26"], ["NVDA"]))
    assert cli.main(["run", "--mode", "daily", "--date", "2025-11-26"]) == 1  # an unhealthy lake fails the mode
    out = capsys.readouterr().out
    assert "✓ lake_maintenance" in out and "daily for 2025-11-26 FAILED: the lake is UNHEALTHY" in out
    with dg.DagsterInstance.get() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("lake_maintenance"))
        meta = event.asset_materialization.metadata
        assert meta["health_storage"].value is True and meta["health_signals"].value is False
        assert meta["healthy"].value is False  # nothing screened that day: the maintenance run says so
