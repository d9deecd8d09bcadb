"""Lake figures against the libraries the lake stands on, locally and on an S3 server (moto).

- one 8,000-symbol regular 1-minute session (~3.1 M rows): ``Lake.write`` against
  ``pyarrow.parquet.write_table`` of the same table with the lake's settings (zstd level 1,
  statistics), and ``Lake.read(sessions=[D])`` against ``pl.read_parquet`` of the same file;
- a 200-session daily window for 8,000 symbols (1.6 M rows): ``Lake.read(sessions=...)`` against
  ``pl.scan_parquet`` over the same 200 files.

Both readers add the hive ``date`` column; the results are asserted equal (and the two written
files read back equal) before anything is timed; each side best of 7, the two alternating. On S3
polars gets ``Lake.storage_options()`` and pyarrow an ``S3FileSystem`` on the same endpoint (a
local moto server: its speed is moto's as much as the lake's). Targets: reads <= 1.2x polars,
writes <= 1.0x ``write_table``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from urllib.parse import urlparse

import polars as pl
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from polars.testing import assert_frame_equal

from benchmarks.common import Figure, best_of_pair
from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.resources.sources.synthetic_source import SyntheticSource

SYMBOLS = [f"S{i:04d}" for i in range(8000)]
SESSION = "2025-11-25"
WINDOW = 200
READ_LIMIT, WRITE_LIMIT = 1.2, 1.0
FAST_REPEAT = 7  # sub-second figures: best of 7, the two sides alternating (load spikes hit both)


def minute_session() -> pl.DataFrame:
    fetched = SyntheticSource().fetch(SYMBOLS, "1m", SESSION, SESSION)
    bars = schemas.validate_bars(fetched.bars, intraday=True).bars
    return bars.filter(pl.col("session") == "regular")


def daily_window(sessions: list) -> pl.DataFrame:
    fetched = SyntheticSource().fetch(SYMBOLS, "1d", sessions[0], sessions[-1])
    return schemas.validate_bars(fetched.bars, intraday=False).bars


def baseline_filesystem(lake: Lake) -> tuple[pafs.FileSystem, str]:
    """A plain pyarrow filesystem on the lake's storage, and a folder there for the baseline's file."""
    if not lake.is_s3:
        return pafs.LocalFileSystem(), f"{lake.base_uri}-baseline"
    endpoint = urlparse(lake.endpoint_url or "")
    fs = pafs.S3FileSystem(access_key=os.environ["AWS_ACCESS_KEY_ID"], secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                           region=lake.region or "us-east-1", endpoint_override=endpoint.netloc, scheme=endpoint.scheme)
    return fs, f"{lake.base_uri.removeprefix('s3://')}-baseline"


def lake_figures(lake: Lake, label: str, minutes: pl.DataFrame, daily: pl.DataFrame, sessions: list) -> Iterator:
    options = lake.storage_options() or None
    hive = {"hive_partitioning": True, "hive_schema": {"date": pl.Date}, "storage_options": options}

    # --- write: the same table through the lake and through pyarrow, files read back equal
    lake.write("intraday_1m", SESSION, minutes)
    written = pl.read_parquet(lake.uri("intraday_1m", SESSION), storage_options=options)
    table = written.to_arrow()  # exactly the table the lake wrote (conformed, without `date`)
    fs, folder = baseline_filesystem(lake)
    fs.create_dir(folder, recursive=True)
    target = f"{folder}/part-0.parquet"

    def write_table() -> None:
        pq.write_table(table, target, filesystem=fs, compression="zstd", compression_level=1, write_statistics=True)

    write_table()
    back = pl.read_parquet(f"s3://{target}" if lake.is_s3 else target, storage_options=options)
    assert_frame_equal(back, written)
    assert_frame_equal(written, minutes.drop("date"), check_column_order=False)
    write, write_base = best_of_pair(lambda: lake.write("intraday_1m", SESSION, minutes), write_table, FAST_REPEAT)
    yield Figure(f"{label} write, 1m session ({minutes.height:,} rows) <= write_table", write, write_base,
                 "pq.write_table", WRITE_LIMIT)

    # --- one session read back: Lake.read vs pl.read_parquet of the same file
    uri = lake.uri("intraday_1m", SESSION)
    ours = lake.read("intraday_1m", sessions=[SESSION])
    theirs = pl.read_parquet(uri, **hive)
    assert_frame_equal(ours, theirs.select(ours.columns))
    read, read_base = best_of_pair(lambda: lake.read("intraday_1m", sessions=[SESSION]),
                                   lambda: pl.read_parquet(uri, **hive), FAST_REPEAT)
    yield Figure(f"{label} read, 1m session <= 1.2x polars", read, read_base, "pl.read_parquet", READ_LIMIT)

    # --- a 200-session daily window: Lake.read(sessions=...) vs pl.scan_parquet of the same files
    lake.write_sessions("daily_bars", daily, sessions)
    uris = [lake.uri("daily_bars", d) for d in sessions]
    ours = lake.read("daily_bars", sessions=sessions)
    theirs = pl.scan_parquet(uris, **hive).collect()
    assert_frame_equal(ours, theirs.select(ours.columns))
    assert ours.height == daily.height
    window, window_base = best_of_pair(lambda: lake.read("daily_bars", sessions=sessions),
                                       lambda: pl.scan_parquet(uris, **hive).collect(), FAST_REPEAT)
    yield Figure(f"{label} read, {WINDOW}-session daily window ({daily.height:,} rows) <= 1.2x polars", window,
                 window_base, "pl.scan_parquet", READ_LIMIT)


def main() -> Iterator:
    from tradingstation.testing import TEST_KEY_ID, TEST_SECRET, create_bucket, moto_s3_server

    minutes = minute_session()
    sessions = calendar.sessions_before(SESSION, WINDOW)
    daily = daily_window(sessions)
    yield (f"data (untimed): {len(SYMBOLS):,} symbols; 1m session {minutes.height:,} rows, "
           f"{WINDOW}-session daily window {daily.height:,} rows; best of {FAST_REPEAT}, the sides alternating")
    with tempfile.TemporaryDirectory() as tmp:
        yield from lake_figures(Lake(f"{tmp}/lake"), "local", minutes, daily, sessions)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", TEST_KEY_ID)
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", TEST_SECRET)
    with moto_s3_server() as endpoint:
        create_bucket(endpoint, "bench")
        yield from lake_figures(Lake("s3://bench/lake", endpoint_url=endpoint), "s3", minutes, daily, sessions)
