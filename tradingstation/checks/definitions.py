"""Asset checks on the bar datasets, evaluated per session partition.

``ALL_CHECKS`` holds one ``@asset_check`` per (asset, check); the data comes from the lake (the
``lake`` resource), the judgement from the pure functions of ``tradingstation.checks.bars``.

=================  ================================  ========  ========
asset              check                             blocking  severity
=================  ================================  ========  ========
daily_bars         bar_integrity                     yes       ERROR
daily_bars         no_missing_sessions               no        WARN
daily_bars         no_price_volume_jumps             no        WARN
daily_bars         universe_coverage                 no        WARN
intraday_1m        bar_integrity                     yes       ERROR
intraday_1m        regular_session_complete          no        WARN
intraday_1m        universe_coverage                 no        WARN
intraday_30m       bar_integrity                     yes       ERROR
intraday_30m       regular_session_complete          no        WARN
intraday_30m       universe_coverage                 no        WARN
=================  ================================  ========  ========

A failed blocking check fails its step and keeps every downstream asset of the run from running
(the screeners never see broken bars).

Which sessions are checked. The checks carry ``partitions_def=SESSION_PARTITIONS`` (partitioned
asset checks, a preview feature of Dagster 1.13): every evaluation is recorded against a session,
so the UI shows the status per partition, like the asset's. The sessions are the run's partitions
(``context.partition_keys``):

- a one-session run (the daily ``session_job``, a check launched for one partition): one
  ``AssetCheckResult``; Dagster attaches the partition and the materialization it judged;
- a single-run backfill (a partition range, one step for all its sessions): Dagster 1.13 would
  record one result without a partition for the whole range, so the check instead emits one
  ``AssetCheckEvaluation`` per session (with its partition, severity and blocking flag; any failed
  blocking session fails the step) — the step reads the lake once for the whole range;
- a run without partitions (not launched by the UI for these checks): the latest stored session.
"""

import bisect
import datetime as dt
import warnings
from collections.abc import Callable, Iterator

import dagster as dg
import polars as pl

from tradingstation import calendar, schemas
from tradingstation.assets.metadata import markdown_table
from tradingstation.checks import bars as checks
from tradingstation.checks.bars import Findings
from tradingstation.lake import Lake
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.resources.lake_io import LakeResource

STEP_LOOKBACK = 5  # sessions read before the first checked one, for each symbol's previous bar
MAX_PRICE_STEP = 0.5  # 50 %: open or close against the previous close
MAX_VOLUME_STEP = 3.0  # 300 %: 4x the previous session's shares

Evaluate = Callable[[Lake, str, list[dt.date]], dict[dt.date, Findings]]


# --- what each check computes, for a list of sessions, reading the lake once ------------------


def _absent(check: str, dataset: str, day: dt.date) -> Findings:
    return Findings(
        check=check,
        passed=False,
        description=f"{dataset} has no partition for {day}: materialize it first",
        counts={"rows_checked": 0},
    )


def _by_session(lake: Lake, dataset: str, sessions: list[dt.date], columns: list[str] | None = None) -> dict:
    """The stored partitions among ``sessions`` as {date: frame}, in one read (empty frames included)."""
    stored = set(lake.sessions(dataset))
    present = [d for d in sessions if d in stored]
    frame = lake.read(dataset, sessions=present, columns=columns) if present else None
    empty = schemas.empty(schemas.dataset(dataset).schema)
    if columns is not None:
        empty = empty.select("date", *[c for c in columns if c != "date"])
    parts = (
        {k[0]: v for k, v in frame.partition_by("date", as_dict=True).items()} if frame is not None else {}
    )
    return {d: parts.get(d, empty) for d in present}


def _integrity(lake: Lake, dataset: str, sessions: list[dt.date]) -> dict[dt.date, Findings]:
    parts = _by_session(lake, dataset, sessions)
    return {
        d: checks.bar_integrity(parts[d]) if d in parts else _absent("bar_integrity", dataset, d)
        for d in sessions
    }


def _regular_session(interval_minutes: int) -> Evaluate:
    def evaluate(lake: Lake, dataset: str, sessions: list[dt.date]) -> dict[dt.date, Findings]:
        parts = _by_session(lake, dataset, sessions, columns=["symbol", "ts", "volume"])
        return {
            d: checks.missing_regular_bars(parts[d], interval_minutes=interval_minutes)
            if d in parts
            else _absent("missing_regular_bars", dataset, d)
            for d in sessions
        }

    return evaluate


def _history(
    lake: Lake, dataset: str, sessions: list[dt.date], before: int, columns: list[str]
) -> pl.DataFrame:
    prior = calendar.sessions_before(sessions[0], before)
    start = prior[0] if prior else sessions[0]
    return lake.read(dataset, start, sessions[-1], columns=columns)


def _gaps(lake: Lake, dataset: str, sessions: list[dt.date]) -> dict[dt.date, Findings]:
    history = _history(lake, dataset, sessions, checks.GAP_WINDOW - 1, ["symbol"])
    stored = set(lake.sessions(dataset))
    out = {}
    by_day = {k[0]: v for k, v in history.partition_by("date", as_dict=True).items()}
    empty = history.clear()
    for day in sessions:  # one vectorized check per session, never per symbol
        window = checks.gap_window(day)
        in_window = pl.concat([by_day.get(w, empty) for w in window])
        findings = (
            checks.missing_sessions(in_window, window)
            if day in stored
            else _absent("missing_sessions", dataset, day)
        )
        unstored = [w.isoformat() for w in window if w not in stored]
        if unstored:
            findings.counts["window_sessions_not_in_lake"] = len(unstored)
        out[day] = findings
    return out


def _steps(lake: Lake, dataset: str, sessions: list[dt.date]) -> dict[dt.date, Findings]:
    history = _history(lake, dataset, sessions, STEP_LOOKBACK, ["symbol", "ts", "open", "close", "volume"])
    stored = set(lake.sessions(dataset))
    table = checks.step_table(history)  # one pass for the whole range, then split by session
    by_day = {k[0]: v for k, v in table.partition_by("date", as_dict=True).items()}
    empty = table.clear()
    return {
        day: checks.price_volume_steps(
            empty,
            steps=by_day.get(day, empty),
            max_price_step=MAX_PRICE_STEP,
            max_volume_step=MAX_VOLUME_STEP,
        )
        if day in stored
        else _absent("price_volume_steps", dataset, day)
        for day in sessions
    }


def _coverage(lake: Lake, dataset: str, sessions: list[dt.date]) -> dict[dt.date, Findings]:
    universes = lake.sessions("universe")
    if not universes:
        return {d: _absent("universe_coverage", "universe", d) for d in sessions}
    # The universe a session's bars were fetched for: its own, else the latest before (else the earliest).
    use = {d: universes[max(bisect.bisect_right(universes, d) - 1, 0)] for d in sessions}
    table = lake.read("universe", sessions=sorted(set(use.values())), columns=["symbol", "included"])
    included = {
        k[0]: v.filter("included")["symbol"] for k, v in table.partition_by("date", as_dict=True).items()
    }
    parts = _by_session(lake, dataset, sessions, columns=["symbol"])
    out = {}
    for day in sessions:
        if day not in parts:
            out[day] = _absent("universe_coverage", dataset, day)
            continue
        findings = checks.universe_coverage(
            parts[day], included.get(use[day], pl.Series([], dtype=pl.String)), [day]
        )
        if use[day] != day:
            findings.counts["universe_borrowed_from"] = use[day].isoformat()  # type: ignore[assignment]
        out[day] = findings
    return out


# --- from findings to Dagster evaluations ------------------------------------------------------


def findings_metadata(
    findings: Findings, *, session: dt.date | None = None, lake_key: str | None = None
) -> dict:
    """What a person needs to act: the counts, the offending symbols, the offending rows."""
    meta: dict[str, dg.MetadataValue] = {}
    if session is not None:
        meta["session"] = dg.MetadataValue.text(session.isoformat())
    if lake_key is not None:
        meta["lake_key"] = dg.MetadataValue.path(lake_key)
    for key, value in findings.counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            meta[key] = dg.MetadataValue.text(str(value))
        else:
            meta[key] = (
                dg.MetadataValue.int(value)
                if isinstance(value, int)
                else dg.MetadataValue.float(float(value))
            )
    meta["offending_symbol_count"] = dg.MetadataValue.int(findings.offender_count)
    meta["offending_symbols"] = dg.MetadataValue.json(findings.offenders)
    if findings.details.height:
        meta["details"] = dg.MetadataValue.md(markdown_table(findings.details, rows=checks.MAX_LISTED))
    return meta


def _run_sessions(
    context: dg.AssetCheckExecutionContext, lake: Lake, dataset: str
) -> tuple[list[dt.date], bool]:
    """The sessions of the run and whether Dagster itself records the result per partition."""
    if context.has_partition_key or context.has_partition_key_range:
        return [calendar.session(k) for k in context.partition_keys], context.has_partition_key
    stored = lake.sessions(dataset)
    if not stored:
        raise FileNotFoundError(
            f"{dataset} has no partition in the lake at {lake.root}: materialize it first"
        )
    context.log.info(f"not a partitioned run: checking the latest stored session of {dataset}, {stored[-1]}")
    return stored[-1:], True


def _targets(context: dg.AssetCheckExecutionContext, asset_key: dg.AssetKey, keys: list[str]) -> dict:
    """The latest materialization of each partition, so the UI ties each evaluation to what it judged."""
    try:
        from dagster._core.definitions.asset_checks.asset_check_evaluation import (
            AssetCheckEvaluationTargetMaterializationData,
        )

        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=keys), limit=2 * len(keys)
        ).records
    except (ImportError, AttributeError, dg.DagsterError):  # only the link to the materialization is lost
        return {}
    out: dict = {}
    for rec in records:  # newest first
        if rec.partition_key and rec.partition_key not in out:
            out[rec.partition_key] = AssetCheckEvaluationTargetMaterializationData(
                run_id=rec.run_id, storage_id=rec.storage_id, timestamp=rec.timestamp
            )
    return out


def bars_check(
    asset: str, name: str, evaluate: Evaluate, *, blocking: bool, description: str
) -> dg.AssetChecksDefinition:
    """One session-partitioned check of ``asset``; blocking checks fail with ERROR, the others WARN."""
    severity = dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN
    asset_key = dg.AssetKey(asset)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned checks: chosen on purpose, see above

        @dg.asset_check(
            asset=asset_key,
            name=name,
            blocking=blocking,
            description=description,
            partitions_def=SESSION_PARTITIONS,
            metadata={"severity_on_failure": severity.value, "blocking": blocking},
        )
        def _check(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> Iterator:
            store = lake.get()
            sessions, single = _run_sessions(context, store, asset)
            results = evaluate(store, asset, sessions)
            if single:
                day = sessions[0]
                found = results[day]
                yield dg.AssetCheckResult(
                    passed=found.passed,
                    severity=severity,
                    description=found.description,
                    metadata=findings_metadata(found, session=day, lake_key=store.uri(asset, day)),
                )
                return
            keys = [d.isoformat() for d in sessions]
            targets = _targets(context, asset_key, keys)
            failed = [k for k, d in zip(keys, sessions, strict=True) if not results[d].passed]
            if failed:
                context.log.warning(
                    f"{asset} {name}: {len(failed)} of {len(keys)} session(s) failed, e.g. {failed[:10]}"
                )
            for key, day in zip(keys, sessions, strict=True):
                found = results[day]
                yield dg.AssetCheckEvaluation(
                    asset_key=asset_key,
                    check_name=name,
                    passed=found.passed,
                    severity=severity,
                    description=found.description,
                    metadata=findings_metadata(found, session=day, lake_key=store.uri(asset, day)),
                    target_materialization_data=targets.get(key),
                    blocking=blocking,
                    partition=key,
                )
            yield dg.Output(None)  # the check's own output, which the per-session evaluations replace

    return _check


_INTEGRITY = (
    "The bar contract in the lake: low <= open, close <= high; prices finite and > 0; volume >= 0; no nulls; "
    "one row per (symbol, ts); each bar on its partition's session. Blocking: the screeners never run on "
    "broken bars. The asset quarantines such rows before writing, so a failure means the stored file changed."
)
_COVERAGE = "At least 99% of the universe's included symbols have bars in the session."


def _market_data_checks() -> list[dg.AssetChecksDefinition]:
    out = []
    for asset in ("daily_bars", "intraday_1m", "intraday_30m"):
        out.append(bars_check(asset, "bar_integrity", _integrity, blocking=True, description=_INTEGRITY))
    out += [
        bars_check(
            "daily_bars",
            "no_missing_sessions",
            _gaps,
            blocking=False,
            description=f"No symbol skips a session between its first and last bar in the last "
            f"{checks.GAP_WINDOW} sessions up to the checked one (a symbol that starts later is no gap).",
        ),
        bars_check(
            "daily_bars",
            "no_price_volume_jumps",
            _steps,
            blocking=False,
            description="No price step > 50% (open or close against the previous close) and no volume step "
            "> 300% into the session's bar: a split or a bad print.",
        ),
        bars_check(
            "intraday_1m",
            "regular_session_complete",
            _regular_session(1),
            blocking=False,
            description="The 100 most traded symbols of the session have every regular-session minute from "
            "the open to the close (13:00 ET on early closes).",
        ),
        bars_check(
            "intraday_30m",
            "regular_session_complete",
            _regular_session(30),
            blocking=False,
            description="The 100 most traded symbols of the session have every regular-session 30-minute bar.",
        ),
    ]
    out += [
        bars_check(a, "universe_coverage", _coverage, blocking=False, description=_COVERAGE)
        for a in ("daily_bars", "intraday_1m", "intraday_30m")
    ]
    return out


ALL_CHECKS: list[dg.AssetChecksDefinition] = _market_data_checks()
BLOCKING_CHECKS: list[dg.AssetCheckKey] = [
    key for c in ALL_CHECKS for key in c.check_keys if c.get_spec_for_check_key(key).blocking
]
