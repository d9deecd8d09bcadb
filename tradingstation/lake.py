"""The Parquet lake: keys, atomic writes, reads. Also the notebook API.

Layout: ``{root}/{dataset}/date=YYYY-MM-DD/part-0.parquet`` (hive style, one dataset per
asset). ``root`` is a local path (default ``./data/lake``) or ``s3://bucket/prefix`` with an
endpoint URL for DigitalOcean Spaces, MinIO or any S3-compatible store; both go through one
pyarrow filesystem code path.

- Writes are atomic: the file is serialized in memory first, then published in one step
  (a rename on local disk, a single PUT on S3), so no reader ever sees half a file.
- An empty result is written as an empty file with the full schema: "ran and found nothing"
  differs from "never ran".
- ``date`` is the hive key, not a column inside the file; reads add it back as ``pl.Date``.

From a notebook::

    from tradingstation import lake
    bars = lake.read("daily_bars", start="2025-01-02", end="2025-06-30", symbols=["NVDA"])
    # or with nothing but polars:
    pl.scan_parquet("data/lake/daily_bars/**/*.parquet", hive_partitioning=True)
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlparse

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from tradingstation import calendar, schemas
from tradingstation.errors import LakeConfigError, LakeUnreachableError

DEFAULT_ROOT = "./data/lake"
FILE_NAME = "part-0.parquet"
ENV_ROOT = "TRADINGSTATION_LAKE_ROOT"
ENV_ENDPOINT = "TRADINGSTATION_S3_ENDPOINT_URL"
ENV_REGION = "TRADINGSTATION_S3_REGION"
_KEY_DIR = re.compile(r"date=(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class WriteInfo:
    """What one write put where."""

    dataset: str
    date: dt.date
    uri: str
    rows: int
    bytes: int


@dataclass(frozen=True, order=True)
class FileEntry:
    """One stored file: its key relative to the lake root (``daily_bars/date=2025-01-02/part-0.parquet``)
    and its size in bytes."""

    key: str
    size: int


class Lake:
    """One lake root, local or S3-compatible."""

    def __init__(self, root: str = DEFAULT_ROOT, endpoint_url: str | None = None, region: str | None = None):
        self.root = root.rstrip("/") or "/"
        self.endpoint_url = endpoint_url or None
        self.region = region or None
        self._fs, self._base = _filesystem(self.root, self.endpoint_url, self.region)

    @classmethod
    def from_env(cls) -> Lake:
        """The lake named by TRADINGSTATION_LAKE_ROOT (default ./data/lake) and its S3 settings."""
        return cls(
            os.environ.get(ENV_ROOT, DEFAULT_ROOT),
            os.environ.get(ENV_ENDPOINT) or os.environ.get("AWS_ENDPOINT_URL"),
            os.environ.get(ENV_REGION) or os.environ.get("AWS_REGION"),
        )

    @property
    def is_s3(self) -> bool:
        return isinstance(self._fs, pafs.S3FileSystem)

    def __repr__(self) -> str:
        return f"Lake({self.root!r}" + (f", endpoint_url={self.endpoint_url!r})" if self.endpoint_url else ")")

    # --- keys ------------------------------------------------------------------------------

    def _dir(self, dataset: str) -> str:
        return f"{self._base}/{schemas.dataset(dataset).name}"

    def _path(self, dataset: str, session: dt.date | str) -> str:
        day = calendar.session(session)
        return f"{self._dir(dataset)}/date={day.isoformat()}/{FILE_NAME}"

    def uri(self, dataset: str, session: dt.date | str) -> str:
        """The full key of one partition, e.g. s3://bucket/lake/daily_bars/date=2025-01-02/part-0.parquet."""
        path = self._path(dataset, session)
        return f"s3://{path}" if self.is_s3 else path

    def dataset_uri(self, dataset: str) -> str:
        path = self._dir(dataset)
        return f"s3://{path}" if self.is_s3 else path

    # --- writes ----------------------------------------------------------------------------

    def write(self, dataset: str, session: dt.date | str, df: pl.DataFrame) -> WriteInfo:
        """Atomically replace one partition with ``df`` (which may be empty)."""
        ds = schemas.dataset(dataset)
        day = calendar.session(session)
        if "date" in df.columns and df.height:
            stray = df.filter(pl.col("date") != day)
            if stray.height:
                raise ValueError(f"{dataset}[{day}] got {stray.height} row(s) of other sessions")
        body = schemas.conform(df.with_columns(date=pl.lit(day)), ds.schema, what=dataset)
        body = body.drop("date")
        if not _is_sorted(body, ds.sort_by):  # sources mostly deliver sorted bars; skip the cost then
            body = body.sort(list(ds.sort_by))
        path = self._path(dataset, day)
        with self._errors(path):
            size = self._publish(path, body)
        return WriteInfo(ds.name, day, self.uri(dataset, day), body.height, size)

    def write_sessions(
        self, dataset: str, df: pl.DataFrame, sessions: Iterable[dt.date | str]
    ) -> list[WriteInfo]:
        """Write one partition per session from a frame with a ``date`` column.

        Every session named gets a file (an empty one when it has no rows); rows of sessions not
        named are an error, so nothing is silently left out.
        """
        days = sorted({calendar.session(s) for s in sessions})
        if "date" not in df.columns:
            raise schemas.SchemaError(f"{dataset}: a multi-session frame needs a 'date' column")
        extra = df.filter(~pl.col("date").is_in(pl.Series(days, dtype=pl.Date).implode()))
        if extra.height:
            bad = sorted(set(extra["date"].to_list()))[:5]
            raise ValueError(f"{dataset}: {extra.height} row(s) belong to sessions not being written: {bad}")
        parts = {key[0]: part for key, part in df.partition_by("date", as_dict=True).items()}
        empty = schemas.empty(schemas.dataset(dataset).schema)
        return [self.write(dataset, day, parts.get(day, empty)) for day in days]

    def _publish(self, path: str, body: pl.DataFrame) -> int:
        """Write ``body`` to ``path`` so that readers see the old file or the whole new one."""
        if self.is_s3:
            # Serialized in memory first, then one upload: S3 shows an object only once complete.
            buffer = io.BytesIO()
            _write_parquet(body, buffer)
            payload = buffer.getbuffer()
            with self._fs.open_output_stream(path) as out:
                out.write(payload)
            return len(payload)
        directory = path.rsplit("/", 1)[0]
        self._fs.create_dir(directory, recursive=True)
        tmp = f"{directory}/.{FILE_NAME}.{uuid.uuid4().hex}.tmp"
        try:
            _write_parquet(body, tmp)
            self._fs.move(tmp, path)  # rename(2): atomic on one filesystem
        except BaseException:
            _remove_quietly(self._fs, tmp)
            raise
        return self._fs.get_file_info(path).size

    def write_artifact(self, dataset: str, session: dt.date | str, name: str, data: bytes) -> str:
        """Atomically store a file beside a partition (e.g. the dashboard's HTML page); returns its URI."""
        if "/" in name or name.startswith(".") or name == FILE_NAME:
            raise ValueError(f"artifact name {name!r} must be a plain file name other than {FILE_NAME}")
        key = f"{schemas.dataset(dataset).name}/date={calendar.session(session).isoformat()}/{name}"
        self.write_bytes(key, data)
        return self.key_uri(key)

    def delete(self, dataset: str, session: dt.date | str) -> bool:
        """Remove one partition; False when it did not exist."""
        path = self._path(dataset, session)
        with self._errors(path):
            if self._fs.get_file_info(path).type == pafs.FileType.NotFound:
                return False
            self._fs.delete_file(path)
        return True

    # --- reads -----------------------------------------------------------------------------

    def sessions(self, dataset: str) -> list[dt.date]:
        """Sessions that have a partition of ``dataset``, oldest first (one listing call)."""
        root = self._dir(dataset)
        with self._errors(root):
            infos = self._fs.get_file_info(pafs.FileSelector(root, allow_not_found=True, recursive=True))
        days = []
        for info in infos:
            if info.type == pafs.FileType.File and info.base_name == FILE_NAME:
                match = _KEY_DIR.search(info.path.rsplit("/", 1)[0])
                if match:
                    days.append(dt.date.fromisoformat(match.group(1)))
        return sorted(days)

    def exists(self, dataset: str, session: dt.date | str) -> bool:
        path = self._path(dataset, session)
        with self._errors(path):
            return self._fs.get_file_info(path).type == pafs.FileType.File

    def read(
        self,
        dataset: str,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        *,
        sessions: Sequence[dt.date | str] | None = None,
        symbols: Sequence[str] | str | None = None,
        columns: Sequence[str] | None = None,
        missing: str = "ignore",
    ) -> pl.DataFrame:
        """Rows of ``dataset`` for a session range or an explicit list of sessions, in one read.

        ``missing='error'`` raises when a requested session has no partition (FileNotFoundError
        naming them); the default returns what exists. The result always has the dataset's full
        schema, with ``date`` first.
        """
        ds = schemas.dataset(dataset)
        stored = set(self.sessions(dataset))
        if sessions is not None:
            wanted = sorted({calendar.session(s) for s in sessions})
        else:
            lo = calendar.to_date(start) if start is not None else dt.date.min
            hi = calendar.to_date(end) if end is not None else dt.date.max
            wanted = sorted(d for d in stored if lo <= d <= hi)
        absent = [d for d in wanted if d not in stored]
        if absent and missing == "error":
            shown = ", ".join(d.isoformat() for d in absent[:10]) + (" ..." if len(absent) > 10 else "")
            raise FileNotFoundError(f"{dataset} has no partition for {len(absent)} session(s): {shown}")
        paths = [self._path(dataset, d) for d in wanted if d in stored]
        names = list(ds.schema.names()) if columns is None else ["date", *[c for c in columns if c != "date"]]
        if not paths:
            return schemas.empty(ds.schema).select(names)
        table = self._read_table(paths, dataset, symbols, [c for c in names if c != "date"])
        df = pl.from_arrow(table)
        assert isinstance(df, pl.DataFrame)
        return schemas.conform(df, pl.Schema({c: ds.schema[c] for c in names}), what=dataset).select(names)

    def _read_table(
        self, paths: list[str], dataset: str, symbols: Sequence[str] | str | None, columns: list[str]
    ) -> pa.Table:
        partitioning = pads.partitioning(pa.schema([("date", pa.date32())]), flavor="hive")
        flt = None
        if symbols is not None:
            flt = pads.field("symbol").isin(schemas.normalize_symbols(symbols))
        with self._errors(self._dir(dataset)):
            data = pads.dataset(
                paths, filesystem=self._fs, format="parquet", partitioning=partitioning,
                partition_base_dir=self._dir(dataset),
            )
            return data.to_table(columns=["date", *columns], filter=flt)

    def scan(self, dataset: str) -> pl.LazyFrame:
        """A lazy polars scan of the whole dataset, as a notebook would write it."""
        pattern = f"{self.dataset_uri(dataset)}/**/*.parquet"
        return pl.scan_parquet(pattern, hive_partitioning=True, storage_options=self.storage_options() or None)

    def storage_options(self) -> dict[str, str]:
        """Options for polars/object_store to read this lake directly (empty for a local lake)."""
        if not self.is_s3:
            return {}
        opts = {
            "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
            "aws_region": self.region or "us-east-1",
        }
        if self.endpoint_url:
            opts["aws_endpoint_url"] = self.endpoint_url
            opts["aws_allow_http"] = str(self.endpoint_url.startswith("http://")).lower()
        return opts

    # --- raw files (maintenance: retention, backup, restore, verification) -------------------

    @property
    def base_uri(self) -> str:
        """The root as an absolute location: ``s3://bucket/prefix`` or an absolute local path."""
        return f"s3://{self._base}" if self.is_s3 else self._base

    def _key_path(self, key: str) -> str:
        parts = key.split("/")
        if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"lake key {key!r} must be a relative 'a/b/c' path without '.', '..' or empty parts")
        return f"{self._base.rstrip('/')}/{key}"

    def key_uri(self, key: str) -> str:
        """The full location of a key relative to the root."""
        path = self._key_path(key)
        return f"s3://{path}" if self.is_s3 else path

    def files(self, prefix: str = "") -> list[FileEntry]:
        """Every file under the root, or under the folder ``prefix``, sorted by key (one listing call)."""
        base = self._key_path(prefix.rstrip("/")) if prefix.strip("/") else self._base
        cut = len(self._base.rstrip("/")) + 1
        with self._errors(base):
            infos = self._fs.get_file_info(pafs.FileSelector(base, allow_not_found=True, recursive=True))
        return sorted(FileEntry(i.path[cut:], i.size) for i in infos if i.type == pafs.FileType.File)

    def open_file(self, key: str) -> pa.NativeFile:
        """A random-access handle on one file (e.g. for ``pyarrow.parquet.ParquetFile``: footer only)."""
        path = self._key_path(key)
        with self._errors(path):
            return self._fs.open_input_file(path)

    def read_bytes(self, key: str) -> bytes:
        """The whole content of one file; FileNotFoundError when it does not exist."""
        path = self._key_path(key)
        with self._errors(path):
            if self._fs.get_file_info(path).type != pafs.FileType.File:
                raise FileNotFoundError(f"no file {self.key_uri(key)}")
            with self._fs.open_input_stream(path) as stream:
                return stream.read()

    def write_bytes(self, key: str, data: bytes) -> int:
        """Atomically create or replace one file (a rename locally, a single PUT on S3); returns its size."""
        path = self._key_path(key)
        with self._errors(path):
            if self.is_s3:
                with self._fs.open_output_stream(path) as out:
                    out.write(data)
                return len(data)
            directory, name = path.rsplit("/", 1)
            self._fs.create_dir(directory, recursive=True)
            tmp = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
            try:
                with self._fs.open_output_stream(tmp) as out:
                    out.write(data)
                self._fs.move(tmp, path)
            except BaseException:
                _remove_quietly(self._fs, tmp)
                raise
        return len(data)

    def delete_key(self, key: str) -> bool:
        """Remove one file; False when it did not exist."""
        path = self._key_path(key)
        with self._errors(path):
            if self._fs.get_file_info(path).type != pafs.FileType.File:
                return False
            self._fs.delete_file(path)
        return True

    def delete_partition(self, dataset: str, key_date: dt.date | str) -> list[FileEntry]:
        """Remove a whole ``date=`` folder: the Parquet file first (readers stop seeing the partition at
        once), then the files beside it (e.g. dashboard.html). ``key_date`` need not be a session, so
        a stray folder can be removed too. Returns what was deleted."""
        day = calendar.to_date(key_date).isoformat()
        prefix = f"{schemas.dataset(dataset).name}/date={day}"
        entries = sorted(self.files(prefix), key=lambda e: (not e.key.endswith("/" + FILE_NAME), e.key))
        for entry in entries:
            self.delete_key(entry.key)
        if not self.is_s3:  # drop the empty folder; a concurrent writer's new file keeps it
            folder = self._key_path(prefix)
            try:
                if not self._fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
                    self._fs.delete_dir(folder)
            except OSError:
                pass
        return entries

    @contextmanager
    def _errors(self, where: str) -> Iterator[None]:
        """Turn the storage layer's errors into ones that say what is wrong with the lake."""
        try:
            yield
        except (FileNotFoundError, LakeConfigError, LakeUnreachableError):
            raise
        except OSError as exc:
            text = str(exc)
            if any(s in text for s in ("ACCESS_DENIED", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403")):
                raise LakeConfigError(f"the lake at {self.root} refused the credentials: {text}") from exc
            if "NoSuchBucket" in text or "NO_SUCH_BUCKET" in text:
                raise LakeConfigError(f"the bucket of {self.root} does not exist: {text}") from exc
            if self.is_s3:
                endpoint = self.endpoint_url or "the default AWS endpoint"
                raise LakeUnreachableError(f"cannot reach the lake {self.root} at {endpoint}: {text}") from exc
            raise


def _write_parquet(df: pl.DataFrame, target: str | io.BytesIO) -> None:
    # zstd level 1: a third smaller than lz4 at nearly its speed; statistics let readers skip row groups.
    df.write_parquet(target, compression="zstd", compression_level=1, statistics=True)


def _is_sorted(df: pl.DataFrame, by: Sequence[str]) -> bool:
    """True when rows are in non-decreasing lexicographic order of ``by``; one vectorized pass."""
    if df.height < 2:
        return True
    ge: pl.Expr = pl.lit(True)
    for name in reversed(by):
        col, prev = pl.col(name), pl.col(name).shift(1)
        ge = (col > prev) | ((col == prev) & ge)
    return bool(df.select(ge.slice(1).fill_null(False).all()).item())


def _remove_quietly(fs: pafs.FileSystem, path: str) -> None:
    try:
        fs.delete_file(path)
    except OSError:
        pass


def _filesystem(root: str, endpoint_url: str | None, region: str | None) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and base path for a lake root; clear errors for what cannot work."""
    parsed = urlparse(root)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and root[1:3] in (":\\", ":/")):
        path = parsed.path if scheme == "file" else root
        return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path))
    if scheme != "s3":
        raise LakeConfigError(
            f"unknown lake scheme {scheme!r} in {root!r}: use a local path or s3://bucket/prefix"
        )
    bucket = parsed.netloc
    if not bucket:
        raise LakeConfigError(f"lake root {root!r} names no bucket: use s3://bucket/prefix")
    key_id, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        raise LakeConfigError(
            f"the S3 lake {root} needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "in the environment (for DigitalOcean Spaces, a Spaces access key)"
        )
    options: dict = {
        "access_key": key_id,
        "secret_key": secret,
        "region": region or "us-east-1",
        "connect_timeout": 3,
        "request_timeout": 60,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=3),
    }
    if endpoint_url:
        endpoint = urlparse(endpoint_url)
        if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
            raise LakeConfigError(f"S3 endpoint URL {endpoint_url!r} must look like https://host[:port]")
        options.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme)
    fs = pafs.S3FileSystem(**options)
    return fs, f"{bucket}/{parsed.path.strip('/')}".rstrip("/")


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

    ``root`` defaults to $TRADINGSTATION_LAKE_ROOT or ./data/lake.
    """
    lake = Lake(root, endpoint_url or os.environ.get(ENV_ENDPOINT)) if root else Lake.from_env()
    return lake.read(dataset, start, end, symbols=symbols, columns=columns)
