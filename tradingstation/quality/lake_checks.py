"""The bar checks evaluated over the lake: for a list of sessions, read once, judge each session.

Each evaluator ``(lake, dataset, sessions) -> {session: Findings}`` reads what it needs from the
lake in one call and applies the pure rules of :mod:`tradingstation.quality` (``bar_contract``,
``gaps``, ``steps``, ``coverage``) to every session in one pass (``bar_integrity_by_day``,
``missing_sessions_by_day``, ``price_volume_steps_by_day``, ``universe_coverage_by_day``; the
regular-session rule session by session), each session getting the findings it would have on its
own; each rule vectorized over symbols. A session without a partition is a failed finding that
says so. The Dagster adapters (``tradingstation.checks``) only turn findings into check results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.quality.bar_contract import bar_integrity_by_day
from tradingstation.quality.coverage import missing_regular_bars, universe_coverage_by_day
from tradingstation.quality.findings import Findings
from tradingstation.quality.gaps import GAP_WINDOW, gap_window, missing_sessions_by_day
# The step thresholds and why they are where they are: steps.price_volume_steps.
from tradingstation.quality.steps import MAX_PRICE_STEP, MAX_VOLUME_STEP, price_volume_steps_by_day, step_table
from tradingstation.quality.universe import session_universes, universe_pairs

STEP_LOOKBACK = 5  # sessions read before the first checked one, for each symbol's previous bar

Evaluate = Callable[[Lake, str, list[dt.date]], dict[dt.date, Findings]]


# --- what each check computes, for a list of sessions, reading the lake once ------------------


def _absent(check: str, dataset: str, day: dt.date) -> Findings:
    return Findings(
        check=check,
        passed=False,
        description=f"{dataset} has no partition for {day}: materialize it first",
        counts={"rows_checked": 0},
    )


def _stored(
    lake: Lake, dataset: str, sessions: list[dt.date], columns: list[str] | None = None
) -> tuple[list[dt.date], pl.DataFrame | None]:
    """The sessions among ``sessions`` that have a partition, and their rows in one read (None: none)."""
    stored = set(lake.sessions(dataset))
    present = [d for d in sessions if d in stored]
    return present, (lake.read(dataset, sessions=present, columns=columns) if present else None)


def _by_session(lake: Lake, dataset: str, sessions: list[dt.date], columns: list[str] | None = None) -> dict:
    """The stored partitions among ``sessions`` as {date: frame}, in one read (empty frames included)."""
    present, frame = _stored(lake, dataset, sessions, columns)
    empty = schemas.empty(schemas.dataset(dataset).schema)
    if columns is not None:
        empty = empty.select("date", *[c for c in columns if c != "date"])
    parts = (
        {k[0]: v for k, v in frame.partition_by("date", as_dict=True).items()} if frame is not None else {}
    )
    return {d: parts.get(d, empty) for d in present}


def integrity(lake: Lake, dataset: str, sessions: list[dt.date]) -> dict[dt.date, Findings]:
    present, bars = _stored(lake, dataset, sessions)
    found = bar_integrity_by_day(bars, present) if bars is not None else {}
    return {d: found[d] if d in found else _absent("bar_integrity", dataset, d) for d in sessions}


def regular_session(interval_minutes: int) -> Evaluate:
    def evaluate(lake: Lake, dataset: str, sessions: list[dt.date]) -> dict[dt.date, Findings]:
        parts = _by_session(lake, dataset, sessions, columns=["symbol", "ts", "volume"])
        return {
            d: missing_regular_bars(parts[d], interval_minutes=interval_minutes)
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


def gaps(lake: Lake, dataset: str, sessions: list[dt.date]) -> dict[dt.date, Findings]:
    history = _history(lake, dataset, sessions, GAP_WINDOW - 1, ["symbol"])
    stored = set(lake.sessions(dataset))
    judged = sorted({w for day in sessions for w in gap_window(day)})
    universes = session_universes(lake, judged)  # a symbol out of a session's universe is no gap there
    expected = universe_pairs(universes, judged) if universes is not None else None
    found = missing_sessions_by_day(history, [d for d in sessions if d in stored], expected)
    out = {}
    for day in sessions:
        findings = found[day] if day in stored else _absent("missing_sessions", dataset, day)
        unstored = [w for w in gap_window(day) if w not in stored]
        if unstored:
            findings.counts["window_sessions_not_in_lake"] = len(unstored)
        out[day] = findings
    return out


def steps(lake: Lake, dataset: str, sessions: list[dt.date]) -> dict[dt.date, Findings]:
    history = _history(lake, dataset, sessions, STEP_LOOKBACK, ["symbol", "ts", "open", "close", "volume"])
    stored = set(lake.sessions(dataset))
    judged = [d for d in sessions if d in stored]
    found = price_volume_steps_by_day(  # one step table for the whole range, judged session by session
        step_table(history), judged, max_price_step=MAX_PRICE_STEP, max_volume_step=MAX_VOLUME_STEP
    )
    return {day: found[day] if day in stored else _absent("price_volume_steps", dataset, day) for day in sessions}


def coverage(lake: Lake, dataset: str, sessions: list[dt.date]) -> dict[dt.date, Findings]:
    # The universe a session's bars were fetched for: the market-data assets' own rule.
    universes = session_universes(lake, sessions)
    if universes is None:
        return {d: _absent("universe_coverage", "universe", d) for d in sessions}
    present, bars = _stored(lake, dataset, sessions, ["symbol"])
    found = universe_coverage_by_day(bars, {d: universes.symbols(d) for d in present}) if bars is not None else {}
    out = {}
    for day in sessions:
        if day not in found:
            out[day] = _absent("universe_coverage", dataset, day)
            continue
        findings = found[day]
        used = universes.used[day]
        if used != day:
            findings.counts["universe_borrowed_from"] = used.isoformat()  # type: ignore[assignment]
        out[day] = findings
    return out
