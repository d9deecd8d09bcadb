"""The file check of the lake: one Parquet partition file read whole and judged against its contract.

:func:`check_file` reads every ``part-0.parquet`` whole: its footer (a truncated, empty or
non-Parquet file fails here), every data page decompressed and decoded (page CRCs checked when the
writer stored them), the decoded row count and each column chunk's statistics (null count, min,
max) against the footer (garbled bytes that still decode usually move a min or max), and its
columns and types against its contract (``tradingstation.core.schemas``; extra columns are
allowed, as the writer allows them). ``deep=True`` adds the content contract on the decoded rows:
the file in its dataset's sort order (every write leaves it so) and, for the bar datasets, the bar
contract (:func:`tradingstation.quality.bar_contract.bar_integrity`: OHLC order, positive finite
prices, volume >= 0, no duplicate (symbol, ts), each bar on its partition's New York date).

:func:`check_files` runs it on many files, a few at once (``Lake.each``); ``check_partition`` and
``damaged_partitions`` apply it to some sessions of one dataset (health's data check, the bar
assets before they replace a partition). A damaged file is a :class:`FileCheck` with a
``problem``; storage errors propagate. :class:`Issue` is how verify and the gap report name a
problem with a key of the lake.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tradingstation.core import calendar, schemas
from tradingstation.lake import FILE_NAME, Lake
from tradingstation.maintenance.retention import BAR_DATASETS
from tradingstation.quality.bar_contract import bar_integrity

@dataclass(frozen=True)
class Issue:
    """One problem found in the lake: a file, a folder or the root itself (verify, find_gaps)."""

    severity: str  # 'error' | 'warning'
    dataset: str
    key: str  # the file or folder concerned, relative to the lake root (the root itself for its own issues)
    problem: str

    def __str__(self) -> str:
        return f"{self.severity.upper():<7} {self.key}: {self.problem}"


@dataclass(frozen=True)
class FileCheck:
    """One Parquet file read and checked: ``problem`` is None when it is sound."""

    key: str
    date: dt.date
    problem: str | None
    rows: int = 0
    symbols: pa.Array | None = None  # its distinct symbols, when asked for


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@functools.lru_cache(maxsize=256)  # a lake has a few schemas, each shared by many files
def _schema_problem(arrow: pa.Schema, dataset: str) -> str | None:
    """The file's columns and types against the registered contract of ``dataset`` (every caller
    checks a dataset of ``schemas``' registry, which holds one contract per name)."""
    expected = schemas.dataset(dataset).schema
    actual = pl.from_arrow(arrow.empty_table()).schema  # type: ignore[union-attr]
    problems = []
    missing = [c for c in expected if c != "date" and c not in actual]
    if missing:
        problems.append(f"missing column(s) {missing}")
    for name, dtype in expected.items():
        if name in actual and name != "date" and actual[name] != dtype:
            problems.append(f"column {name} is {actual[name]}, the contract says {dtype}")
    return "wrong schema: " + "; ".join(problems) if problems else None


def _bound_holds(stored: object, actual: object, side: str) -> bool:
    """Whether the footer's min (``side='min'``) or max matches the decoded one. Writers may truncate
    long strings in statistics: the min to a prefix, the max to a prefix with its last character raised."""
    if stored == actual:
        return True
    if isinstance(stored, str) and isinstance(actual, str) and len(actual) > len(stored) > 0:
        return actual.startswith(stored) if side == "min" else actual.startswith(stored[:-1]) and actual < stored
    return False


def _statistics_problem(parquet: pq.ParquetFile, table: pa.Table) -> str | None:
    """The decoded rows against the footer: row count, and per column chunk its null count, min, max."""
    meta = parquet.metadata
    if table.num_rows != meta.num_rows:
        return f"damaged data: {table.num_rows} row(s) decoded, the footer says {meta.num_rows}"
    names, start = set(table.column_names), 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        rows = table.slice(start, group.num_rows)
        start += group.num_rows
        for c in range(group.num_columns):
            chunk = group.column(c)
            name, stats = chunk.path_in_schema, chunk.statistics
            if name not in names or stats is None:  # nested columns: the page decode checked them
                continue
            values = rows.column(name)
            if stats.has_null_count and stats.null_count != values.null_count:
                return f"damaged data: column {name} has {values.null_count} null(s), its statistics say {stats.null_count}"
            if stats.has_min_max and values.null_count < len(values):
                low, high = (v.as_py() for v in pc.min_max(values).values())
                if not (_bound_holds(stats.min, low, "min") and _bound_holds(stats.max, high, "max")):
                    return (
                        f"damaged data: column {name} decodes to {low!r}..{high!r}, "
                        f"its statistics say {stats.min!r}..{stats.max!r}"
                    )
    return None


def _content_problem(table: pa.Table, contract: schemas.Dataset, day: dt.date) -> str | None:
    """``deep``: the rows in the dataset's sort order, and bar datasets within the bar contract."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    keys = [c for c in contract.sort_by if c in frame.columns]
    if keys and frame.height > 1:
        ordered = frame.select(keys)
        if not ordered.equals(ordered.sort(keys, maintain_order=True)):
            return f"rows out of their {', '.join(keys)} order (every write sorts them)"
    if contract.name in BAR_DATASETS:
        findings = bar_integrity(frame.with_columns(date=pl.lit(day, pl.Date)))
        if not findings.passed:
            return f"breaks the bar contract: {findings.description}"
    return None


def check_file(
    lake: Lake, key: str, contract: schemas.Dataset, day: dt.date, *, deep: bool = False, symbols: bool = False,
    decode_threads: bool = True,
) -> FileCheck:
    """Read one partition file whole and check it (see the module doc); ``symbols`` keeps its distinct
    symbols. Storage errors (unreachable, refused) propagate: they are not the file's damage.
    ``decode_threads=False`` when files are checked a few at once already (faster for small files)."""
    try:
        data = lake.read_bytes(key)
    except FileNotFoundError:
        return FileCheck(key, day, "the file disappeared while the lake was checked")
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True)
        table = parquet.read(use_threads=decode_threads)
    except (pa.ArrowException, OSError, ValueError) as exc:
        return FileCheck(key, day, f"unreadable Parquet file ({_first_line(exc)})")
    problem = _schema_problem(parquet.schema_arrow, contract.name) or _statistics_problem(parquet, table)
    if problem is None and deep:
        problem = _content_problem(table, contract, day)
    kept = pc.unique(table.column("symbol")) if symbols and "symbol" in table.column_names else None
    return FileCheck(key, day, problem, table.num_rows, kept)


def check_files(
    lake: Lake, jobs: Sequence[tuple[schemas.Dataset, dt.date, str]], *, deep: bool = False, symbols: bool = False
) -> list[FileCheck]:
    """``check_file`` for each (contract, session, key), a few at once; results in the order given."""

    alone = len(jobs) < 2 or lake.files_at_once < 2  # otherwise the files are decoded a few at once

    def one(job: tuple[schemas.Dataset, dt.date, str]) -> FileCheck:
        contract, day, key = job
        return check_file(lake, key, contract, day, deep=deep, symbols=symbols, decode_threads=alone)

    return lake.each(one, jobs)


def partition_key(dataset: str, day: dt.date) -> str:
    return f"{dataset}/date={day.isoformat()}/{FILE_NAME}"


def check_partition(lake: Lake, dataset: str, session: dt.date | str, *, deep: bool = False) -> FileCheck | None:
    """:func:`check_file` on one session's partition of ``dataset``; None when it has none."""
    contract, day = schemas.dataset(dataset), calendar.to_date(session)
    if not lake.exists(contract.name, day):
        return None
    return check_file(lake, partition_key(contract.name, day), contract, day, deep=deep)


def damaged_partitions(
    lake: Lake, dataset: str, sessions: Iterable[dt.date | str], *, deep: bool = False
) -> dict[dt.date, str]:
    """The stored partitions of ``dataset`` among ``sessions`` that fail the file check, with the
    problem; sessions without a partition are not damaged, just missing."""
    contract = schemas.dataset(dataset)
    stored = set(lake.sessions(contract.name))
    days = sorted(d for d in {calendar.to_date(s) for s in sessions} if d in stored)
    checks = check_files(lake, [(contract, d, partition_key(contract.name, d)) for d in days], deep=deep)
    return {c.date: c.problem for c in checks if c.problem}
