"""Verification of the stored lake and gap detection.

``verify`` lists the lake once and checks every file: each ``{dataset}/date=YYYY-MM-DD/`` key must
be an NYSE session, each ``part-0.parquet`` must open (its footer: a truncated or overwritten file
fails here; ``deep=True`` also decompresses every page) and carry its dataset's columns and types
(``tradingstation.core.schemas``; extra columns are allowed, as the writer allows them). Unknown dataset
folders, stray files, leftover ``*.tmp`` files of interrupted writes and ``date=`` folders holding
no Parquet file are warnings. ``ok`` is False when there is any error.

With ``check_gaps`` the bar datasets (daily_bars, intraday_1m, intraday_30m) are also checked for
sessions missing between their first and last stored session (errors), and for per-symbol gaps
(warnings, since a symbol may legitimately leave the universe for a while): a symbol stored before
and after a session but absent on it. ``detect_gaps`` returns those per-symbol rows as a frame.
The per-symbol rule is the asset check's own, :func:`tradingstation.quality.bars.skipped_sessions`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from tradingstation.core import calendar, schemas
from tradingstation.core.errors import UnknownDatasetError
from tradingstation.lake import FILE_NAME, Lake
from tradingstation.maintenance._common import TMP_SUFFIX, key_date, redact
from tradingstation.maintenance.retention import BAR_DATASETS
from tradingstation.quality import bars as gap_rules

GAP_SCHEMA = pl.Schema({"symbol": pl.String, "date": pl.Date, "partition_missing": pl.Boolean})


@dataclass(frozen=True)
class Issue:
    severity: str  # 'error' | 'warning'
    dataset: str
    key: str  # the file or folder concerned, relative to the lake root
    problem: str

    def __str__(self) -> str:
        return f"{self.severity.upper():<7} {self.key}: {self.problem}"


@dataclass
class VerifyReport:
    root: str
    datasets: list[str] = field(default_factory=list)
    files_checked: int = 0
    partitions: int = 0
    issues: list[Issue] = field(default_factory=list)
    missing_sessions: dict[str, list[dt.date]] = field(default_factory=dict)  # with check_gaps
    gaps: dict[str, pl.DataFrame] = field(default_factory=dict)  # with check_gaps: detect_gaps rows

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        warnings = len(self.issues) - len(self.errors)
        state = "OK" if self.ok else "FAILED"
        head = (
            f"verify {self.root}: {state}: {len(self.datasets)} dataset(s), {self.partitions} partition(s), "
            f"{self.files_checked} Parquet file(s) checked; {len(self.errors)} error(s), {warnings} warning(s)"
        )
        lines = [head]
        lines += [f"  {issue}" for issue in self.issues[:50]]
        if len(self.issues) > 50:
            lines.append(f"  ... and {len(self.issues) - 50} more")
        return "\n".join(lines)


def _check_parquet(lake: Lake, key: str, expected: pl.Schema, deep: bool) -> str | None:
    """None when the file opens and fits its contract, else what is wrong."""
    try:
        with lake.open_file(key) as handle:
            parquet = pq.ParquetFile(handle)
            arrow = parquet.schema_arrow
            if deep:
                parquet.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"unreadable Parquet file ({text})"
    actual = pl.from_arrow(arrow.empty_table()).schema  # type: ignore[union-attr]
    problems = []
    missing = [c for c in expected if c != "date" and c not in actual]
    if missing:
        problems.append(f"missing column(s) {missing}")
    for name, dtype in expected.items():
        if name in actual and name != "date" and actual[name] != dtype:
            problems.append(f"column {name} is {actual[name]}, the contract says {dtype}")
    return "wrong schema: " + "; ".join(problems) if problems else None


def verify(
    lake: Lake, datasets: Iterable[str] | None = None, check_gaps: bool = False, *, deep: bool = False
) -> VerifyReport:
    """Check every partition of the lake (or of ``datasets``) against its contract; see the module doc."""
    wanted = None if datasets is None else {schemas.dataset(n).name for n in datasets}
    report = VerifyReport(redact(lake.root))
    by_dataset: dict[str, list[str]] = defaultdict(list)
    for entry in lake.files():
        top = entry.key.split("/", 1)[0]
        if wanted is None or top in wanted:
            by_dataset[top].append(entry.key)
    for name in sorted(by_dataset):
        keys = by_dataset[name]
        try:
            contract = schemas.dataset(name)
        except UnknownDatasetError:
            report.issues.append(Issue("warning", name, name, f"not a TradingStation dataset ({len(keys)} file(s))"))
            continue
        report.datasets.append(name)
        folders: dict[str, list[str]] = defaultdict(list)
        good: set[dt.date] = set()  # sessions whose Parquet file opened and fit the contract
        stored: set[dt.date] = set()  # sessions with a Parquet file at all
        for key in keys:
            parts = key.split("/")
            if parts[-1].endswith(TMP_SUFFIX):
                report.issues.append(Issue("warning", name, key, "leftover temporary file of an interrupted write"))
            elif len(parts) != 3:
                report.issues.append(Issue("warning", name, key, "stray file outside a date= partition"))
            else:
                folders[parts[1]].append(parts[2])
        for folder, names in sorted(folders.items()):
            where = f"{name}/{folder}"
            day = key_date(folder)
            if day is None:
                report.issues.append(Issue("error", name, where, "folder is not a date=YYYY-MM-DD partition key"))
                continue
            if not calendar.is_session(day):
                report.issues.append(Issue("error", name, where, f"{day} is not an NYSE trading session"))
                continue
            report.partitions += 1
            if FILE_NAME not in names:
                report.issues.append(Issue("warning", name, where, f"no {FILE_NAME}, only {sorted(names)}"))
                continue
            stored.add(day)
            report.files_checked += 1
            problem = _check_parquet(lake, f"{where}/{FILE_NAME}", contract.schema, deep)
            if problem:
                report.issues.append(Issue("error", name, f"{where}/{FILE_NAME}", problem))
            else:
                good.add(day)
        if check_gaps and name in BAR_DATASETS and stored:
            _add_gaps(lake, name, stored, good, report)
    return report


def _add_gaps(lake: Lake, name: str, stored: set[dt.date], good: set[dt.date], report: VerifyReport) -> None:
    first, last = min(stored), max(stored)
    missing = [d for d in calendar.sessions_in_range(first, last) if d not in stored]
    report.missing_sessions[name] = missing
    if missing:
        shown = ", ".join(d.isoformat() for d in missing[:10]) + (" ..." if len(missing) > 10 else "")
        report.issues.append(
            Issue("error", name, name, f"{len(missing)} session(s) missing between {first} and {last}: {shown}")
        )
    gaps = _symbol_gaps(lake, name, sorted(good), first, last)
    report.gaps[name] = gaps
    per_symbol = gaps.filter(~pl.col("partition_missing"))
    if per_symbol.height:
        shown = ", ".join(f"{s} {d}" for s, d in per_symbol.select("symbol", "date").head(10).iter_rows())
        report.issues.append(Issue(
            "warning", name, name,
            f"{per_symbol.height} symbol-session(s) missing across {per_symbol['symbol'].n_unique()} symbol(s) "
            f"stored before and after: {shown}" + (" ..." if per_symbol.height > 10 else ""),
        ))


def _symbol_gaps(lake: Lake, dataset: str, read: list[dt.date], lo: dt.date, hi: dt.date) -> pl.DataFrame:
    """(symbol, date, partition_missing) for each session in [lo, hi] on which a symbol stored before
    and after it is absent; ``partition_missing`` when the whole session is not among ``read``."""
    if not read:
        return pl.DataFrame(schema=GAP_SCHEMA)
    present = lake.read(dataset, sessions=read, columns=["symbol"])
    stored = pl.Series("date", read, dtype=pl.Date)
    return (
        gap_rules.skipped_sessions(present, calendar.sessions_in_range(lo, hi))
        .with_columns(partition_missing=~pl.col("date").is_in(stored.implode()))
        .select(GAP_SCHEMA.names())
    )


def detect_gaps(
    lake: Lake, dataset: str, start: dt.date | str | None = None, end: dt.date | str | None = None
) -> pl.DataFrame:
    """Per-symbol missing sessions of ``dataset`` within [start, end] (default: its stored range).

    One row (symbol, date, partition_missing) per session on which a symbol that has rows before
    and after it (inside the range) has none; ``partition_missing`` is True when the whole
    partition is absent. Vectorized: one read of the ``symbol`` column, a join against the calendar.
    """
    name = schemas.dataset(dataset).name
    lo = calendar.to_date(start) if start is not None else dt.date.min
    hi = calendar.to_date(end) if end is not None else dt.date.max
    stored = [d for d in lake.sessions(name) if lo <= d <= hi]
    if not stored:
        return pl.DataFrame(schema=GAP_SCHEMA)
    return _symbol_gaps(lake, name, stored, max(lo, stored[0]), min(hi, stored[-1]))
