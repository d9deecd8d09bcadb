"""The Parquet lake, locally and on a real S3-compatible server (moto over HTTP on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tradingstation import lake as lake_module
from tradingstation.core import calendar, schemas
from tradingstation.core.errors import (
    LakeConfigError,
    LakeUnreachableError,
    NotASessionError,
    UnknownDatasetError,
)
from tradingstation.lake import Lake

from lake_data import daily_frame, minute_frame

SESSIONS = ["2025-11-25", "2025-11-26", "2025-11-28", "2025-12-01"]


def roundtrip(lake: Lake) -> None:
    df = daily_frame(SESSIONS, ["AAPL", "MSFT", "BRK.B"])
    infos = lake.write_sessions("daily_bars", df, SESSIONS)
    assert [i.rows for i in infos] == [3, 3, 3, 3]
    assert infos[0].uri.endswith("daily_bars/date=2025-11-25/part-0.parquet")
    assert lake.sessions("daily_bars") == [dt.date.fromisoformat(s) for s in SESSIONS]
    back = lake.read("daily_bars", "2025-11-26", "2025-11-28")
    assert back.schema == schemas.DAILY_BARS
    assert back["date"].unique().sort().to_list() == [dt.date(2025, 11, 26), dt.date(2025, 11, 28)]
    expected = df.filter(pl.col("date").is_between(dt.date(2025, 11, 26), dt.date(2025, 11, 28)))
    assert back.sort("date", "symbol").equals(expected.sort("date", "symbol"))
    only = lake.read("daily_bars", symbols=["brk.b"])
    assert only["symbol"].unique().to_list() == ["BRK.B"] and only.height == 4


def test_local_roundtrip(tmp_path: Path) -> None:
    roundtrip(Lake(str(tmp_path / "lake")))


@pytest.mark.s3
def test_s3_roundtrip(s3_env: str, s3_endpoint: str) -> None:
    roundtrip(Lake(f"s3://{s3_env}/prod/lake", endpoint_url=s3_endpoint))


def test_empty_result_is_an_empty_file_with_the_full_schema(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    info = lake.write("intraday_1m", "2025-11-28", schemas.empty(schemas.INTRADAY_BARS))
    assert info.rows == 0 and Path(info.uri).exists()
    on_disk = pl.read_parquet(info.uri)
    assert on_disk.height == 0 and list(on_disk.schema) == [c for c in schemas.INTRADAY_BARS if c != "date"]
    assert lake.exists("intraday_1m", "2025-11-28") and not lake.exists("intraday_1m", "2025-11-26")


def test_write_sessions_writes_empty_files_for_sessions_without_rows(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    infos = lake.write_sessions("daily_bars", daily_frame(["2025-11-25"], ["A"]), ["2025-11-25", "2025-11-26"])
    assert [i.rows for i in infos] == [1, 0]
    with pytest.raises(ValueError, match="sessions not being written"):
        lake.write_sessions("daily_bars", daily_frame(["2025-11-25"], ["A"]), ["2025-11-26"])


def test_rewrite_replaces_atomically_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.write("daily_bars", "2025-11-25", daily_frame(["2025-11-25"], ["A", "B"]))
    lake.write("daily_bars", "2025-11-25", daily_frame(["2025-11-25"], ["C"]))
    assert lake.read("daily_bars")["symbol"].to_list() == ["C"]
    assert [p.name for p in (tmp_path / "daily_bars" / "date=2025-11-25").iterdir()] == ["part-0.parquet"]


def test_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.write("daily_bars", "2025-11-25", daily_frame(["2025-11-25"], ["A"]))
    bad = daily_frame(["2025-11-25"], ["B"]).with_columns(volume=pl.lit("lots"))
    with pytest.raises(schemas.SchemaError, match="volume"):
        lake.write("daily_bars", "2025-11-25", bad)
    assert lake.read("daily_bars")["symbol"].to_list() == ["A"]
    assert len(list((tmp_path / "daily_bars" / "date=2025-11-25").iterdir())) == 1


@pytest.mark.parametrize("failing_at, slow_at", [(2, None), (1, 0)])  # among equals; behind a slow first write
def test_a_failed_write_among_many_stops_the_writes_not_yet_started(
    failing_at: int, slow_at: int | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Partitions are written two at once here: one that fails raises its error, the writes already
    running end whole, the ones not yet started are not made (also while an earlier, slower write is
    still running), and no file is left half written."""
    import time

    days = [d.isoformat() for d in calendar.sessions_in_range("2025-11-03", "2025-11-20")]
    failing, slow = days[failing_at], (days[slow_at] if slow_at is not None else None)
    publish = Lake._publish

    def slow_or_failing(self: Lake, path: str, body: pl.DataFrame) -> int:
        if f"date={failing}/" in path:
            raise OSError(f"disk full while writing {failing}")
        time.sleep(1.0 if slow and f"date={slow}/" in path else 0.05)
        return publish(self, path, body)

    monkeypatch.setattr(Lake, "_publish", slow_or_failing)
    monkeypatch.setattr(Lake, "files_at_once", property(lambda self: 2))
    lake = Lake(str(tmp_path))
    frame = daily_frame(days, ["AAPL", "MSFT"])
    with pytest.raises(OSError, match=f"disk full while writing {failing}"):
        lake.write_sessions("daily_bars", frame, days)
    written = [d.isoformat() for d in lake.sessions("daily_bars")]
    assert failing not in written and set(days[:failing_at]) <= set(written)  # those before it were written
    assert len(written) <= failing_at + 2  # at most the write running beside it and one more: not the rest
    for day in written:  # each whole, as given
        assert lake.read("daily_bars", sessions=[day]).sort("symbol").equals(
            frame.filter(pl.col("date") == dt.date.fromisoformat(day)).sort("symbol"))
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_notebook_reads_with_plain_polars_and_duckdb(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.write_sessions("daily_bars", daily_frame(SESSIONS, ["AAPL", "NVDA"]), SESSIONS)
    scanned = pl.scan_parquet(str(tmp_path / "daily_bars" / "**" / "*.parquet"), hive_partitioning=True).collect()
    assert scanned.height == 8 and scanned.schema["date"] == pl.Date
    assert scanned.schema["ts"] == pl.Datetime("us", "UTC")
    rows = duckdb.sql(
        f"select date, count(*) from read_parquet('{tmp_path}/daily_bars/*/*.parquet', hive_partitioning=true) "
        "group by 1 order by 1"
    ).fetchall()
    assert [r[1] for r in rows] == [2, 2, 2, 2] and str(rows[0][0]) == "2025-11-25"
    assert lake.scan("daily_bars").select(pl.len()).collect().item() == 8


def test_module_read_uses_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Lake(str(tmp_path)).write("intraday_1m", "2025-11-28", minute_frame("2025-11-28", ["TSLA", "NVDA"]))
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    df = lake_module.read("intraday_1m", start="2025-11-28", end="2025-11-28", symbols=["NVDA"])
    assert df.height == 30 and set(df["symbol"]) == {"NVDA"}


@pytest.mark.s3
def test_s3_lake_is_read_by_plain_polars_and_duckdb(s3_env: str, s3_endpoint: str) -> None:
    lake = Lake(f"s3://{s3_env}/lake", endpoint_url=s3_endpoint)
    lake.write_sessions("daily_bars", daily_frame(SESSIONS, ["AAPL", "NVDA", "TSLA"]), SESSIONS)
    options = {
        "aws_access_key_id": "test-key-id",
        "aws_secret_access_key": "test-secret-key",
        "aws_endpoint_url": s3_endpoint,
        "aws_region": "us-east-1",
        "aws_allow_http": "true",
    }
    df = pl.scan_parquet(f"s3://{s3_env}/lake/daily_bars/**/*.parquet", hive_partitioning=True, storage_options=options).collect()
    assert df.height == 12 and df.schema["date"] == pl.Date
    con = duckdb_with_httpfs()
    host = s3_endpoint.removeprefix("http://")
    con.execute(
        f"CREATE SECRET (TYPE s3, KEY_ID 'test-key-id', SECRET 'test-secret-key', ENDPOINT '{host}', "
        "URL_STYLE 'path', USE_SSL false, REGION 'us-east-1')"
    )
    got = con.sql(
        f"select count(*), count(distinct date) from read_parquet('s3://{s3_env}/lake/daily_bars/*/*.parquet', "
        "hive_partitioning=true)"
    ).fetchone()
    assert got == (12, 4)


def duckdb_with_httpfs() -> duckdb.DuckDBPyConnection:
    """duckdb with its S3 extension loaded from the duckdb-ext-httpfs wheel (no download at run time)."""
    from importlib.metadata import files

    ext = next(f for f in files("duckdb-ext-httpfs") or [] if f.name == "httpfs.duckdb_extension")
    ext_dir = str(ext.locate()).split(f"/v{duckdb.__version__}/")[0]
    con = duckdb.connect(config={"extension_directory": ext_dir, "autoinstall_known_extensions": False})
    con.execute("LOAD httpfs")
    return con


# --- bad input --------------------------------------------------------------------------------


def test_unknown_dataset_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnknownDatasetError, match="unknown dataset 'daily_bar'.*daily_bars"):
        Lake(str(tmp_path)).read("daily_bar")


def test_non_session_key_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(NotASessionError, match="2025-12-25"):
        Lake(str(tmp_path)).write("daily_bars", "2025-12-25", schemas.empty(schemas.DAILY_BARS))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("root", ["gs://bucket/lake", "ftp://host/lake", "hdfs:///lake"])
def test_unknown_scheme(root: str) -> None:
    with pytest.raises(LakeConfigError, match="unknown lake scheme"):
        Lake(root)


def test_missing_s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with pytest.raises(LakeConfigError, match="AWS_ACCESS_KEY_ID"):
        Lake("s3://bucket/lake", endpoint_url="https://nyc3.digitaloceanspaces.com")


def test_unreachable_endpoint_errors_clearly_and_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from tradingstation.testing import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    lake = Lake("s3://bucket/lake", endpoint_url=endpoint)
    with pytest.raises(LakeUnreachableError, match=f"cannot reach the lake s3://bucket/lake at {endpoint}"):
        lake.write("daily_bars", "2025-11-25", daily_frame(["2025-11-25"], ["A"]))


@pytest.mark.s3
def test_wrong_credentials_are_named(s3_env: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = Lake(f"s3://no-such-bucket-{s3_env}/lake", endpoint_url=s3_endpoint)
    with pytest.raises(LakeConfigError, match="bucket"):
        lake.write("daily_bars", "2025-11-25", daily_frame(["2025-11-25"], ["A"]))


def test_s3_credentials_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASECRETID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret")
    text = repr(Lake("s3://bucket/lake", endpoint_url="https://nyc3.digitaloceanspaces.com"))
    assert "very-secret" not in text and "AKIASECRETID" not in text


def test_artifacts_sit_beside_their_partition(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    uri = lake.write_artifact("daily_bars", "2025-11-28", "report.html", b"<html></html>")
    assert uri == str(tmp_path / "daily_bars" / "date=2025-11-28" / "report.html")
    assert Path(uri).read_bytes() == b"<html></html>"
    assert lake.sessions("daily_bars") == []  # an artifact is not a partition
    with pytest.raises(ValueError, match="plain file name"):
        lake.write_artifact("daily_bars", "2025-11-28", "../escape.html", b"x")


def named_sessions_read(lake: Lake) -> None:
    """Named sessions, one of them without a partition: the default returns the others, 'error' names it."""
    lake.write_sessions("daily_bars", daily_frame(SESSIONS[:2], ["AAPL", "MSFT"]), SESSIONS[:2])
    back = lake.read("daily_bars", sessions=SESSIONS[:3])
    assert back["date"].unique().sort().to_list() == [dt.date.fromisoformat(s) for s in SESSIONS[:2]]
    assert back.height == 4 and back.schema == schemas.DAILY_BARS
    with pytest.raises(FileNotFoundError, match="no partition for 1 session\\(s\\): 2025-11-28"):
        lake.read("daily_bars", sessions=SESSIONS[:3], missing="error")
    assert lake.read("daily_bars", sessions=SESSIONS[2:]).is_empty()
    assert lake.read("daily_bars", sessions=SESSIONS[1:2], symbols=["MSFT"])["symbol"].to_list() == ["MSFT"]


def test_named_sessions_with_one_missing_locally(tmp_path: Path) -> None:
    named_sessions_read(Lake(str(tmp_path / "lake")))


@pytest.mark.s3
def test_named_sessions_with_one_missing_on_s3(s3_env: str, s3_endpoint: str) -> None:
    named_sessions_read(Lake(f"s3://{s3_env}/named/lake", endpoint_url=s3_endpoint))


@pytest.mark.s3
def test_s3_read_of_named_sessions_lists_only_when_one_is_missing(
    s3_env: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(f"s3://{s3_env}/unlisted/lake", endpoint_url=s3_endpoint)
    lake.write_sessions("daily_bars", daily_frame(SESSIONS[:2], ["AAPL"]), SESSIONS[:2])
    listings: list[str] = []
    listed = Lake.sessions
    monkeypatch.setattr(Lake, "sessions", lambda self, dataset: listings.append(dataset) or listed(self, dataset))
    assert lake.read("daily_bars", sessions=SESSIONS[:2]).height == 2
    assert listings == []  # every named file was there: no listing
    assert lake.read("daily_bars", sessions=SESSIONS[:3]).height == 2
    assert listings == ["daily_bars"]  # one was missing: one listing said which


@pytest.mark.s3
def test_a_large_s3_body_goes_in_one_put_and_reads_back_whole(
    s3_env: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradingstation.lake import store

    monkeypatch.setattr(store, "SINGLE_PUT_BYTES", 1000)  # every file of this test is "large"
    lake = Lake(f"s3://{s3_env}/put/lake", endpoint_url=s3_endpoint)
    puts: list[str] = []
    put = Lake._put_object
    monkeypatch.setattr(Lake, "_put_object", lambda self, path, data: puts.append(path) or put(self, path, data))
    df = minute_frame("2025-11-25", ["AAPL", "MSFT"])
    info = lake.write("intraday_1m", "2025-11-25", df)
    assert puts == [f"{s3_env}/put/lake/intraday_1m/date=2025-11-25/part-0.parquet"] and info.bytes > 1000
    back = lake.read("intraday_1m", sessions=["2025-11-25"])
    assert back.sort("symbol", "ts").equals(df.select(back.columns).sort("symbol", "ts"))
    assert lake.unfinished_writes() == []  # one PUT leaves no upload behind
    lake.write("intraday_1m", "2025-11-25", df.filter(pl.col("symbol") == "AAPL"))  # replaced whole
    assert lake.read("intraday_1m", sessions=["2025-11-25"])["symbol"].unique().to_list() == ["AAPL"]


@pytest.mark.s3
def test_a_large_s3_body_to_a_missing_bucket_is_named(
    s3_env: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradingstation.lake import store

    monkeypatch.setattr(store, "SINGLE_PUT_BYTES", 1000)
    lake = Lake(f"s3://no-such-bucket-{s3_env}/lake", endpoint_url=s3_endpoint)
    with pytest.raises(LakeConfigError, match="bucket"):
        lake.write("intraday_1m", "2025-11-25", minute_frame("2025-11-25", ["AAPL"]))


_INTERRUPTED_WRITES = """
import os, signal, sys, threading, time
import polars as pl  # polars sets SA_RESTART on SIGINT: an untimed wait would not see Ctrl-C
from tradingstation.core import calendar
from tradingstation.lake import Lake
sys.path.insert(0, sys.argv[2])
from lake_data import daily_frame

days = [d.isoformat() for d in calendar.sessions_in_range("2025-05-01", "2025-11-20")]
started = []
publish = Lake._publish

def slow(self, path, body):
    started.append(path)
    time.sleep(2.0 if len(started) == 2 else 0.05)  # the second write hangs a while
    return publish(self, path, body)

Lake._publish = slow
Lake.files_at_once = property(lambda self: 4)
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    Lake(sys.argv[1]).write_sessions("daily_bars", daily_frame(days, ["AAPL"]), days)
except KeyboardInterrupt:
    print(len(started), len(days))
"""


def test_an_interrupt_stops_the_writes_not_yet_started(tmp_path: Path) -> None:
    """Ctrl-C (or a run's termination) while a range is written: the writes running end whole, no
    new one starts; before, the wait on a slow write hid the interrupt until it ended."""
    import subprocess
    import sys

    tests = Path(__file__).parent
    out = subprocess.run([sys.executable, "-c", _INTERRUPTED_WRITES, str(tmp_path / "lake"), str(tests)],
                         capture_output=True, text=True, timeout=60)
    started, total = map(int, out.stdout.split())
    assert total > 120 and started < total // 2, (started, total, out.stderr[-2000:])  # the rest never started
    assert not [p for p in (tmp_path / "lake").rglob("*") if p.name.endswith(".tmp")]
