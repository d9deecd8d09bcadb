"""Lake maintenance: retention, backup/restore (locally and on a moto S3 server), verify, gaps."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import polars as pl
import pytest

from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.maintenance import (
    BackupError,
    RetentionPolicy,
    backup,
    cleanup,
    detect_gaps,
    restore,
    sessions_for_bars,
    verify,
)
from tradingstation.testing import TEST_SECRET

from lake_data import daily_frame, minute_frame

D = dt.date.fromisoformat
TODAY = D("2025-12-02")
SESSIONS = [d.isoformat() for d in calendar.sessions_in_range("2025-11-19", "2025-12-02")]  # 11-28 closes 13:00


def snapshot(lake: Lake) -> dict[str, bytes]:
    return {e.key: lake.read_bytes(e.key) for e in lake.files()}


def empty(dataset: str) -> pl.DataFrame:
    return schemas.empty(schemas.dataset(dataset).schema)


def retention_lake(root: Path) -> Lake:
    lake = Lake(str(root))
    daily = [s for s in SESSIONS if s != "2025-11-25"] + ["2025-12-03"]  # a gap, and a session after today
    lake.write_sessions("daily_bars", daily_frame(daily, ["AAPL", "MSFT"]), daily)
    for s in ("2025-11-20", "2025-11-26"):
        lake.write("daily_bars_quarantine", s, empty("daily_bars_quarantine"))
    for s in SESSIONS:
        lake.write("intraday_1m", s, minute_frame(s, ["AAPL"], minutes=2))
        lake.write("intraday_30m", s, minute_frame(s, ["AAPL"], minutes=1))
        for name in ("orb_signals", "avwap_anchors", "master_dashboard", "universe"):
            lake.write(name, s, empty(name))
        lake.write_artifact("master_dashboard", s, "dashboard.html", b"<html>plan</html>")
    lake.write_bytes("scratch/date=2025-11-19/notes.txt", b"not a dataset")
    return lake


POLICY = RetentionPolicy(intraday_1m=3, intraday_30m_bars=34, daily_bars=4, signals=2, dashboard=2, universe=None)
EXPECTED_KEPT = {
    "intraday_1m": SESSIONS[-3:],  # rolling: 11-28, 12-01, 12-02
    # 13 + 13 + 7 (early close 11-28) = 33 < 34 bars, so 11-26 stays too
    "intraday_30m": SESSIONS[-4:],
    "daily_bars": ["2025-11-26", "2025-11-28", "2025-12-01", "2025-12-02", "2025-12-03"],  # newest 4 <= today
    "daily_bars_quarantine": ["2025-11-26"],  # follows daily_bars
    "orb_signals": SESSIONS[-2:],
    "avwap_anchors": SESSIONS[-2:],
    "master_dashboard": SESSIONS[-2:],
    "universe": SESSIONS,  # kept
}


def stored(lake: Lake) -> dict[str, list[str]]:
    return {name: [d.isoformat() for d in lake.sessions(name)] for name in EXPECTED_KEPT}


def test_retention_keeps_exactly_the_right_sessions_and_dry_run_deletes_nothing(tmp_path: Path) -> None:
    lake = retention_lake(tmp_path / "lake")
    before = snapshot(lake)

    dry = cleanup(lake, POLICY, TODAY, dry_run=True)
    assert dry.ok and dry.dry_run and snapshot(lake) == before
    assert "would delete" in dry.summary()

    report = cleanup(lake, POLICY, TODAY)
    assert report.ok
    assert stored(lake) == EXPECTED_KEPT
    assert [(d.dataset, d.date) for d in report.deleted] == [(d.dataset, d.date) for d in dry.deleted]
    gone = {(d.dataset, d.date.isoformat()) for d in report.deleted}
    assert ("intraday_1m", "2025-11-26") in gone and ("intraday_30m", "2025-11-26") not in gone
    assert report.bytes == sum(len(before[k]) for d in report.deleted for k in d.files)
    # the artifact beside a deleted dashboard partition went with it, folder and all
    assert not (tmp_path / "lake/master_dashboard/date=2025-11-26").exists()
    assert (tmp_path / "lake/master_dashboard/date=2025-12-02/dashboard.html").exists()
    assert (tmp_path / "lake/scratch/date=2025-11-19/notes.txt").exists()  # unknown: kept
    assert report.rules["scratch"] == "unknown dataset: kept"
    assert report.keep_from["intraday_30m"] == D("2025-11-26")
    # a second run finds nothing left to do
    assert cleanup(lake, POLICY, TODAY).deleted == []


def test_thirty_minute_retention_is_39_full_sessions_for_500_bars() -> None:
    full = calendar.sessions_in_range("2025-08-01", "2025-11-21")  # no early close inside
    assert sessions_for_bars(full, 500) == full[-39]
    one_early = calendar.sessions_in_range("2025-08-01", "2025-12-01")  # 11-28: 7 bars; 38 * 13 + 7 >= 500
    assert sessions_for_bars(one_early, 500) == one_early[-39]
    two_early = calendar.sessions_in_range("2025-08-01", "2025-12-26")  # and 12-24: 37 * 13 + 14 < 500
    assert sessions_for_bars(two_early, 500) == two_early[-40]
    assert sessions_for_bars(full[-10:], 500) is None  # too little stored: keep everything


def test_retention_policy_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RetentionPolicy.from_env({}) == RetentionPolicy()
    policy = RetentionPolicy.from_env(
        {"TRADINGSTATION_RETENTION_INTRADAY_1M": "5", "TRADINGSTATION_RETENTION_UNIVERSE": "200",
         "TRADINGSTATION_RETENTION_SIGNALS": "all"}
    )
    assert (policy.intraday_1m, policy.universe, policy.signals, policy.daily_bars) == (5, 200, None, 200)
    assert policy.rule("gapgo_signals") == ("keep", None) and policy.rule("universe") == ("rolling", 200)
    with pytest.raises(ValueError, match="TRADINGSTATION_RETENTION_DAILY_BARS"):
        RetentionPolicy.from_env({"TRADINGSTATION_RETENTION_DAILY_BARS": "lots"})
    with pytest.raises(ValueError, match="positive"):
        RetentionPolicy.from_env({"TRADINGSTATION_RETENTION_DAILY_BARS": "0"})


def small_lake(lake: Lake) -> Lake:
    days = SESSIONS[-3:]
    lake.write_sessions("daily_bars", daily_frame(days, ["AAPL", "MSFT", "BRK.B"]), days)
    lake.write("master_dashboard", days[-1], empty("master_dashboard"))
    lake.write_artifact("master_dashboard", days[-1], "dashboard.html", b"<html>plan</html>")
    return lake


def backup_restore_roundtrip(lake: Lake, target: Lake) -> None:
    original, frame = snapshot(lake), lake.read("daily_bars")
    report = backup(lake, target, "2024-01-15")
    assert report.ok and len(report.files) == len(original) == 5
    manifest = json.loads(target.read_bytes("2024-01-15/manifest.json"))
    assert [f["key"] for f in manifest["files"]] == sorted(original)
    assert all(f["size"] == len(original[f["key"]]) for f in manifest["files"])

    lost = f"daily_bars/date={SESSIONS[-2]}/part-0.parquet"
    victim = f"daily_bars/date={SESSIONS[-1]}/part-0.parquet"  # after `lost`: a copy-as-you-check would write `lost` first
    lake.delete_partition("daily_bars", SESSIONS[-2])
    lake.write_bytes("master_dashboard/date=2025-12-02/dashboard.html", b"<html>stale</html>")
    damaged_state = snapshot(lake)
    good = target.read_bytes(f"2024-01-15/{victim}")
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x01
    target.write_bytes(f"2024-01-15/{victim}", bytes(bad))
    with pytest.raises(BackupError, match=re.escape(victim)) as refused:
        restore(lake, target, "2024-01-15")
    assert refused.value.damaged == {victim: "sha256 does not match the manifest"}
    assert snapshot(lake) == damaged_state  # untouched

    target.write_bytes(f"2024-01-15/{victim}", good)
    done = restore(lake, target, "2024-01-15")
    assert done.ok
    assert sorted(f.key for f in done.restored) == [lost, "master_dashboard/date=2025-12-02/dashboard.html"]
    assert len(done.unchanged) == 3
    assert snapshot(lake) == original
    assert lake.read("daily_bars").equals(frame)
    assert TEST_SECRET not in report.summary() + done.summary() + str(refused.value)


def test_backup_restore_round_trip_local(tmp_path: Path) -> None:
    backup_restore_roundtrip(small_lake(Lake(str(tmp_path / "lake"))), Lake(str(tmp_path / "backups")))


@pytest.mark.s3
def test_backup_restore_round_trip_s3(s3_env: str, s3_endpoint: str) -> None:
    lake = small_lake(Lake(f"s3://{s3_env}/prod/lake", endpoint_url=s3_endpoint))
    backup_restore_roundtrip(lake, Lake(f"s3://{s3_env}/backups", endpoint_url=s3_endpoint))


def test_a_backup_without_manifest_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = small_lake(Lake(str(tmp_path / "lake")))
    target = Lake(str(tmp_path / "backups"))
    backup(lake, target, "complete")
    target.delete_key("complete/manifest.json")
    before = snapshot(lake)
    lake.delete_partition("daily_bars", SESSIONS[-1])
    with pytest.raises(BackupError, match=r"incomplete.*no manifest\.json"):
        restore(lake, target, "complete")

    # an interrupted backup leaves no manifest either
    writes = []
    real_write = Lake.write_bytes

    def flaky(self: Lake, key: str, data: bytes) -> int:
        writes.append(key)
        if len(writes) == 3:
            raise OSError("connection reset")
        return real_write(self, key, data)

    monkeypatch.setattr(Lake, "write_bytes", flaky)
    with pytest.raises(OSError, match="connection reset"):
        backup(lake, target, "interrupted")
    monkeypatch.undo()
    assert target.files("interrupted") and not any(e.key.endswith("manifest.json") for e in target.files("interrupted"))
    with pytest.raises(BackupError, match="incomplete"):
        restore(lake, target, "interrupted")
    with pytest.raises(BackupError, match="no backup 'nothing'.*none"):
        restore(lake, target, "nothing")
    assert set(snapshot(lake)) == set(before) - {f"daily_bars/date={SESSIONS[-1]}/part-0.parquet"}


def test_backup_guards(tmp_path: Path) -> None:
    lake = small_lake(Lake(str(tmp_path / "lake")))
    target = Lake(str(tmp_path / "backups"))
    backup(lake, target, "x")
    with pytest.raises(BackupError, match="already exists"):
        backup(lake, target, "x")
    assert backup(lake, target, "x", overwrite=True).ok
    with pytest.raises(BackupError, match="overlaps"):
        backup(lake, Lake(str(tmp_path / "lake" / "backups")), "y")
    with pytest.raises(BackupError, match="label"):
        backup(lake, target, "../escape")
    only = backup(lake, target, "daily", datasets=["daily_bars"])
    assert {f.key.split("/")[0] for f in only.files} == {"daily_bars"}
    with pytest.raises(ValueError, match="relative"):
        lake.write_bytes("../outside.txt", b"x")


def test_verify_flags_a_truncated_file_wrong_schema_and_a_non_session_key(tmp_path: Path) -> None:
    lake = small_lake(Lake(str(tmp_path / "lake")))
    clean = verify(lake, deep=True)
    assert clean.ok and clean.files_checked == 4 and not clean.issues, clean.summary()

    part = tmp_path / "lake/daily_bars" / f"date={SESSIONS[-2]}" / "part-0.parquet"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    saturday = tmp_path / "lake/daily_bars/date=2025-11-29"
    saturday.mkdir()
    good = tmp_path / "lake/daily_bars" / f"date={SESSIONS[-1]}/part-0.parquet"
    (saturday / "part-0.parquet").write_bytes(good.read_bytes())
    lake.write_bytes("intraday_1m/date=2025-12-01/part-0.parquet", b"")
    wrong = tmp_path / "lake/intraday_30m/date=2025-12-01"
    wrong.mkdir(parents=True)
    pl.DataFrame({"symbol": ["A"], "close": ["x"]}).write_parquet(wrong / "part-0.parquet")
    report = verify(lake)
    assert not report.ok
    errors = {i.key: i.problem for i in report.errors}
    assert set(errors) == {
        f"daily_bars/date={SESSIONS[-2]}/part-0.parquet",
        "daily_bars/date=2025-11-29",
        "intraday_1m/date=2025-12-01/part-0.parquet",
        "intraday_30m/date=2025-12-01/part-0.parquet",
    }, report.summary()
    assert errors[f"daily_bars/date={SESSIONS[-2]}/part-0.parquet"].startswith("unreadable Parquet")
    assert "not an NYSE trading session" in errors["daily_bars/date=2025-11-29"]
    assert "missing column(s)" in errors["intraday_30m/date=2025-12-01/part-0.parquet"]
    assert "column close is String" in errors["intraday_30m/date=2025-12-01/part-0.parquet"]
    assert "FAILED" in report.summary() and f"date={SESSIONS[-2]}" in report.summary()
    assert verify(lake, datasets=["master_dashboard"]).ok


def gap_lake(root: Path) -> Lake:
    lake = Lake(str(root))
    days = calendar.sessions_in_range("2025-11-24", "2025-12-03")  # 24 25 26 28 | 1 2 3
    keys = [d.isoformat() for d in days]
    frame = daily_frame(keys, ["AAPL", "MSFT", "NVDA", "TSLA"]).filter(
        ~((pl.col("symbol") == "NVDA") & (pl.col("date") == D("2025-11-26")))  # missing in the middle
        & ~((pl.col("symbol") == "TSLA") & (pl.col("date") < D("2025-11-26")))  # listed later: no gap
    )
    lake.write_sessions("daily_bars", frame, keys)
    lake.delete_partition("daily_bars", "2025-12-01")  # a whole session missing
    return lake


def test_detect_gaps_finds_a_symbol_missing_one_session(tmp_path: Path) -> None:
    lake = gap_lake(tmp_path / "lake")
    gaps = detect_gaps(lake, "daily_bars", "2025-11-24", "2025-11-28")
    assert gaps.rows() == [("NVDA", D("2025-11-26"), False)]
    everything = detect_gaps(lake, "daily_bars")
    assert everything.filter(~pl.col("partition_missing")).rows() == [("NVDA", D("2025-11-26"), False)]
    assert sorted(everything.filter("partition_missing")["symbol"]) == ["AAPL", "MSFT", "NVDA", "TSLA"]
    assert set(everything.filter("partition_missing")["date"]) == {D("2025-12-01")}
    assert detect_gaps(lake, "intraday_1m").is_empty()

    report = verify(lake, check_gaps=True)
    assert not report.ok
    assert report.missing_sessions["daily_bars"] == [D("2025-12-01")]
    warning = next(i for i in report.issues if i.severity == "warning")
    assert "NVDA 2025-11-26" in warning.problem and "TSLA" not in warning.problem
    default = verify(lake)  # the missing session is an error by default; per-symbol gaps need check_gaps
    assert [i.key for i in default.errors] == ["daily_bars"] and not default.gaps
    assert not any(i.severity == "warning" for i in default.issues)
