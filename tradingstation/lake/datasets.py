"""Datasets in the lake: one Parquet file per session partition, written and read as polars frames.

Layout: ``{root}/{dataset}/date=YYYY-MM-DD/part-0.parquet`` (hive style, one dataset per asset;
the dataset contracts are :mod:`tradingstation.core.schemas`).

- Writes are atomic (the store's one writer): the file is serialized in memory first, then
  published in one step, so no reader ever sees half a file.
- Reads of named sessions need no listing: locally a stat per file; on S3 the read itself finds a
  missing file, and only then does one listing say which sessions have none.
- An empty result is written as an empty file with the full schema: "ran and found nothing"
  differs from "never ran".
- ``date`` is the hive key, not a column inside the file; reads add it back as ``pl.Date``.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl
import pyarrow.fs as pafs

from tradingstation.core import calendar, schemas
from tradingstation.lake.store import FileEntry, KeyStore

FILE_NAME = "part-0.parquet"
_KEY_DIR = re.compile(r"date=(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class WriteInfo:
    """What one write put where."""

    dataset: str
    date: dt.date
    uri: str
    rows: int
    bytes: int


class Lake(KeyStore):
    """The datasets of one lake root, local or S3-compatible."""

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
        named are an error, so nothing is silently left out. The files are written a few at once
        (:meth:`KeyStore.each`), each atomically; a failed one stops the writes not yet started.
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
        return self.each(lambda day: self.write(dataset, day, parts.get(day, empty)), days)

    def _publish(self, path: str, body: pl.DataFrame) -> int:
        """Serialize ``body`` in memory, then hand it to the one atomic writer."""
        buffer = io.BytesIO()
        _write_parquet(body, buffer)
        return self._write_atomic(path, buffer.getbuffer())

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
        names = list(ds.schema.names()) if columns is None else ["date", *[c for c in columns if c != "date"]]
        target = pl.Schema({c: ds.schema[c] for c in names})
        if sessions is not None:
            wanted = sorted({calendar.session(s) for s in sessions})
            present = self._present(dataset, wanted)  # named sessions: no listing where it can be avoided
        else:
            lo = calendar.to_date(start) if start is not None else dt.date.min
            hi = calendar.to_date(end) if end is not None else dt.date.max
            wanted = present = [d for d in self.sessions(dataset) if lo <= d <= hi]
        _refuse_absent(dataset, wanted, present, missing)
        if not present:
            return schemas.empty(ds.schema).select(names)
        try:
            df = self._read_frame([self.uri(dataset, d) for d in present], dataset, symbols, names)
        except FileNotFoundError:
            if sessions is None or not self.is_s3:
                raise
            # S3 read the named sessions without listing and one has no file: one listing says which.
            present = self._present(dataset, wanted, listed=True)
            _refuse_absent(dataset, wanted, present, missing)
            if not present:
                return schemas.empty(ds.schema).select(names)
            df = self._read_frame([self.uri(dataset, d) for d in present], dataset, symbols, names)
        # Files are written conformed; cast only what differs (an older file, a hand-made one).
        return df if df.schema == target else schemas.conform(df, target, what=dataset).select(names)

    def _present(self, dataset: str, wanted: list[dt.date], *, listed: bool = False) -> list[dt.date]:
        """Which of ``wanted`` have a partition: a stat per file locally. On S3 all of them, unchecked
        (a listing costs a round trip per 1,000 keys, a stat one per file; a missing file makes the
        read itself fail, and :meth:`read` then asks again with ``listed``): with ``listed``, one
        listing says."""
        if not self.is_s3:
            return [d for d in wanted if os.path.isfile(self._path(dataset, d))]
        if not listed:
            return list(wanted)
        stored = set(self.sessions(dataset))
        return [d for d in wanted if d in stored]

    def _read_frame(
        self, uris: list[str], dataset: str, symbols: Sequence[str] | str | None, names: list[str]
    ) -> pl.DataFrame:
        """One polars scan of the named files (hive ``date`` from the paths), filtered and projected."""
        scan = pl.scan_parquet(
            uris,
            hive_partitioning=True,
            hive_schema={"date": pl.Date},
            storage_options=self.storage_options() or None,
        )
        if symbols is not None:
            scan = scan.filter(pl.col("symbol").is_in(schemas.normalize_symbols(symbols)))
        with self._errors(self._dir(dataset)):
            return scan.select(names).collect()

    def scan(self, dataset: str) -> pl.LazyFrame:
        """A lazy polars scan of the whole dataset, as a notebook would write it."""
        pattern = f"{self.dataset_uri(dataset)}/**/*.parquet"
        return pl.scan_parquet(pattern, hive_partitioning=True, storage_options=self.storage_options() or None)

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


def _refuse_absent(dataset: str, wanted: list[dt.date], present: list[dt.date], missing: str) -> None:
    """With ``missing='error'``: FileNotFoundError naming the wanted sessions without a partition."""
    absent = sorted(set(wanted) - set(present))
    if absent and missing == "error":
        shown = ", ".join(d.isoformat() for d in absent[:10]) + (" ..." if len(absent) > 10 else "")
        raise FileNotFoundError(f"{dataset} has no partition for {len(absent)} session(s): {shown}")


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
