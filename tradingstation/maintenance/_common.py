"""Shared pieces of the maintenance operations: the lake listing by partition, sizes, redaction."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from tradingstation.core import calendar
from tradingstation.lake import FILE_NAME, FileEntry

_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
TMP_SUFFIX = ".tmp"  # an atomic write in flight (or interrupted): never part of the lake's content


@dataclass
class Partition:
    """The files of one ``{dataset}/date=YYYY-MM-DD/`` folder."""

    dataset: str
    date: dt.date
    files: list[FileEntry]

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def has_parquet(self) -> bool:
        return any(f.key.endswith("/" + FILE_NAME) for f in self.files)


def key_date(folder: str) -> dt.date | None:
    """The date of a ``date=YYYY-MM-DD`` folder name, or None when it is not one."""
    match = _DATE_DIR.match(folder)
    if not match:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None


def partitions(files: list[FileEntry]) -> dict[str, dict[dt.date, Partition]]:
    """Files grouped by dataset and ``date=`` key (skipping in-flight temp files and other paths)."""
    out: dict[str, dict[dt.date, Partition]] = defaultdict(dict)
    for entry in files:
        parts = entry.key.split("/")
        if len(parts) != 3 or parts[2].endswith(TMP_SUFFIX):
            continue
        day = key_date(parts[1])
        if day is None:
            continue
        out[parts[0]].setdefault(day, Partition(parts[0], day, [])).files.append(entry)
    return dict(out)


def today_ny() -> dt.date:
    return dt.datetime.now(calendar.NY).date()


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover


def redact(location: str | None) -> str:
    """A root or endpoint URL without user info or query string: nothing secret goes into a report."""
    if not location:
        return ""
    parts = urlsplit(location)
    if not parts.scheme or not parts.netloc:
        return location
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
