"""health, verify-deployment and smoke-test: verdicts that point at what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradingstation import cli
from tradingstation.lake import Lake
from tradingstation.ops import health

from lake_data import daily_frame, minute_frame

DAY = "2025-11-28"


def _bars(lake: Lake) -> None:
    for dataset in ("daily_bars", "intraday_1m", "intraday_30m"):
        frame = daily_frame([DAY], ["NVDA"]) if dataset == "daily_bars" else minute_frame(DAY, ["NVDA"])
        lake.write(dataset, DAY, frame)
        lake.write(f"{dataset}_quarantine", DAY, lake.read(f"{dataset}_quarantine"))


def test_data_check_names_the_missing_partition(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    _bars(lake)
    assert health.check_data(lake, health.calendar.session(DAY)).ok
    lake.delete("intraday_1m", DAY)
    check = health.check_data(lake, health.calendar.session(DAY))
    assert not check.ok and f"missing intraday_1m[{DAY}]" in check.detail


def test_health_command_exits_non_zero_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "lake"))
    _bars(Lake(str(tmp_path / "lake")))
    assert cli.main(["health", "--date", DAY, "--check", "data", "--check", "storage"]) == 0
    assert cli.main(["health", "--date", DAY, "--check", "signals"]) == 1
    out = capsys.readouterr().out
    assert "HEALTHY" in out and f"not run for {DAY}: gapgo_signals" in out and "UNHEALTHY: signals" in out


@pytest.mark.s3
def test_storage_check_on_s3_and_verify_names_missing_credentials(
    s3_env: str, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert health.check_storage(Lake(f"s3://{s3_env}/lake", endpoint_url=s3_endpoint)).ok
    env = {"TRADINGSTATION_LAKE_ROOT": f"s3://{s3_env}/lake", "TRADINGSTATION_S3_ENDPOINT_URL": s3_endpoint,
           "DAGSTER_HOME": str(tmp_path)}
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    report = health.verify_deployment(env)
    by_name = {c.name: c for c in report.checks}
    assert not report.ok and not by_name["credentials"].ok
    assert "AWS_ACCESS_KEY_ID" in by_name["credentials"].detail
    assert by_name["calendar"].ok and by_name["instance"].ok


def test_verify_passes_on_the_embedded_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert cli.main(["verify-deployment"]) == 0
    assert capsys.readouterr().out.strip().endswith("HEALTHY")
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "bloomberg")
    assert cli.main(["verify-deployment"]) == 1


@pytest.mark.slow
def test_smoke_test_runs_a_whole_day_in_a_temporary_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "mine"))
    assert cli.main(["smoke-test", "--date", "2025-11-25"]) == 0
    out = capsys.readouterr().out
    assert "smoke test PASSED" in out and "✓ master_dashboard" in out
    assert not (tmp_path / "mine").exists()  # the user's lake is untouched
