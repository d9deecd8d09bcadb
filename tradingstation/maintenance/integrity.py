"""Verification of the stored lake: ``verify(lake)`` finds every kind of damage by default.

From one listing of the lake, one listing of its unfinished writes and one read of every Parquet
file (errors make ``ok`` False):

- the root itself: an S3 root whose bucket does not exist, a local root that is no folder;
- keys: every ``{dataset}/date=YYYY-MM-DD/`` folder must be an NYSE session; a dataset's folder
  holds nothing but its partitions' ``part-0.parquet`` and the known artifacts beside them
  (``ARTIFACTS``: ``dashboard.html``, ``watchlist.txt``, ``orders.csv`` in ``master_dashboard``), so a
  copied ``part-1.parquet`` (which doubles what a notebook's ``**/*.parquet`` scan reads) or any other
  stray file is an error;
- interrupted writes (:meth:`KeyStore.unfinished_writes`: local temp files, unfinished S3 uploads):
  older than ``LEFTOVER_AGE`` (1 h, the age ``lake cleanup`` removes them at) an error, younger a
  warning (the write may still be in flight);
- every ``part-0.parquet`` passes the file check (:mod:`tradingstation.maintenance.file_check`:
  read whole, page CRCs, footer statistics, columns and types against its contract);
- the bar datasets (daily_bars, intraday_1m, intraday_30m): no session missing between their first
  and last stored session.

``deep=True`` adds the file check's content contract (sort order; for the bar datasets the bar
contract). Unknown dataset folders and ``date=`` folders holding no ``part-0.parquet`` are
warnings. ``check_gaps`` adds, as warnings, the per-symbol gaps of the bar datasets
(:func:`tradingstation.maintenance.gap_report.symbol_gaps`): a symbol stored before and after a
session, and in that session's universe, but absent on it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlparse

import polars as pl

from tradingstation.core import calendar, schemas
from tradingstation.core.errors import LakeConfigError, UnknownDatasetError
from tradingstation.lake import FILE_NAME, Lake
from tradingstation.lake.store import UnfinishedWrite
from tradingstation.maintenance._common import key_date, redact
from tradingstation.maintenance.file_check import FileCheck, Issue, check_files
from tradingstation.maintenance.gap_report import symbol_gaps
from tradingstation.maintenance.retention import BAR_DATASETS, LEFTOVER_AGE

# Files a partition may hold beside part-0.parquet (Lake.write_artifact): the dashboard's HTML page
# and the plan's exports (screeners.exports: TradingView watchlist, bracket orders).
ARTIFACTS: dict[str, frozenset[str]] = {
    "master_dashboard": frozenset({"dashboard.html", "watchlist.txt", "orders.csv"}),
}


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
    checks = check_files(lake, jobs, deep=deep, symbols=check_gaps)
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
    gaps = symbol_gaps(lake, readable, lo, hi)
    report.gaps[name] = gaps
    per_symbol = gaps.filter(~pl.col("partition_missing"))
    if per_symbol.height:
        shown = ", ".join(f"{s} {d}" for s, d in per_symbol.select("symbol", "date").head(10).iter_rows())
        report.issues.append(Issue(
            "warning", name, name,
            f"{per_symbol.height} symbol-session(s) missing across {per_symbol['symbol'].n_unique()} symbol(s) "
            f"stored before and after: {shown}" + (" ..." if per_symbol.height > 10 else ""),
        ))
