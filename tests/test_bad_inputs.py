"""Every bad input gets one clear line and a non-zero exit — no traceback, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradingstation import cli


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "synthetic")
    return tmp_path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and stderr of the command line, as a shell would see them."""
    try:
        code = cli.main(args)
    except SystemExit as exc:  # argparse's own exit for a bad flag
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    return code, err


BAD = [
    (["materialize", "--start", "2025-11-28", "--end", "2025-11-24"], "starts after it ends"),
    (["materialize", "--date", ""], "got an empty value"),
    (["materialize", "--date", "2025-11-27"], "not an NYSE trading session"),
    (["materialize", "--date", "2025-13-40"], "2025-13-40"),
    (["materialize", "--date", "2025-11-24", "--job", "bogus", "--no-history"], "unknown job 'bogus'"),
    (["materialize", "--date", "2025-11-24", "--select", "bogus_asset", "--no-history"], "no asset(s) bogus_asset"),
    (["read", "daily_bars", "--start", "2025-11-24", "--rows", "-5"], "below the minimum 1"),
    (["read", "daily_bars", "--start", "2025-11-24", "--rows", "1e20"], "is not an integer"),
    (["lake", "rebuild", "--dataset", "../../etc", "--start", "2025-11-24", "--end", "2025-11-24"], "unknown dataset"),
    (["lake", "rebuild", "--dataset", "daily_bars", "--start", "2025-11-28", "--end", "2025-11-24"], "starts after it ends"),
    (["lake", "verify", "--datasets", "nope"], "unknown dataset 'nope'"),
    (["run", "--mode", "premarket", "--date", "2025-12-25"], "not an NYSE trading session"),
    (["health", "--date", ""], "got an empty value"),
]


@pytest.mark.parametrize(("args", "says"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_input_is_one_line_and_a_non_zero_exit(
    args: list[str], says: str, isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(args, capsys)
    assert code == 2, err
    assert says in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1, err
    assert not (isolated / "lake").exists() or not any((isolated / "lake").rglob("*.parquet"))


SCREENER_BAD = [
    ("avwap_anchors", ["--lookback-days", "-1"], "below the minimum 1"),
    ("exhaustion_reversal", ["--volume-spike-threshold", "nan"], "is not a finite number"),
    ("avwap_reclaim", ["--min-score", "1e400"], "is not a finite number"),
    ("avwap_reclaim", ["--min-score", "11"], "above the maximum 10"),
    ("breakout", ["--min-consolidation-days", "-3"], "below the minimum 1"),
    ("orb", ["--or-window", "0"], "below the minimum 1"),
    ("gapgo", ["--date", "2025-12-25"], "not an NYSE trading session"),
    ("ema_pullback", ["--date", ""], "got an empty value"),
    ("dashboard", ["--hours-lookback", "-5"], "below the minimum 1"),
    ("dashboard", ["--hours-lookback", "1e20"], "is not an integer"),
    ("dashboard", ["--hours-lookback", "100000000000000000000"], "above the maximum"),
]


@pytest.mark.parametrize(("module", "args", "says"), SCREENER_BAD, ids=[f"{m} {' '.join(a)}" for m, a, _ in SCREENER_BAD])
def test_a_bad_screener_flag_is_one_line_and_exit_2(
    module: str, args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib

    code = importlib.import_module(f"screeners.{module}").main(args)
    err = capsys.readouterr().err
    assert code == 2 and says in err and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if "error" in line]) == 1, err


def test_a_screener_on_an_unreachable_lake_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from screeners import breakout

    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", "s3://bucket/lake")
    monkeypatch.setenv("TRADINGSTATION_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-secret-value")
    assert breakout.main(["--date", "2025-11-24"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m screeners.breakout: error: cannot reach the lake") and "a-secret-value" not in err
    assert len(err.strip().splitlines()) == 1


def test_materialize_on_an_unreachable_lake_is_one_line_before_any_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated: Path
) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", "s3://bucket/lake")
    monkeypatch.setenv("TRADINGSTATION_S3_ENDPOINT_URL", "http://ops:hunter2@127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-secret-value")
    code, err = run(["materialize", "--date", "2025-11-24", "--no-history"], capsys)
    assert code == 2 and err.startswith("tradingstation: error: cannot reach the lake s3://bucket/lake")
    assert "hunter2" not in err and "a-secret-value" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("flag", [["--job", "bogus"], ["--select", "universe,bogus_asset"]])
def test_a_bad_job_or_asset_name_is_refused_before_the_history_backfill(
    flag: list[str], isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An empty lake: with history on (the default), a 199-session backfill would run first.
    try:
        code = cli.main(["materialize", "--date", "2025-11-24", *flag])
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    assert code == 2 and len(captured.err.strip().splitlines()) == 1
    assert "backfilling" not in captured.out and "materializing" not in captured.out
    assert not (isolated / "lake").exists() or not any((isolated / "lake").rglob("*.parquet"))
