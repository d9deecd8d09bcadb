"""Verification of the stored lake, and gap detection that goes on past damaged files.

``verify(lake)`` finds every kind of damage by default, from one listing of the lake, one listing of
its unfinished writes and one read of every Parquet file (errors make ``ok`` False):

- the root itself: an S3 root whose bucket does not exist, a local root that is no folder;
- keys: every ``{dataset}/date=YYYY-MM-DD/`` folder must be an NYSE session; a dataset's folder
  holds nothing but its partitions' ``part-0.parquet`` and the known artifacts beside them
  (``ARTIFACTS``: ``dashboard.html``, ``watchlist.txt``, ``orders.csv`` in ``master_dashboard``), so a
  copied ``part-1.parquet`` (which doubles what a notebook's ``**/*.parquet`` scan reads) or any other
  stray file is an error;
- interrupted writes (:meth:`KeyStore.unfinished_writes`: local temp files, unfinished S3 uploads):
  older than ``LEFTOVER_AGE`` (1 h, the age ``lake cleanup`` removes them at) an error, younger a
  warning (the write may still be in flight);
- every ``part-0.parquet`` is read whole: its footer (a truncated, empty or non-Parquet file fails
  here), every data page decompressed and decoded (page CRCs checked when the writer stored them),
  the decoded row count and each column chunk's statistics (null count, min, max) against the footer
  (garbled bytes that still decode usually move a min or max), and its columns and types against its
  contract (``tradingstation.core.schemas``; extra columns are allowed, as the writer allows them);
- the bar datasets (daily_bars, intraday_1m, intraday_30m): no session missing between their first
  and last stored session.

``deep=True`` adds the content contract on the decoded rows: every file in its dataset's sort order
(every write leaves it so) and, for the bar datasets, the bar contract
(:func:`tradingstation.quality.bars.bar_integrity`: OHLC order, positive finite prices, volume >= 0,
no duplicate (symbol, ts), each bar on its partition's New York date). Unknown dataset folders and
``date=`` folders holding no ``part-0.parquet`` are warnings. ``check_gaps`` adds, as warnings, the
per-symbol gaps of the bar datasets: a symbol stored before and after a session, and in that
session's universe, but absent on it.

``find_gaps`` (and ``detect_gaps``, its frame) never stops at a damaged file: each file of the
range gets the same check as ``verify``, the damaged ones are named and their sessions count as
missing, so ``lake fill-gaps`` rewrites them along with the gaps. The per-symbol rule is the asset
check's own, :func:`tradingstation.quality.bars.skipped_sessions`, narrowed to the symbols each
session's universe includes (:func:`universe_pairs`, the pairs the bar assets write): a symbol the
universe excluded that day is absent by design, not a gap. ``damaged_partitions`` applies the file
check to some sessions of one dataset (health's data check, the bar assets before they replace a
partition).

Longer than ~300 lines: verify, the per-file check and the gap report share the file walk; a candidate for a split (file checks / gaps) later.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlparse

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tradingstation.core import calendar, schemas
from tradingstation.core.errors import LakeConfigError, UnknownDatasetError
from tradingstation.lake import FILE_NAME, Lake
from tradingstation.lake.store import UnfinishedWrite
from tradingstation.maintenance._common import key_date, redact
from tradingstation.maintenance.retention import BAR_DATASETS, LEFTOVER_AGE
from tradingstation.quality import bars as bar_rules
from tradingstation.quality.universe import session_universes, universe_pairs

GAP_SCHEMA = pl.Schema({"symbol": pl.String, "date": pl.Date, "partition_missing": pl.Boolean})
# Files a partition may hold beside part-0.parquet (Lake.write_artifact): the dashboard's HTML page
# and the plan's exports (screeners.exports: TradingView watchlist, bracket orders).
ARTIFACTS: dict[str, frozenset[str]] = {
    "master_dashboard": frozenset({"dashboard.html", "watchlist.txt", "orders.csv"}),
}
READERS = 8  # files checked at once: the reads wait on storage, pyarrow decodes without the GIL


@dataclass(frozen=True)
class Issue:
    severity: str  # 'error' | 'warning'
    dataset: str
    key: str  # the file or folder concerned, relative to the lake root (the root itself for its own issues)
    problem: str

    def __str__(self) -> str:
        return f"{self.severity.upper():<7} {self.key}: {self.problem}"


@dataclass
class VerifyReport:
    root: str
    deep: bool = False
    datasets: list[str] = field(default_factory=list)
    files_checked: int = 0
    partitions: int = 0
    issues: list[Issue] = field(default_factory=list)
    missing_sessions: dict[str, list[dt.date]] = field(default_factory=dict)  # bar datasets
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
            f"verify{' --deep' if self.deep else ''} {self.root}: {state}: {len(self.datasets)} dataset(s), "
            f"{self.partitions} partition(s), {self.files_checked} Parquet file(s) read; "
            f"{len(self.errors)} error(s), {warnings} warning(s)"
        )
        shown = sorted(self.issues, key=lambda i: i.severity != "error")[:50]  # errors first
        lines = [head, *(f"  {issue}" for issue in shown)]
        if len(self.issues) > 50:
            lines.append(f"  ... and {len(self.issues) - 50} more")
        return "\n".join(lines)


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


def _schema_problem(arrow: pa.Schema, expected: pl.Schema) -> str | None:
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
        findings = bar_rules.bar_integrity(frame.with_columns(date=pl.lit(day, pl.Date)))
        if not findings.passed:
            return f"breaks the bar contract: {findings.description}"
    return None


def check_file(
    lake: Lake, key: str, contract: schemas.Dataset, day: dt.date, *, deep: bool = False, symbols: bool = False
) -> FileCheck:
    """Read one partition file whole and check it (see the module doc); ``symbols`` keeps its distinct
    symbols. Storage errors (unreachable, refused) propagate: they are not the file's damage."""
    try:
        data = lake.read_bytes(key)
    except FileNotFoundError:
        return FileCheck(key, day, "the file disappeared while the lake was checked")
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=True)
        table = parquet.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        return FileCheck(key, day, f"unreadable Parquet file ({_first_line(exc)})")
    problem = _schema_problem(parquet.schema_arrow, contract.schema) or _statistics_problem(parquet, table)
    if problem is None and deep:
        problem = _content_problem(table, contract, day)
    kept = pc.unique(table.column("symbol")) if symbols and "symbol" in table.column_names else None
    return FileCheck(key, day, problem, table.num_rows, kept)


def _check_files(
    lake: Lake, jobs: Sequence[tuple[schemas.Dataset, dt.date, str]], *, deep: bool = False, symbols: bool = False
) -> list[FileCheck]:
    """``check_file`` for each (contract, session, key), a few at once; results in the order given."""

    def one(job: tuple[schemas.Dataset, dt.date, str]) -> FileCheck:
        contract, day, key = job
        return check_file(lake, key, contract, day, deep=deep, symbols=symbols)

    if len(jobs) < 2:
        return [one(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(READERS, len(jobs))) as pool:
        return list(pool.map(one, jobs))


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
    checks = _check_files(lake, [(contract, d, partition_key(contract.name, d)) for d in days], deep=deep)
    return {c.date: c.problem for c in checks if c.problem}


def _root_issues(lake: Lake, report: VerifyReport) -> None:
    if not lake.is_s3 and not os.path.isdir(lake.base_uri):
        report.issues.append(Issue("error", "", report.root, "the lake root does not exist (is TRADINGSTATION_LAKE_ROOT right?)"))


def _leftovers(
    lake: Lake, wanted: set[str] | None, report: VerifyReport, now: dt.datetime | None
) -> set[str]:
    """Interrupted writes as issues; returns their keys. On S3 this listing is also what notices a
    missing bucket (listing objects of a missing bucket just finds none)."""
    try:
        found: list[UnfinishedWrite] = lake.unfinished_writes()
    except LakeConfigError as exc:
        if "NOSUCHBUCKET" in str(exc).upper().replace("_", ""):
            bucket = urlparse(lake.root).netloc
            report.issues.append(Issue("error", "", report.root, f"the bucket {bucket!r} does not exist"))
        else:
            report.issues.append(Issue("error", "", report.root, f"cannot list the unfinished writes: {exc}"))
        return set()
    moment = now or dt.datetime.now(dt.UTC)
    for write in found:
        top = write.key.split("/", 1)[0]
        if wanted is not None and top not in wanted:
            continue
        what = "unfinished S3 upload" if write.is_upload else "temporary file of an interrupted write"
        age = moment - write.started
        if age >= LEFTOVER_AGE:
            text = f"leftover {what}, since {write.started:%Y-%m-%d %H:%M}Z: `tradingstation lake cleanup` removes it"
            report.issues.append(Issue("error", top, write.key, text))
        else:
            text = f"{what} younger than {LEFTOVER_AGE.total_seconds() / 60:.0f} min: a write in flight, or one interrupted just now"
            report.issues.append(Issue("warning", top, write.key, text))
    return {w.key for w in found if not w.is_upload}


def verify(
    lake: Lake,
    datasets: Iterable[str] | None = None,
    check_gaps: bool = False,
    *,
    deep: bool = False,
    now: dt.datetime | None = None,
) -> VerifyReport:
    """Check every partition of the lake (or of ``datasets``) against its contract; see the module doc.
    ``now`` (UTC) dates the leftovers of interrupted writes (default: the clock)."""
    wanted = None if datasets is None else {schemas.dataset(n).name for n in datasets}
    report = VerifyReport(redact(lake.root), deep=deep)
    entries = lake.files()
    _root_issues(lake, report)
    temp_keys = _leftovers(lake, wanted, report, now)
    by_dataset: dict[str, list[str]] = defaultdict(list)
    for entry in entries:
        top = entry.key.split("/", 1)[0]
        if entry.key not in temp_keys and (wanted is None or top in wanted):
            by_dataset[top].append(entry.key)
    jobs: list[tuple[schemas.Dataset, dt.date, str]] = []
    for name in sorted(by_dataset):
        keys = by_dataset[name]
        try:
            contract = schemas.dataset(name)
        except UnknownDatasetError:
            report.issues.append(Issue("warning", name, name, f"not a TradingStation dataset ({len(keys)} file(s))"))
            continue
        report.datasets.append(name)
        jobs += _partition_files(name, contract, keys, report)
    checks = _check_files(lake, jobs, deep=deep, symbols=check_gaps)
    report.files_checked = len(checks)
    readable: dict[str, list[FileCheck]] = defaultdict(list)
    for (contract, _, _), check in zip(jobs, checks, strict=True):
        if check.problem:
            report.issues.append(Issue("error", contract.name, check.key, check.problem))
        else:
            readable[contract.name].append(check)
    for name in report.datasets:
        if name in BAR_DATASETS:
            stored = sorted(day for contract, day, _ in jobs if contract.name == name)
            _add_missing_sessions(name, stored, report)
            if check_gaps and stored:
                _add_symbol_gaps(lake, name, readable[name], stored[0], stored[-1], report)
    return report


def _partition_files(
    name: str, contract: schemas.Dataset, keys: list[str], report: VerifyReport
) -> list[tuple[schemas.Dataset, dt.date, str]]:
    """Sort one dataset's keys into issues and the Parquet files to read."""
    folders: dict[str, list[str]] = defaultdict(list)
    allowed = {FILE_NAME} | ARTIFACTS.get(name, frozenset())
    for key in keys:
        parts = key.split("/")
        if len(parts) == 3:
            folders[parts[1]].append(parts[2])
        else:
            report.issues.append(Issue("error", name, key, "stray file outside a date= partition"))
    jobs = []
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
        for stray in sorted(set(names) - allowed):
            doubled = " (a notebook's **/*.parquet scan reads its rows too)" if stray.endswith(".parquet") else ""
            belong = " and ".join(sorted(allowed, key=lambda n: n != FILE_NAME))
            report.issues.append(Issue("error", name, f"{where}/{stray}", f"stray file: only {belong} belong here{doubled}"))
        if FILE_NAME in names:
            jobs.append((contract, day, f"{where}/{FILE_NAME}"))
        else:
            report.issues.append(Issue("warning", name, where, f"no {FILE_NAME}, only {sorted(names)}"))
    return jobs


def _add_missing_sessions(name: str, stored: list[dt.date], report: VerifyReport) -> None:
    if not stored:
        report.missing_sessions[name] = []
        return
    have = set(stored)
    missing = [d for d in calendar.sessions_in_range(stored[0], stored[-1]) if d not in have]
    report.missing_sessions[name] = missing
    if missing:
        shown = ", ".join(d.isoformat() for d in missing[:10]) + (" ..." if len(missing) > 10 else "")
        report.issues.append(Issue(
            "error", name, name,
            f"{len(missing)} session(s) missing between {stored[0]} and {stored[-1]}: {shown} "
            f"(`tradingstation lake fill-gaps --dataset {name}` refetches them)",
        ))


def _add_symbol_gaps(
    lake: Lake, name: str, readable: list[FileCheck], lo: dt.date, hi: dt.date, report: VerifyReport
) -> None:
    gaps = _symbol_gaps(lake, readable, lo, hi)
    report.gaps[name] = gaps
    per_symbol = gaps.filter(~pl.col("partition_missing"))
    if per_symbol.height:
        shown = ", ".join(f"{s} {d}" for s, d in per_symbol.select("symbol", "date").head(10).iter_rows())
        report.issues.append(Issue(
            "warning", name, name,
            f"{per_symbol.height} symbol-session(s) missing across {per_symbol['symbol'].n_unique()} symbol(s) "
            f"stored before and after: {shown}" + (" ..." if per_symbol.height > 10 else ""),
        ))


def _symbol_gaps(lake: Lake, readable: list[FileCheck], lo: dt.date, hi: dt.date) -> pl.DataFrame:
    """(symbol, date, partition_missing) for each session in [lo, hi] on which a symbol present
    before and after it (in the ``readable`` files), and included in that session's universe, is
    absent; ``partition_missing`` when the session has no readable file. Without any stored
    universe every such absence counts."""
    if not readable:
        return pl.DataFrame(schema=GAP_SCHEMA)
    present = pl.concat(  # one small frame per file, not per row
        [
            pl.DataFrame({"symbol": pl.Series("symbol", c.symbols, dtype=pl.String)}).with_columns(date=pl.lit(c.date, pl.Date))
            for c in readable
            if c.symbols is not None
        ]
        or [pl.DataFrame(schema={"symbol": pl.String, "date": pl.Date})]
    ).drop_nulls("symbol")
    days = pl.Series("date", [c.date for c in readable], dtype=pl.Date)
    sessions = calendar.sessions_in_range(lo, hi)
    try:
        universes = session_universes(lake, sessions)
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError):  # a damaged universe file (verify names it)
        universes = None
    expected = universe_pairs(universes, sessions) if universes is not None else None
    gaps = bar_rules.skipped_sessions(present, sessions, expected=expected)
    return gaps.with_columns(partition_missing=~pl.col("date").is_in(days.implode())).select(GAP_SCHEMA.names())


@dataclass
class GapReport:
    """What ``find_gaps`` found in one dataset's range: the per-symbol gaps and the damaged files."""

    dataset: str
    gaps: pl.DataFrame  # GAP_SCHEMA rows; a damaged file's session counts as a missing partition
    damaged: list[Issue] = field(default_factory=list)  # files failing verify's file check, by session
    damaged_dates: list[dt.date] = field(default_factory=list)

    @property
    def sessions(self) -> list[dt.date]:
        """The sessions to rewrite: those with a gap and those whose file is damaged."""
        return sorted({*self.gaps["date"].to_list(), *self.damaged_dates})


def find_gaps(
    lake: Lake, dataset: str, start: dt.date | str | None = None, end: dt.date | str | None = None
) -> GapReport:
    """Per-symbol missing sessions of ``dataset`` within [start, end] (default: its stored range),
    going on past damaged files (named in ``damaged``; their sessions count as missing partitions).

    One row (symbol, date, partition_missing) per session on which a symbol that has rows before
    and after it (inside the range) has none; ``partition_missing`` is True when the session has no
    readable partition. Every file of the range is read once (verify's file check, a few at once);
    the rule is a vectorized join against the calendar.
    """
    contract = schemas.dataset(dataset)
    lo = calendar.to_date(start) if start is not None else dt.date.min
    hi = calendar.to_date(end) if end is not None else dt.date.max
    stored = [d for d in lake.sessions(contract.name) if lo <= d <= hi]
    if not stored:
        return GapReport(contract.name, pl.DataFrame(schema=GAP_SCHEMA))
    jobs = [(contract, d, partition_key(contract.name, d)) for d in stored]
    checks = _check_files(lake, jobs, symbols=True)
    bad = [c for c in checks if c.problem]
    gaps = _symbol_gaps(lake, [c for c in checks if not c.problem], max(lo, stored[0]), min(hi, stored[-1]))
    damaged = [Issue("error", contract.name, c.key, c.problem or "") for c in bad]
    return GapReport(contract.name, gaps, damaged, [c.date for c in bad])


def detect_gaps(
    lake: Lake, dataset: str, start: dt.date | str | None = None, end: dt.date | str | None = None
) -> pl.DataFrame:
    """The gap rows of :func:`find_gaps` (a damaged file's session shows as a missing partition)."""
    return find_gaps(lake, dataset, start, end).gaps
