"""Health of a running TradingStation: the runbook's health_check.py and verify_deployment.py.

Every check returns a ``Check`` (name, ok, detail, numbers); a ``HealthReport`` prints a verdict
and is ``ok`` only when every check is. The daily maintenance asset records the same checks as
metadata. Nothing here prints a credential.

The lake is judged by ``tradingstation lake verify``'s own verification, so health is UNHEALTHY
whenever verify fails: ``storage`` writes, reads back and removes a probe, then runs
:func:`tradingstation.maintenance.verify` over the whole lake (every file read once: on S3 that is
the lake's size in downloads); ``data`` puts the session's bar partitions (and their quarantine
files) through verify's file check. ``verify-deployment`` only probes the lake.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tradingstation import maintenance
from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.quality import freshness

BAR_DATASETS = ("daily_bars", "intraday_1m", "intraday_30m")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    numbers: dict[str, float | int | str] = field(default_factory=dict)


@dataclass
class HealthReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def summary(self) -> str:
        lines = [f"  {'ok  ' if c.ok else 'FAIL'}  {c.name:<12} {c.detail}" for c in self.checks]
        verdict = "HEALTHY" if self.ok else f"UNHEALTHY: {', '.join(c.name for c in self.checks if not c.ok)}"
        return "\n".join([*lines, verdict])


def _guard(name: str, probe: Callable[[], Check]) -> Check:
    """A check that raised is a failed check naming the error, never a crash of the whole report."""
    try:
        return probe()
    except Exception as exc:  # noqa: BLE001 - the report must name whatever broke
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def check_storage(lake: Lake, verified: maintenance.VerifyReport | None = None, *, files: bool = True) -> Check:
    """The lake is reachable and writable (a probe file is written, read back and removed) and, with
    ``files``, passes ``lake verify`` (``verified``: a report already made of it, else one is made)."""
    key = f"_health/probe-{uuid.uuid4().hex}"
    payload = uuid.uuid4().bytes
    lake.write_bytes(key, payload)
    back = lake.read_bytes(key)
    lake.delete_key(key)
    if back != payload:
        return Check("storage", False, "probe mismatch")
    if not files:
        return Check("storage", True, f"{lake.root} reachable and writable")
    report = verified if verified is not None else maintenance.verify(lake)
    numbers = {"files_checked": report.files_checked, "errors": len(report.errors)}
    if report.ok:
        return Check("storage", True, f"{lake.root} reachable and writable; {report.files_checked:,} file(s) verified", numbers)
    shown = "; ".join(f"{i.key}: {i.problem}" for i in report.errors[:3])
    more = f" (and {len(report.errors) - 3} more)" if len(report.errors) > 3 else ""
    return Check("storage", False, f"lake verify finds {len(report.errors)} error(s): {shown}{more}", numbers)


def check_data(lake: Lake, session: dt.date) -> Check:
    """The session's bar partitions exist, pass verify's file check and hold rows; their quarantine
    files, when present, pass it too."""
    rows: dict[str, float | int | str] = {}
    missing, damaged = [], []
    for dataset in BAR_DATASETS:
        bars = maintenance.check_partition(lake, dataset, session)
        if bars is None:
            missing.append(f"{dataset}[{session}]")
            continue
        if bars.problem:
            damaged.append(f"{dataset}[{session}] ({bars.problem})")
            continue
        rows[dataset] = bars.rows
        quarantine = maintenance.check_partition(lake, f"{dataset}_quarantine", session)
        if quarantine is not None and quarantine.problem:
            damaged.append(f"{dataset}_quarantine[{session}] ({quarantine.problem})")
        rows[f"{dataset}_quarantined"] = quarantine.rows if quarantine is not None else 0
    empty = [d for d in BAR_DATASETS if rows.get(d) == 0]
    ok = not missing and not damaged and not empty
    detail = "".join(
        f"{label} {', '.join(items)}; " for label, items in (("missing", missing), ("damaged", damaged), ("empty", empty)) if items
    )
    return Check("data", ok, detail + ", ".join(f"{k} {v:,}" for k, v in rows.items()), rows)


def check_signals(lake: Lake, session: dt.date) -> Check:
    """Every screener ran for the session and the dashboard exists."""
    from screeners.registry import SCREENERS, signals_dataset

    counts, missing = {}, []
    for name in [*(signals_dataset(s) for s in SCREENERS), "master_dashboard"]:
        if lake.exists(name, session):
            counts[name] = lake.read(name, sessions=[session], columns=["symbol"]).height
        else:
            missing.append(name)
    detail = (f"not run for {session}: {', '.join(missing)}; " if missing else "") + ", ".join(
        f"{k} {v}" for k, v in counts.items()
    )
    return Check("signals", not missing, detail, counts)


def check_freshness(lake: Lake, instant: dt.datetime | None = None) -> Check:
    results = freshness.evaluate(lake, instant)
    stale = [r for r in results if r.stale]
    detail = "; ".join(f"{r.dataset}: {r.reason}" for r in results)
    return Check("freshness", not stale, detail, {r.dataset: r.status for r in results})


def storage_usage(lake: Lake) -> Check:
    per: dict[str, list[int]] = {}
    for entry in lake.files():
        files_bytes = per.setdefault(entry.key.split("/", 1)[0], [0, 0])
        files_bytes[0] += 1
        files_bytes[1] += entry.size
    total = sum(b for _, b in per.values())
    detail = f"{total / 1e6:,.1f} MB in {sum(n for n, _ in per.values()):,} files; " + ", ".join(
        f"{d} {b / 1e6:,.1f} MB" for d, (_, b) in sorted(per.items(), key=lambda kv: -kv[1][1])[:8]
    )
    return Check("storage-use", True, detail, {d: b for d, (_, b) in per.items()})


def api_usage(instance, hours: int = 24) -> Check:  # instance: dg.DagsterInstance
    """Source fetches recorded in the instance over the last ``hours``: materializations and notes."""
    import dagster as dg

    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
    counts, notes = {}, []
    for dataset in ("universe", *BAR_DATASETS):
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(dataset), after_timestamp=since.timestamp()), limit=1000
        ).records
        counts[dataset] = len(records)
        for record in records[:20]:
            meta = record.asset_materialization.metadata if record.asset_materialization else {}
            if "source_notes" in meta:
                notes.extend(meta["source_notes"].value)
    detail = ", ".join(f"{k} {v}" for k, v in counts.items()) + (f"; {notes[0]}" if notes else "")
    return Check("api-usage", True, f"fetching materializations in {hours} h: {detail}", counts)


def check_api(source) -> Check:  # source: MarketDataSource
    """The source answers: one daily bar of SPY for the last closed session."""
    day = calendar.previous_session(dt.date.today())
    result = source.fetch(["SPY"], "1d", day, day)
    ok = result.bars.height > 0
    why = "; ".join(f"{k}: {v}" for k, v in result.failures.items()) or "no bars"
    return Check("api", ok, f"{source.source_name}: SPY {day} " + ("served" if ok else f"not served ({why})"))


def health(
    lake: Lake, session: dt.date, checks: list[str], *, source=None, instance=None,
    verified: maintenance.VerifyReport | None = None,
) -> HealthReport:
    """The named checks; ``verified``: a ``lake verify`` report already made, for ``storage`` to reuse."""
    probes: dict[str, Callable[[], Check]] = {
        "storage": lambda: check_storage(lake, verified),
        "data": lambda: check_data(lake, session),
        "signals": lambda: check_signals(lake, session),
        "freshness": lambda: check_freshness(lake),
        "api": lambda: check_api(source),
        "storage-use": lambda: storage_usage(lake),
        "api-usage": lambda: api_usage(instance),
    }
    return HealthReport([_guard(name, probes[name]) for name in checks])


def verify_deployment(env: Mapping[str, str] = os.environ) -> HealthReport:
    """Configuration valid, credentials present, lake reachable and writable, instance reachable,
    calendar known a year ahead."""
    from tradingstation.resources.config import SOURCES, make_lake

    def config() -> Check:
        kind = env.get("TRADINGSTATION_SOURCE", "synthetic")
        if kind not in SOURCES:
            return Check("config", False, f"TRADINGSTATION_SOURCE={kind!r} is not one of {', '.join(SOURCES)}")
        if kind == "files" and not os.path.isdir(env.get("TRADINGSTATION_FILES_PATH", "data/files")):
            return Check("config", False, "TRADINGSTATION_FILES_PATH is not a directory")
        import screeners.registry  # noqa: F401  (registers the analytics contracts)

        return Check("config", True, f"source {kind}, lake {make_lake(env).root}, datasets {len(schemas.DATASETS)}")

    def credentials() -> Check:
        root = make_lake(env).root
        if not root.startswith("s3://"):
            return Check("credentials", True, "local lake: none needed")
        missing = [v for v in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(v)]
        return Check("credentials", not missing, f"missing {', '.join(missing)}" if missing else "S3 credentials present")

    def instance_storage() -> Check:
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            instance.get_runs(limit=1)
            kind = type(instance.run_storage).__name__
        return Check("instance", True, f"{kind} at DAGSTER_HOME={env.get('DAGSTER_HOME', '(unset)')}")

    def calendar_horizon() -> Check:
        ahead = calendar.last_known_date() - dt.date.today()
        return Check("calendar", ahead.days >= 365, f"NYSE sessions known until {calendar.last_known_date()}")

    checks = [_guard("config", config), _guard("credentials", credentials)]
    checks.append(_guard("storage", lambda: check_storage(make_lake(env).get(), files=False)))
    checks += [_guard("instance", instance_storage), _guard("calendar", calendar_horizon)]
    return HealthReport(checks)
