"""The Parquet lake: keys, atomic writes, reads. This package is also the notebook API.

Layout: ``{root}/{dataset}/date=YYYY-MM-DD/part-0.parquet`` (hive style, one dataset per
asset). ``root`` is a local path (default ``./data/lake``) or ``s3://bucket/prefix`` with an
endpoint URL for DigitalOcean Spaces, MinIO or any S3-compatible store; both go through one
pyarrow filesystem code path.

- Writes are atomic: the file is serialized in memory first, then published in one step
  (a rename on local disk; on S3 one upload, which S3 publishes only once complete), so no reader ever sees half a file.
- An empty result is written as an empty file with the full schema: "ran and found nothing"
  differs from "never ran".
- ``date`` is the hive key, not a column inside the file; reads add it back as ``pl.Date``.

From a notebook::

    from tradingstation import lake
    bars = lake.read("daily_bars", start="2025-01-02", end="2025-06-30", symbols=["NVDA"])
    # or with nothing but polars:
    pl.scan_parquet("data/lake/daily_bars/**/*.parquet", hive_partitioning=True)

Modules: :mod:`.store` (the key store, local or S3, and where the lake lives), :mod:`.datasets`
(session partitions of the datasets as polars frames).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from tradingstation.lake.datasets import FILE_NAME, Lake, WriteInfo
from tradingstation.lake.store import (
    DEFAULT_ROOT,
    ENV_ENDPOINT,
    ENV_REGION,
    ENV_ROOT,
    FileEntry,
    KeyStore,
    LakeSettings,
)

__all__ = [
    "DEFAULT_ROOT", "ENV_ENDPOINT", "ENV_REGION", "ENV_ROOT", "FILE_NAME",
    "FileEntry", "KeyStore", "Lake", "LakeSettings", "WriteInfo", "default_lake", "read",
]


def default_lake() -> Lake:
    return Lake.from_env()


def read(
    dataset: str,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    *,
    symbols: Sequence[str] | str | None = None,
    columns: Sequence[str] | None = None,
    root: str | None = None,
    endpoint_url: str | None = None,
) -> pl.DataFrame:
    """Read a dataset from the lake into polars: the notebook convenience.

    ``root`` defaults to $TRADINGSTATION_LAKE_ROOT or ./data/lake; the S3 settings come from the
    environment as everywhere else (``endpoint_url`` overrides).
    """
    settings = LakeSettings.from_env(root=root)
    lake = Lake(settings.root, endpoint_url or settings.endpoint_url, settings.region)
    return lake.read(dataset, start, end, symbols=symbols, columns=columns)
