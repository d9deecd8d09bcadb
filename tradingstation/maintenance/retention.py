"""Retention: delete whole ``date=`` partitions older than each dataset's policy.

Defaults (the runbook's *Data Retention Policies*), all counted in NYSE **sessions**, which keeps
at least as much as calendar days would:

| dataset | default | rule |
| --- | --- | --- |
| ``intraday_1m`` | 7 | rolling: the 7 sessions ending at ``today`` (or the last session before it) |
| ``intraday_30m`` | 500 bars | the newest stored partitions whose regular 30-minute bars add up to >= 500: 13 bars a full session, 7 on a 13:00 early close, so 39 sessions (40 when two early closes fall inside) |
| ``daily_bars`` | 200 | the newest 200 stored partitions: every symbol present in them keeps 200 bars, even after a pause in the pipeline |
| ``*_signals``, ``avwap_anchors`` | 30 | rolling |
| ``master_dashboard`` | 7 | rolling; the ``dashboard.html`` beside a partition goes with it |
| ``universe`` | keep | about 500 rows a session: the point-in-time membership needed to rebuild history without survivorship bias |
| ``<bars>_quarantine`` | follows its bar dataset | deleted below the bar dataset's oldest kept session |

Any other dataset is kept and named in the report. Partitions are deleted oldest first, the
Parquet file before the files beside it. Environment overrides (a positive integer, or ``all`` /
``keep`` to keep everything)::

    TRADINGSTATION_RETENTION_INTRADAY_1M=7
    TRADINGSTATION_RETENTION_INTRADAY_30M_BARS=500
    TRADINGSTATION_RETENTION_DAILY_BARS=200
    TRADINGSTATION_RETENTION_SIGNALS=30
    TRADINGSTATION_RETENTION_DASHBOARD=7
    TRADINGSTATION_RETENTION_UNIVERSE=all

The same run removes the leftovers of interrupted writes once they are older than
``leftover_age`` (default one hour, so a write in flight is never touched): the hidden temp files
``.<name>.<uuid>.tmp`` a local write leaves when it dies before its rename (age: the file's
mtime), and on S3 the multipart uploads never completed (pyarrow sends every object as one; S3
publishes nothing until it completes, but bills the parts until it is aborted; age: the upload's
Initiated time), listed and aborted with boto3 against the lake's endpoint. ``dry_run`` lists them
and deletes nothing; the summary counts them.

Longer than ~300 lines: the retention rules and the removal of interrupted writes are one cleanup pass; splitting them would split one command.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

from tradingstation.core import calendar, schemas, secrets
from tradingstation.core.errors import LakeConfigError, UnknownDatasetError
from tradingstation.lake import Lake
from tradingstation.lake.store import UnfinishedWrite
from tradingstation.maintenance._common import human, partitions, redact, today_ny

ENV_PREFIX = "TRADINGSTATION_RETENTION_"
BAR_DATASETS = ("daily_bars", "intraday_1m", "intraday_30m")
_KEEP_WORDS = ("all", "keep", "none", "forever")
LEFTOVER_AGE = dt.timedelta(hours=1)  # an interrupted write's leftovers older than this are removed


@dataclass(frozen=True)
class RetentionPolicy:
    """How much of each dataset to keep; ``None`` keeps everything."""

    intraday_1m: int | None = 7  # sessions, rolling from today
    intraday_30m_bars: int | None = 500  # regular 30-minute bars per symbol
    daily_bars: int | None = 200  # newest stored sessions
    signals: int | None = 30  # sessions, rolling: every *_signals dataset and avwap_anchors
    dashboard: int | None = 7  # master_dashboard sessions, rolling
    universe: int | None = None  # None: keep (tiny); a number: sessions, rolling

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"retention {f.name} must be a positive integer or None (keep), got {value!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetentionPolicy:
        """The defaults, overridden by TRADINGSTATION_RETENTION_<FIELD> (e.g. ..._INTRADAY_1M=7, ..._UNIVERSE=all)."""
        env = os.environ if environ is None else environ
        values: dict[str, int | None] = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            raw = env.get(name)
            if raw is None or not raw.strip():
                continue
            text = raw.strip().lower()
            if text in _KEEP_WORDS:
                values[f.name] = None
                continue
            try:
                values[f.name] = int(text)
            except ValueError:
                raise ValueError(f"{name}={raw!r}: expected a positive integer or 'all'") from None
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"{exc} (from {ENV_PREFIX}* environment variables)") from None

    def rule(self, dataset: str) -> tuple[str, int | None]:
        """(kind, amount) for a dataset: kind is rolling, newest, bars, follow:<dataset> or keep."""
        if dataset.endswith("_quarantine") and dataset.removesuffix("_quarantine") in BAR_DATASETS:
            return f"follow:{dataset.removesuffix('_quarantine')}", None
        table = {
            "intraday_1m": ("rolling", self.intraday_1m),
            "intraday_30m": ("bars", self.intraday_30m_bars),
            "daily_bars": ("newest", self.daily_bars),
            "master_dashboard": ("rolling", self.dashboard),
            "universe": ("rolling", self.universe),
        }
        if dataset in table:
            kind, amount = table[dataset]
        elif dataset.endswith("_signals") or dataset == "avwap_anchors":
            kind, amount = "rolling", self.signals
        else:
            return "keep", None
        return (kind, amount) if amount is not None else ("keep", None)


def regular_bars(day: dt.date, minutes: int = 30) -> int:
    """Regular-session bars of ``minutes`` on one session: 13 of 30 minutes, 7 on a 13:00 close."""
    t = calendar.session_times(day)
    span = (t.close - t.open).total_seconds() / 60
    return int(-(-span // minutes))


def sessions_for_bars(stored: list[dt.date], bars: int, minutes: int = 30) -> dt.date | None:
    """The oldest stored session to keep so the newest partitions hold >= ``bars`` bars a symbol."""
    total = 0
    for day in reversed(stored):
        total += regular_bars(day, minutes)
        if total >= bars:
            return day
    return None


def rolling_start(today: dt.date, count: int) -> dt.date:
    """The first of the ``count`` sessions ending at ``today`` (or the last session before it)."""
    anchor = today if calendar.is_session(today) else calendar.previous_session(today)
    return calendar.sessions_before(calendar.next_session(anchor), count)[0]


@dataclass(frozen=True)
class Deletion:
    dataset: str
    date: dt.date
    files: tuple[str, ...]
    bytes: int


@dataclass
class CleanupReport:
    root: str
    today: dt.date
    dry_run: bool
    deleted: list[Deletion] = field(default_factory=list)  # what went (or, dry run, would go)
    kept: dict[str, int] = field(default_factory=dict)  # dataset -> partitions kept
    keep_from: dict[str, dt.date | None] = field(default_factory=dict)  # dataset -> oldest session kept
    rules: dict[str, str] = field(default_factory=dict)  # dataset -> the rule applied
    errors: list[str] = field(default_factory=list)
    leftovers: list[UnfinishedWrite] = field(default_factory=list)  # removed (or, dry run, would be)
    recent_leftovers: int = 0  # younger than leftover_age: perhaps still in flight, left alone
    leftover_age: dt.timedelta = LEFTOVER_AGE

    @property
    def temp_files(self) -> int:
        return sum(not w.is_upload for w in self.leftovers)

    @property
    def uploads(self) -> int:
        return sum(w.is_upload for w in self.leftovers)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def bytes(self) -> int:
        return sum(d.bytes for d in self.deleted)

    def deleted_by_dataset(self) -> dict[str, dict[str, int | str]]:
        """Per dataset, what went (dry run: would go): partitions, bytes, first and last session."""
        out: dict[str, dict[str, int | str]] = {}
        for name in sorted({d.dataset for d in self.deleted}):
            days = sorted(d.date for d in self.deleted if d.dataset == name)
            size = sum(d.bytes for d in self.deleted if d.dataset == name)
            out[name] = {"partitions": len(days), "bytes": size, "first": days[0].isoformat(), "last": days[-1].isoformat()}
        return out

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        lines = [f"retention on {self.root} as of {self.today}{' (dry run: nothing deleted)' if self.dry_run else ''}"]
        for name in sorted(self.rules):
            gone = [d for d in self.deleted if d.dataset == name]
            since = self.keep_from.get(name)
            extra = f", {verb} {len(gone)} ({human(sum(d.bytes for d in gone))}) {gone[0].date}..{gone[-1].date}" if gone else ""
            lines.append(
                f"  {name:<30} {self.rules[name]:<22} kept {self.kept.get(name, 0):>4}"
                f"{f' from {since}' if since else ''}{extra}"
            )
        lines.append(f"{verb} {len(self.deleted)} partition(s), {human(self.bytes)}")
        abort = "would abort" if self.dry_run else "aborted"
        lines.append(
            f"leftovers of interrupted writes older than {_age(self.leftover_age)}: {verb} {self.temp_files} temp file(s)"
            f" ({human(sum(w.size or 0 for w in self.leftovers))}), {abort} {self.uploads} unfinished upload(s)"
            + (f"; {self.recent_leftovers} younger one(s) left alone" if self.recent_leftovers else "")
        )
        lines += [f"  {w.key}{' (upload)' if w.is_upload else ''} since {w.started:%Y-%m-%d %H:%M}Z" for w in self.leftovers[:10]]
        if len(self.leftovers) > 10:
            lines.append(f"  ... and {len(self.leftovers) - 10} more")
        lines += [f"ERROR {e}" for e in self.errors]
        return "\n".join(lines)


def _age(age: dt.timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}min" if seconds and seconds % 60 == 0 else f"{seconds}s"


def remove_leftovers(
    lake: Lake,
    report: CleanupReport,
    age: dt.timedelta = LEFTOVER_AGE,
    datasets: set[str] | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Remove (or, ``report.dry_run``, list) the interrupted writes older than ``age`` into ``report``."""
    report.leftover_age = age
    moment = now or dt.datetime.now(dt.UTC)
    try:
        found = lake.unfinished_writes()
    except (OSError, LakeConfigError) as exc:  # e.g. a key not allowed to list uploads: the rest goes on
        report.errors.append(f"listing the unfinished writes of {report.root}: {secrets.redact(str(exc))}")
        return
    for write in found:
        if datasets is not None and write.key.split("/", 1)[0] not in datasets:
            continue
        if moment - write.started < age:
            report.recent_leftovers += 1
            continue
        if not report.dry_run:
            try:
                lake.discard_unfinished(write)  # False: gone meanwhile, which is what we wanted
            except (OSError, LakeConfigError) as exc:
                report.errors.append(f"{write.key}: cannot remove this unfinished write: {secrets.redact(str(exc))}")
                continue
        report.leftovers.append(write)


def cleanup(
    lake: Lake,
    policy: RetentionPolicy | None = None,
    today: dt.date | str | None = None,
    dry_run: bool = False,
    datasets: Iterable[str] | None = None,
    *,
    leftover_age: dt.timedelta = LEFTOVER_AGE,
) -> CleanupReport:
    """Delete (or, ``dry_run``, list) every partition older than its dataset's retention, and the
    leftovers of interrupted writes older than ``leftover_age`` (temp files, unfinished uploads).

    Partitions dated after ``today`` are never touched; one listing of the lake finds every partition.
    """
    policy = policy or RetentionPolicy.from_env()
    day = calendar.to_date(today) if today is not None else today_ny()
    report = CleanupReport(redact(lake.root), day, dry_run)
    wanted = set(datasets) if datasets is not None else None
    remove_leftovers(lake, report, leftover_age, wanted)  # first: a partition deleted below takes its temp files along
    stored = partitions(lake.files())
    known: dict[str, dt.date | None] = {}

    def cutoff(name: str) -> dt.date | None:
        if name in known:
            return known[name]
        kind, amount = policy.rule(name)
        sessions = sorted(d for d, p in stored.get(name, {}).items() if d <= day and p.has_parquet and calendar.is_session(d))
        start: dt.date | None = None
        if kind == "rolling":
            start = rolling_start(day, amount)
        elif kind == "newest":
            start = sessions[-amount] if len(sessions) >= amount else None
        elif kind == "bars":
            start = sessions_for_bars(sessions, amount)
        elif kind.startswith("follow:"):
            start = cutoff(kind.split(":", 1)[1])
        known[name] = start
        return start

    for name in sorted(stored):
        if wanted is not None and name not in wanted:
            continue
        try:
            schemas.dataset(name)
        except UnknownDatasetError:
            report.rules[name] = "unknown dataset: kept"
            report.kept[name] = len(stored[name])
            continue
        kind, amount = policy.rule(name)
        report.rules[name] = kind if amount is None else f"{kind} {amount}"
        start = cutoff(name)
        report.keep_from[name] = start
        doomed = sorted(d for d in stored[name] if start is not None and d < start)
        report.kept[name] = len(stored[name]) - len(doomed)
        for key_day in doomed:
            part = stored[name][key_day]
            if not dry_run:
                try:
                    lake.delete_partition(name, key_day)
                except OSError as exc:
                    report.errors.append(f"{name} date={key_day}: {exc}")
                    continue
            report.deleted.append(Deletion(name, key_day, tuple(f.key for f in part.files), part.bytes))
    return report
