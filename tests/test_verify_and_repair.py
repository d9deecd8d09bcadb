"""Issue #8, items 4 and 5: ``lake verify`` finds every kind of damage by default (and health and
the nightly maintenance with it); detect-gaps and fill-gaps go on past damaged files and repair
them; every session's bars follow its own universe, so a rebuild of a range loses no row."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import boto3
import dagster as dg
import polars as pl
import pyarrow.parquet as pq
import pytest

from tradingstation import cli
from tradingstation.assets.maintenance import lake_maintenance
from tradingstation.assets.market_data import daily_bars
from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.maintenance import find_gaps, verify
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.resources.lake_io import LakeIOManager, LakeResource
from tradingstation.resources.sources.synthetic_source import SyntheticSource
from tradingstation.testing import TEST_KEY_ID, TEST_SECRET

from lake_data import daily_frame, minute_frame

D = dt.date.fromisoformat
SESSIONS = [d.isoformat() for d in calendar.sessions_in_range("2025-11-24", "2025-12-02")]  # 24 25 26 28 | 1 2
VICTIM = f"daily_bars/date={SESSIONS[2]}/part-0.parquet"  # a session in the middle


def clean_lake(root: Path) -> Lake:
    lake = Lake(str(root))
    lake.write_sessions("daily_bars", daily_frame(SESSIONS, ["AAPL", "MSFT", "BRK.B"]), SESSIONS)
    lake.write("master_dashboard", SESSIONS[-1], schemas.empty(schemas.dataset("master_dashboard").schema))
    lake.write_artifact("master_dashboard", SESSIONS[-1], "dashboard.html", b"<html>plan</html>")  # belongs there
    return lake


def chunk(path: Path, column: str) -> tuple[int, int]:
    """Where a column chunk's bytes lie in a Parquet file: (first byte, length)."""
    meta = pq.ParquetFile(path).metadata.row_group(0)
    col = next(meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == column)
    return col.data_page_offset, col.total_compressed_size


def overwrite(path: Path, at: int, data: bytes) -> None:
    body = bytearray(path.read_bytes())
    body[at:at + len(data)] = data
    path.write_bytes(bytes(body))


def truncate(root: Path) -> None:
    path = root / VICTIM
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def garble_compressed(root: Path) -> None:
    """Eight zero bytes in the middle of the close column's compressed page: the footer is intact."""
    start, length = chunk(root / VICTIM, "close")
    overwrite(root / VICTIM, start + length // 2, b"\x00" * 8)


def garble_values(root: Path) -> None:
    """Eight bytes near the end of the close column's page: it still decodes, to other prices."""
    start, length = chunk(root / VICTIM, "close")
    overwrite(root / VICTIM, start + int(length * 0.9) - 4, b"\x00" * 8)


def zero_bytes(root: Path) -> None:
    (root / VICTIM).write_bytes(b"")


def stray_copy(root: Path) -> None:
    shutil.copy(root / VICTIM, (root / VICTIM).with_name("part-1.parquet"))


def leftover_temp(root: Path) -> None:
    """A temp file of the lake's atomic writer (``.<name>.<uuid>.tmp``), two hours old."""
    path = (root / VICTIM).with_name(f".part-0.parquet.{uuid.uuid4().hex}.tmp")
    path.write_bytes(b"PAR1 half a file")
    when = time.time() - 2 * 3600
    os.utime(path, (when, when))


def gap(root: Path) -> None:
    Lake(str(root)).delete_partition("daily_bars", SESSIONS[2])


def not_parquet(root: Path) -> None:
    (root / VICTIM).write_bytes(b"symbol,close\nAAPL,1.0\n")


def retyped(root: Path) -> None:
    """The close column rewritten as text: a sound Parquet file whose schema breaks the contract (after a
    clean verify has judged the same dataset's right schema, so a verdict kept per dataset would miss it)."""
    path = root / VICTIM
    pl.read_parquet(path).with_columns(pl.col("close").cast(pl.String)).write_parquet(path)


DAMAGE: dict[str, tuple[Callable[[Path], None], str, str | tuple[str, ...]]] = {  # kind -> (damage, key, problem starts with)
    "1 truncated file": (truncate, VICTIM, "unreadable Parquet file"),
    "2 garbled bytes in a compressed page": (garble_compressed, VICTIM, "unreadable Parquet file"),
    # the statistics catch it; a writer that stores page checksums would make it unreadable instead
    "2 garbled bytes that still decode": (garble_values, VICTIM, ("damaged data: column close", "unreadable Parquet file")),
    "3 zero-byte file": (zero_bytes, VICTIM, "unreadable Parquet file"),
    "4 stray copy part-1.parquet": (stray_copy, VICTIM.replace("part-0", "part-1"), "stray file"),
    "5 leftover temp file": (leftover_temp, "", "leftover temporary file of an interrupted write"),
    "6 missing partition (gap)": (gap, "daily_bars", f"1 session(s) missing between {SESSIONS[0]} and {SESSIONS[-1]}: {SESSIONS[2]}"),
    "7 non-Parquet file named part-0.parquet": (not_parquet, VICTIM, "unreadable Parquet file"),
    "8 a column of another type": (retyped, VICTIM, "wrong schema: column close is String, the contract says Float64"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_default_verify_finds_each_kind_of_damage(kind: str, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    lake = clean_lake(root)
    clean = verify(lake)
    assert clean.ok and not clean.issues and clean.files_checked == len(SESSIONS) + 1, clean.summary()

    damage, key, problem = DAMAGE[kind]
    damage(root)
    report = verify(lake)
    assert not report.ok, report.summary()
    (error,) = report.errors
    if kind.startswith("5"):  # the temp file's own name, beside its target
        assert error.key.startswith(f"daily_bars/date={SESSIONS[2]}/.part-0.parquet.") and error.key.endswith(".tmp")
    else:
        assert error.key == key
    assert error.problem.startswith(problem), error.problem
    assert str(error) in report.summary() and "FAILED" in report.summary()


def test_the_stray_copy_doubles_a_notebook_scan_and_a_fresh_temp_file_is_only_a_warning(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    lake = clean_lake(root)
    rows = lake.scan("daily_bars").filter(pl.col("date") == D(SESSIONS[2])).collect().height
    stray_copy(root)
    assert lake.scan("daily_bars").filter(pl.col("date") == D(SESSIONS[2])).collect().height == 2 * rows
    assert "a notebook's **/*.parquet scan reads its rows too" in verify(lake).errors[0].problem
    (root / VICTIM).with_name("part-1.parquet").unlink()

    fresh = (root / VICTIM).with_name(f".part-0.parquet.{uuid.uuid4().hex}.tmp")
    fresh.write_bytes(b"PAR1 in flight")
    report = verify(lake)  # perhaps still being written: named, but not an error
    assert report.ok and [i.severity for i in report.issues] == ["warning"] and "in flight" in report.issues[0].problem
    later = verify(lake, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    assert not later.ok and "`tradingstation lake cleanup` removes it" in later.errors[0].problem


def test_deep_adds_the_content_contract(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    lake = clean_lake(root)
    assert verify(lake, deep=True).ok
    path = root / VICTIM
    frame = pl.read_parquet(path)
    broken = frame.with_columns(low=pl.when(pl.col("symbol") == "MSFT").then(pl.col("high") + 1).otherwise("low"))
    broken.write_parquet(path)  # readable, its statistics true to it: only the bar contract says no
    assert verify(lake).ok
    (error,) = verify(lake, deep=True).errors
    assert error.key == VICTIM and error.problem.startswith("breaks the bar contract") and "MSFT" in error.problem
    frame.reverse().write_parquet(path)
    (error,) = verify(lake, deep=True).errors
    assert error.problem == "rows out of their symbol, ts order (every write sorts them)"


def test_a_local_root_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    report = verify(Lake(str(tmp_path / "typo")))
    assert not report.ok and "the lake root does not exist" in report.errors[0].problem


@pytest.mark.s3
def test_on_s3_a_missing_bucket_and_an_unfinished_upload(s3_env: str, s3_endpoint: str) -> None:
    """Kind 8: listing a missing bucket finds nothing; verify says the bucket does not exist."""
    missing = verify(Lake("s3://no-such-bucket-8/lake", endpoint_url=s3_endpoint))
    assert not missing.ok, missing.summary()
    assert [i.problem for i in missing.errors] == ["the bucket 'no-such-bucket-8' does not exist"]

    lake = Lake(f"s3://{s3_env}/prod/lake", endpoint_url=s3_endpoint)
    lake.write_sessions("daily_bars", daily_frame(SESSIONS, ["AAPL", "MSFT"]), SESSIONS)
    assert verify(lake).ok
    lake.write_bytes(VICTIM.replace("part-0", "part-1"), lake.read_bytes(VICTIM))
    client = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id=TEST_KEY_ID,
                          aws_secret_access_key=TEST_SECRET, region_name="us-east-1")
    client.create_multipart_upload(Bucket=s3_env, Key=f"prod/lake/{VICTIM}")
    # moto's Initiated time is not the real one: the age is judged against an explicit clock
    report = verify(lake, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=3650))
    assert {(i.key, i.problem.split(",")[0]) for i in report.errors} == {
        (VICTIM.replace("part-0", "part-1"), "stray file: only part-0.parquet belong here (a notebook's **/*.parquet scan reads its rows too)"),
        (VICTIM, "leftover unfinished S3 upload"),
    }, report.summary()


# --- health and the nightly maintenance judge by the same verification ------------------------


def bars_of_a_day(root: Path, day: str) -> Lake:
    lake = Lake(str(root))
    lake.write_sessions("daily_bars", daily_frame(SESSIONS, ["NVDA"]), SESSIONS)
    for dataset in ("intraday_1m", "intraday_30m"):
        lake.write(dataset, day, minute_frame(day, ["NVDA"]))
    for dataset in ("daily_bars", "intraday_1m", "intraday_30m"):
        lake.write(f"{dataset}_quarantine", day, schemas.empty(schemas.QUARANTINE))
    return lake


def test_health_is_unhealthy_when_verify_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    root, day = tmp_path / "lake", SESSIONS[-1]
    bars_of_a_day(root, day)
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(root))
    assert cli.main(["health", "--date", day, "--check", "storage", "--check", "data"]) == 0
    assert "HEALTHY" in capsys.readouterr().out

    truncate(root)  # an older session: the data check of `day` cannot see it, verify does
    stray_copy(root)
    assert cli.main(["health", "--date", day, "--check", "storage", "--check", "data"]) == 1
    out = capsys.readouterr().out
    assert "UNHEALTHY: storage" in out and "lake verify finds 2 error(s)" in out and VICTIM in out

    (root / f"daily_bars/date={day}/part-0.parquet").write_bytes(b"")  # the session's own file
    assert cli.main(["health", "--date", day, "--check", "data"]) == 1
    assert f"damaged daily_bars[{day}] (unreadable Parquet file" in capsys.readouterr().out


def test_the_nightly_maintenance_records_what_verify_finds(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    lake = clean_lake(root)
    stray_copy(root)
    garble_values(root)
    result = dg.materialize([lake_maintenance], partition_key=SESSIONS[-1], resources={"lake": LakeResource(root=str(root))})
    meta = {k: v.value for k, v in result.asset_materializations_for_node("lake_maintenance")[0].metadata.items()}
    assert meta["healthy"] is False and meta["health_storage"] is False and meta["verify_errors"] == 2
    assert "part-1.parquet: stray file" in meta["verify"] and "damaged data: column close" in meta["verify"]
    assert lake.exists("daily_bars", SESSIONS[2])  # judged, not deleted


# --- repairs repair ----------------------------------------------------------------------------


def universe(day: str, symbols: list[str]) -> pl.DataFrame:
    frame = pl.DataFrame({"symbol": symbols, "included": True, "reason": "", "list_name": "explicit"}).with_columns(
        last_close=pl.lit(None, pl.Float64), avg_dollar_volume=pl.lit(None, pl.Float64),
        list_as_of=pl.lit(None, pl.Date), date=pl.lit(D(day)),
        sector=pl.lit(None, pl.String), industry=pl.lit(None, pl.String), exchange=pl.lit(None, pl.String),
    )
    return schemas.conform(frame, schemas.UNIVERSE)


UNIVERSES = {  # each session its own membership: MSFT is out on the 25th and 26th, TSLA joins on the 26th
    "2025-11-24": ["AAPL", "MSFT", "NVDA"],
    "2025-11-25": ["AAPL", "NVDA"],
    "2025-11-26": ["AAPL", "NVDA", "TSLA"],
    "2025-11-28": ["AAPL", "MSFT", "NVDA", "TSLA"],
}


def universe_lake(root: Path) -> Lake:
    lake = Lake(str(root))
    for day, symbols in UNIVERSES.items():
        lake.write("universe", day, universe(day, symbols))
    return lake


def symbols_by_session(lake: Lake) -> dict[str, list[str]]:
    bars = lake.read("daily_bars", columns=["symbol"])
    return {d.isoformat(): sorted(g["symbol"]) for (d,), g in sorted(bars.group_by("date"), key=lambda kv: kv[0])}


def backfill(root: Path, first: str, last: str, tags: dict[str, str] | None = None) -> None:
    lake = LakeResource(root=str(root))
    resources = {"source": SyntheticSource(), "lake": lake, "io_manager": LakeIOManager(lake=lake)}
    job = dg.define_asset_job("bars", selection=[daily_bars], partitions_def=SESSION_PARTITIONS)
    job_def = dg.Definitions(assets=[daily_bars], jobs=[job], resources=resources, executor=dg.in_process_executor).resolve_job_def("bars")
    range_tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    assert job_def.execute_in_process(instance=dg.DagsterInstance.ephemeral(), tags={**range_tags, **(tags or {})}).success


def test_a_backfill_writes_each_session_for_its_own_universe(tmp_path: Path) -> None:
    lake = universe_lake(tmp_path / "lake")
    backfill(tmp_path / "lake", "2025-11-24", "2025-11-28")  # one run, three universes
    assert symbols_by_session(lake) == {day: sorted(symbols) for day, symbols in UNIVERSES.items()}
    assert lake.read("daily_bars_quarantine").is_empty()
    assert find_gaps(lake, "daily_bars").gaps.is_empty()  # MSFT out of the universe is absent by design, no gap
    assert verify(lake, check_gaps=True).ok and not verify(lake, check_gaps=True).issues

    # the universe sensor's history run: the anchor session's symbols on every session, as before
    backfill(tmp_path / "lake", "2025-11-24", "2025-11-25", {"tradingstation/universe_session": "2025-11-26"})
    assert symbols_by_session(lake) == {
        "2025-11-24": ["AAPL", "MSFT", "NVDA", "TSLA"], "2025-11-25": ["AAPL", "NVDA", "TSLA"],
        "2025-11-26": ["AAPL", "NVDA", "TSLA"], "2025-11-28": ["AAPL", "MSFT", "NVDA", "TSLA"],
    }


def test_rebuild_of_a_range_loses_no_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    root = tmp_path / "lake"
    lake = universe_lake(root)
    for day in UNIVERSES:  # the originals: one session a run, as the daily schedule writes them
        backfill(root, day, day)
    original = lake.read("daily_bars").sort("date", "symbol")
    counts = dict(original.group_by("date").len().sort("date").iter_rows())

    def per_session() -> dict[dt.date, int]:
        return dict(lake.read("daily_bars").group_by("date").len().sort("date").iter_rows())

    backfill(root, "2025-11-24", "2025-11-28")  # the whole stretch as one run, as a history backfill writes it
    assert per_session() == counts
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    # a part of it rebuilt, each session for its own universe (before: for the union of the range's universes,
    # so the wide run wrote MSFT on every session and this rebuild dropped it from the 25th and 26th)
    assert cli.main(["lake", "rebuild", "--dataset", "daily_bars", "--start", "2025-11-25", "--end", "2025-11-26"]) == 0
    assert per_session() == counts  # 0 rows lost, none added
    assert lake.read("daily_bars").sort("date", "symbol").equals(original)


def test_detect_and_fill_gaps_go_on_past_damaged_files_and_rewrite_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    root = tmp_path / "lake"
    lake = universe_lake(root)
    days = list(UNIVERSES)
    backfill(root, days[0], days[-1])
    good = lake.read("daily_bars").sort("date", "symbol")
    truncated, nvda_gap = f"daily_bars/date={days[1]}/part-0.parquet", D(days[2])
    (root / truncated).write_bytes((root / truncated).read_bytes()[:100])
    frame = lake.read("daily_bars", sessions=[nvda_gap])
    lake.write("daily_bars", nvda_gap, frame.filter(pl.col("symbol") != "NVDA"))

    found = find_gaps(lake, "daily_bars")
    assert found.damaged_dates == [D(days[1])] and found.damaged[0].key == truncated
    assert ("NVDA", nvda_gap, False) in found.gaps.rows() and found.sessions == [D(days[1]), nvda_gap]

    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert cli.main(["lake", "detect-gaps"]) == 1
    out = capsys.readouterr().out
    assert f"DAMAGED {truncated}: unreadable Parquet file" in out and "NVDA" in out

    assert cli.main(["lake", "fill-gaps", "--symbol", "NVDA"]) == 0
    out = capsys.readouterr().out
    assert "2 missing (symbol, session) pair(s) and 1 damaged file(s) over 2 session(s)" in out
    assert "after the run: 0 gap(s), 0 damaged file(s) left" in out
    assert lake.read("daily_bars").sort("date", "symbol").equals(good)  # every row back, byte for byte the same bars
    assert verify(lake, check_gaps=True, deep=True).ok


def test_detect_gaps_names_a_damaged_last_session_too(tmp_path: Path) -> None:
    """A damaged file at the edge of the range has no gap around it, but is named all the same."""
    lake = clean_lake(tmp_path / "lake")
    last = tmp_path / "lake" / f"daily_bars/date={SESSIONS[-1]}/part-0.parquet"
    last.write_bytes(b"")
    found = find_gaps(lake, "daily_bars")
    assert found.gaps.is_empty() and found.damaged_dates == [D(SESSIONS[-1])]
    assert find_gaps(lake, "daily_bars", SESSIONS[0], SESSIONS[-2]).damaged == []
