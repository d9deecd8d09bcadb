"""The README's notebook paths, as documented: polars with ``Lake.storage_options()`` and
``lake.duckdb()``, on a local lake and on the moto S3 server, configured from the environment only.

``lake.duckdb()`` must work offline (httpfs from the duckdb-ext-httpfs wheel, never downloaded) and
never show the S3 secret: not in its errors, not in the connection, not in duckdb's secret listing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from tradingstation import lake
from tradingstation.core.errors import LakeConfigError
from tradingstation.lake import Lake

from lake_data import daily_frame

SESSIONS = ["2025-11-25", "2025-11-26", "2025-11-28", "2025-12-01"]
SYMBOLS = ["AAPL", "NVDA", "TSLA"]
PER_DATE_SQL = (
    "select date, count(*) as rows, sum(volume) as volume "
    "from read_parquet('{root}/daily_bars/**/*.parquet', hive_partitioning=true) group by date order by date"
)


def per_date(frame: pl.DataFrame) -> pl.DataFrame:
    totals = frame.group_by("date").agg(pl.len().cast(pl.Int64).alias("rows"), pl.col("volume").sum())
    return totals.sort("date")


def write_lake(root: str) -> pl.DataFrame:
    written = daily_frame(SESSIONS, SYMBOLS)
    Lake.from_env().write_sessions("daily_bars", written, SESSIONS)
    assert Lake.from_env().root == root
    return per_date(written)


def duckdb_per_date(root: str) -> pl.DataFrame:
    con = lake.duckdb()  # held: a relation of a collected connection cannot be fetched
    got = con.sql(PER_DATE_SQL.format(root=root)).pl()
    return got.with_columns(pl.col("rows").cast(pl.Int64), pl.col("volume").cast(pl.Int64))


@pytest.fixture
def s3_lake(s3_env: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An S3 lake named by the environment alone, as on a production notebook host."""
    root = f"s3://{s3_env}/lake"
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", root)
    monkeypatch.setenv("TRADINGSTATION_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.delenv("TRADINGSTATION_S3_REGION", raising=False)
    return root


def test_local_lake_reads_the_same_through_polars_and_duckdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = str(tmp_path / "lake")
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", root)
    expected = write_lake(root)
    assert Lake.from_env().storage_options() == {}  # a local lake needs none
    scanned = pl.scan_parquet(f"{root}/daily_bars/**/*.parquet", hive_partitioning=True).collect()
    assert per_date(scanned).with_columns(pl.col("volume").cast(pl.Int64)).equals(expected)
    got = duckdb_per_date(root)
    assert got["date"].dtype == pl.Date and got["date"][0] == dt.date(2025, 11, 25)
    assert got.equals(expected)


@pytest.mark.s3
def test_s3_lake_reads_the_same_through_polars_and_duckdb(s3_lake: str) -> None:
    expected = write_lake(s3_lake)
    options = Lake.from_env().storage_options()
    scanned = pl.scan_parquet(
        f"{s3_lake}/daily_bars/**/*.parquet", hive_partitioning=True, storage_options=options
    )
    assert per_date(scanned.collect()).with_columns(pl.col("volume").cast(pl.Int64)).equals(expected)
    assert duckdb_per_date(s3_lake).equals(expected)


@pytest.mark.s3
def test_duckdb_loads_httpfs_from_the_wheel_and_never_downloads(s3_lake: str) -> None:
    write_lake(s3_lake)
    con = lake.duckdb()
    loaded = con.sql("select loaded from duckdb_extensions() where extension_name = 'httpfs'").fetchone()
    assert loaded == (True,)
    assert con.sql("select current_setting('autoinstall_known_extensions')").fetchone() == (False,)
    assert lake._httpfs_extension_file() is not None and "duckdb_ext" in lake._httpfs_extension_file()


@pytest.mark.s3
def test_duckdb_s3_secret_is_never_shown(s3_lake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A quote in the secret must neither break the statement nor end up unquoted in it.
    secret = "it's-the-secret-key"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)  # moto accepts any key pair
    expected = write_lake(s3_lake)
    con = lake.duckdb()
    assert duckdb_per_date(s3_lake).equals(expected)
    listing = con.sql("select secret_string from duckdb_secrets()").fetchall()
    assert listing and all(secret not in row[0] and "secret=redacted" in row[0] for row in listing)
    assert secret not in repr(con) and secret not in str(con)


@pytest.mark.s3
def test_duckdb_error_is_redacted(s3_lake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "parser-errors-quote-me"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    original = lake._s3_secret_sql
    # A statement duckdb refuses: its parser error quotes the statement, secret included.
    monkeypatch.setattr(lake, "_s3_secret_sql", lambda *args: original(*args).replace(", REGION", " REGION"))
    with pytest.raises(LakeConfigError, match="duckdb cannot read the S3 lake s3://") as caught:
        lake.duckdb()
    assert secret not in str(caught.value) and "***" in str(caught.value)
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert "pip install" not in str(caught.value)  # the extension loaded: no install hint


@pytest.mark.s3
def test_duckdb_without_the_extension_says_what_to_install(
    s3_lake: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lake, "_httpfs_extension_file", lambda: str(tmp_path / "httpfs.duckdb_extension"))
    with pytest.raises(LakeConfigError, match=r"pip install 'duckdb-ext-httpfs==1\.4\.4\.\*'"):
        lake.duckdb()


@pytest.mark.s3
def test_duckdb_without_credentials_names_the_variables(
    s3_lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(LakeConfigError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") as caught:
        lake.duckdb()
    assert "test-secret-key" not in str(caught.value)


def test_duckdb_refuses_a_root_it_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", "gs://bucket/lake")
    with pytest.raises(LakeConfigError, match="unknown lake scheme 'gs'"):
        lake.duckdb()
