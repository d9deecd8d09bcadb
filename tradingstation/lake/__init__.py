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
    # on S3: storage_options=Lake.from_env().storage_options()
    # or SQL: lake.duckdb() is a duckdb connection that reads the lake, local or S3

Modules: :mod:`.store` (the key store, local or S3, and where the lake lives), :mod:`.datasets`
(session partitions of the datasets as polars frames).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import polars as pl

from tradingstation.core.errors import LakeConfigError
from tradingstation.core.secrets import redact
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

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

# The wheel that ships duckdb's S3 extension (pinned to duckdb's version in pyproject.toml), so
# `lake.duckdb()` never downloads an extension at run time.
HTTPFS_WHEEL = "duckdb-ext-httpfs"

__all__ = [
    "DEFAULT_ROOT", "ENV_ENDPOINT", "ENV_REGION", "ENV_ROOT", "FILE_NAME",
    "FileEntry", "KeyStore", "Lake", "LakeSettings", "WriteInfo", "default_lake", "duckdb", "read",
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


def duckdb(root: str | None = None, endpoint_url: str | None = None) -> DuckDBPyConnection:
    """A duckdb connection that reads the lake with SQL: the duckdb twin of ``Lake.storage_options()``.

    For a local lake it is a plain connection. For an S3 lake (``s3://bucket/prefix``) the httpfs
    extension is loaded from the ``duckdb-ext-httpfs`` wheel (no download) and an S3 secret is
    created from the environment as everywhere else: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``
    (and ``AWS_SESSION_TOKEN`` if set), the endpoint of $TRADINGSTATION_S3_ENDPOINT_URL (path-style
    URLs, SSL as the URL says) and $TRADINGSTATION_S3_REGION. ``root`` defaults to
    $TRADINGSTATION_LAKE_ROOT; ``endpoint_url`` overrides the endpoint. duckdb keeps the secret
    redacted (``duckdb_secrets()`` shows ``secret=redacted``); errors raised here are redacted too::

        from tradingstation import lake
        con = lake.duckdb()
        con.sql(
            "select date, count(*) as symbols "
            "from read_parquet('s3://my-space/lake/daily_bars/**/*.parquet', hive_partitioning=true) "
            "group by date order by date"
        ).pl()  # a local lake: read_parquet('data/lake/daily_bars/**/*.parquet', ...)

    Raises :class:`LakeConfigError` for a root, endpoint or credentials that cannot work and when
    the httpfs extension cannot be loaded.
    """
    import duckdb as duckdb_module

    settings = LakeSettings.from_env(root=root)
    # KeyStore validates the root, the endpoint and, for S3, that credentials are set (no I/O).
    store = KeyStore(settings.root, endpoint_url or settings.endpoint_url, settings.region)
    if not store.is_s3:
        return duckdb_module.connect()
    # Never fetch an extension at run time: the wheel's file, or one installed beforehand.
    connection = duckdb_module.connect(config={"autoinstall_known_extensions": False})
    install_hint = f" (the S3 extension: pip install '{HTTPFS_WHEEL}=={duckdb_module.__version__}.*')"
    steps = [
        (f"LOAD {_sql_string(_httpfs_extension_file() or 'httpfs')}", install_hint),
        (_s3_secret_sql(store.endpoint_url, store.region), ""),
    ]
    failure = None
    for statement, hint in steps:
        try:
            connection.execute(statement)
        except duckdb_module.Error as exc:
            failure = redact(str(exc)) + hint  # a parser error quotes the statement, secret included
            break
    if failure is None:
        return connection
    connection.close()
    # Raised outside the except block: the unredacted duckdb error is not kept as __context__.
    raise LakeConfigError(f"duckdb cannot read the S3 lake {store.root}: {failure}")


def _httpfs_extension_file() -> str | None:
    """The httpfs extension file the ``duckdb-ext-httpfs`` wheel installed, if it is installed."""
    from importlib.metadata import PackageNotFoundError, files

    try:
        entries = files(HTTPFS_WHEEL) or []
    except PackageNotFoundError:
        return None
    found = next((entry for entry in entries if entry.name == "httpfs.duckdb_extension"), None)
    return str(found.locate()) if found is not None else None


def _s3_secret_sql(endpoint_url: str | None, region: str | None) -> str:
    """``CREATE SECRET`` for the lake's bucket from the environment's credentials."""
    options = {
        "KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "SECRET": os.environ["AWS_SECRET_ACCESS_KEY"],
        "REGION": region or "us-east-1",
    }
    if os.environ.get("AWS_SESSION_TOKEN"):
        options["SESSION_TOKEN"] = os.environ["AWS_SESSION_TOKEN"]
    if endpoint_url:  # S3-compatible stores (Spaces, MinIO) address buckets by path
        endpoint = urlparse(endpoint_url)
        options.update(ENDPOINT=endpoint.netloc, URL_STYLE="path")
    body = ", ".join(f"{name} {_sql_string(value)}" for name, value in options.items())
    use_ssl = "false" if endpoint_url and endpoint_url.startswith("http://") else "true"
    return f"CREATE OR REPLACE SECRET lake_s3 (TYPE S3, {body}, USE_SSL {use_ssl})"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
