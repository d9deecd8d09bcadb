"""The interface every market-data source implements.

A source answers one question: the bars of these symbols, at this interval, for the sessions
from ``start`` to ``end`` (both inclusive, NYSE session dates). It returns them raw, in the
RAW_BARS shape (symbol, ts UTC, open, high, low, close, volume as float), and names every
symbol it could not serve and why. Validation against the bar contract happens once, at the
boundary, in the assets (``schemas.validate_bars``), never inside a source.

Conventions every source follows:
- symbols come in and go out in canonical form (``schemas.normalize_symbol``: BRK.B);
- a bar's ``ts`` is the instant it starts; a daily bar starts at its session's open;
- 1-minute bars include pre- and post-market bars where the source has them; 30-minute bars
  cover the regular session;
- one failing symbol never fails the others: it goes into ``failures``.

Earnings dates are the second question (``earnings``): the reports of these symbols dated
``start``..``end``, in the ``schemas.EARNINGS_EVENTS`` shape. A source that has none says so
(``EarningsResult.available`` False, with the reason in ``notes``): "not available" is never
passed off as "no reports". Sources hand over ``symbol, report_date, timing, report_ts`` and the
EPS figures; the anchor ``session`` is derived here, once, by one rule (``earnings_sessions``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import dagster as dg
import polars as pl

from tradingstation.core import calendar, schemas


class Interval(str, Enum):
    DAY = "1d"
    MINUTE_1 = "1m"
    MINUTE_30 = "30m"

    @property
    def intraday(self) -> bool:
        return self is not Interval.DAY

    @property
    def minutes(self) -> int:
        return {"1d": 0, "1m": 1, "30m": 30}[self.value]


@dataclass
class FetchResult:
    """Raw bars (RAW_BARS shape) and the symbols that failed, with the reason for each."""

    bars: pl.DataFrame
    failures: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Among ``failures``: symbols a fixed catalog simply does not hold at this interval (a daily-only
    # export asked for minutes). Still reported, but no sign of a broken source.
    absent: set[str] = field(default_factory=set)

    @classmethod
    def empty(cls) -> FetchResult:
        return cls(schemas.empty(schemas.RAW_BARS))

    @property
    def errors(self) -> dict[str, str]:
        """The failures that are errors of the source (not ``absent``)."""
        return {s: why for s, why in self.failures.items() if s not in self.absent}

    def merge(self, other: FetchResult) -> FetchResult:
        return FetchResult(
            pl.concat([self.bars, other.bars], how="vertical_relaxed"),
            {**self.failures, **other.failures},
            [*self.notes, *other.notes],
            self.absent | other.absent,
        )


TIMINGS = ("before_open", "during_session", "after_close", "unknown")


@dataclass
class EarningsResult:
    """Earnings reports (``schemas.EARNINGS_EVENTS``), symbols that failed, and whether the source has any."""

    events: pl.DataFrame
    failures: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    available: bool = True  # False: this source knows no earnings dates at all (see notes)

    @classmethod
    def not_available(cls, why: str) -> EarningsResult:
        return cls(schemas.empty(schemas.EARNINGS_EVENTS), notes=[why], available=False)


def timing_of(report_ts: pl.Expr) -> pl.Expr:
    """before_open / during_session / after_close from an announced instant (New York clock), unknown
    when null or exactly midnight (how Yahoo and most calendars write an unconfirmed time)."""
    clock = report_ts.dt.convert_time_zone(calendar.NY_TZ).dt.time()
    return (
        pl.when(report_ts.is_null() | (clock == dt.time(0))).then(pl.lit("unknown"))
        .when(clock < dt.time(9, 30)).then(pl.lit("before_open"))
        .when(clock >= dt.time(16, 0)).then(pl.lit("after_close"))
        .otherwise(pl.lit("during_session"))
    )


def earnings_sessions(events: pl.DataFrame) -> pl.DataFrame:
    """``events`` with ``session``: the first session that trades on the report. After the close:
    the next session; otherwise (before the open, during the session, time unknown) the report date
    when it is a session, else the next one. Vectorized: one as-of join against the calendar."""
    if events.is_empty():
        return events.with_columns(session=pl.lit(None, pl.Date))
    lo = max(events["report_date"].min(), calendar.FIRST_SESSION)
    hi = min(events["report_date"].max() + dt.timedelta(days=10), calendar.last_known_date())  # past a long weekend
    days = calendar.sessions_in_range(lo, hi) if lo <= hi else []  # beyond the known calendar: no session
    sessions = pl.DataFrame({"session": days}, schema={"session": pl.Date}).with_columns(_on=pl.col("session"))
    after = pl.col("timing") == "after_close"
    # the first session on or after: report_date (+1 day after the close)
    on = (pl.col("report_date") + pl.when(after).then(pl.duration(days=1)).otherwise(pl.duration(days=0)))
    keyed = events.with_columns(_on=on.cast(pl.Date), _row=pl.int_range(pl.len())).sort("_on")
    joined = keyed.join_asof(sessions, on="_on", strategy="forward").sort("_row")
    return joined.drop("_on", "_row")


def conform_earnings(raw: pl.DataFrame, what: str) -> pl.DataFrame:
    """A source's reports in ``schemas.EARNINGS_EVENTS``: timing from ``report_ts`` when missing,
    the anchor session derived, one row per (symbol, report_date), sorted."""
    if "timing" not in raw.columns:
        ts = pl.col("report_ts") if "report_ts" in raw.columns else pl.lit(None, schemas.TS)
        raw = raw.with_columns(timing=timing_of(ts))
    raw = raw.with_columns(pl.col("timing").fill_null("unknown"))
    if "report_ts" in raw.columns:  # an unconfirmed time is no instant
        raw = raw.with_columns(report_ts=pl.when(pl.col("timing") != "unknown").then(pl.col("report_ts")))
    bad = raw.filter(~pl.col("timing").is_in(TIMINGS))
    if bad.height:
        raise ValueError(f"{what}: unknown earnings timing {bad['timing'][0]!r} (expected one of {TIMINGS})")
    cols = {c: t for c, t in schemas.EARNINGS_EVENTS.items() if c != "session"}
    raw = raw.select(pl.col(c).cast(t) if c in raw.columns else pl.lit(None, t).alias(c) for c, t in cols.items())
    raw = raw.filter(pl.col("symbol").is_not_null() & pl.col("report_date").is_not_null())
    raw = raw.unique(["symbol", "report_date"], keep="first", maintain_order=True)
    return earnings_sessions(raw).select(schemas.EARNINGS_EVENTS.names()).sort("symbol", "report_date")


def canonical_symbols(symbols: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The valid symbols in canonical form (first occurrence kept) and the invalid ones with why."""
    valid: list[str] = []
    failures: dict[str, str] = {}
    for raw in symbols:
        try:
            valid.append(schemas.normalize_symbol(raw))
        except schemas.InvalidSymbolError as exc:
            failures[str(raw)] = str(exc)
    return list(dict.fromkeys(valid)), failures


class MarketDataSource(dg.ConfigurableResource):
    """Base of every source resource. Subclasses implement ``_fetch``; callers use ``fetch``."""

    @property
    def source_name(self) -> str:
        return type(self).__name__

    def known_symbols(self) -> list[str] | None:
        """Symbols this source can serve, when it has a fixed set (files); None when any may work."""
        return None

    def fetch(self, symbols: Sequence[str], interval: Interval | str, start: dt.date, end: dt.date) -> FetchResult:
        """Bars of ``symbols`` for sessions ``start``..``end``; invalid tickers are failures, not errors."""
        interval = Interval(interval)
        start, end = calendar.to_date(start), calendar.to_date(end)
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        valid, failures = canonical_symbols(symbols)
        result = self._fetch(valid, interval, start, end) if valid else FetchResult.empty()
        bars = schemas.conform(result.bars, schemas.RAW_BARS, what=f"{self.source_name} bars").select(
            schemas.RAW_BARS.names()
        )
        return FetchResult(bars, {**failures, **result.failures}, result.notes, result.absent)

    def _fetch(self, symbols: list[str], interval: Interval, start: dt.date, end: dt.date) -> FetchResult:
        raise NotImplementedError

    def earnings(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> EarningsResult:
        """Earnings reports of ``symbols`` dated ``start``..``end`` (both inclusive, New York dates),
        past and scheduled; invalid tickers are failures. See ``EarningsResult.available``."""
        start, end = calendar.to_date(start), calendar.to_date(end)
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        valid, failures = canonical_symbols(symbols)
        if not valid:
            return EarningsResult(schemas.empty(schemas.EARNINGS_EVENTS), failures)
        result = self._earnings(valid, start, end)
        events = conform_earnings(result.events, f"{self.source_name} earnings")
        events = events.filter(pl.col("report_date").is_between(start, end) & pl.col("symbol").is_in(valid))
        return EarningsResult(events, {**failures, **result.failures}, result.notes, result.available)

    def _earnings(self, symbols: list[str], start: dt.date, end: dt.date) -> EarningsResult:
        return EarningsResult.not_available(f"{self.source_name} has no earnings dates")


def daily_ts(dates: pl.Expr) -> pl.Expr:
    """The start instant (UTC) of the daily bar of each date: its session's open.

    Dates that are not sessions get 09:30 New York time, so the bar contract can quarantine
    them as 'not in a trading session' rather than lose them.
    """
    nominal = (dates.cast(pl.Datetime("us")) + pl.duration(hours=9, minutes=30)).dt.replace_time_zone(
        calendar.NY_TZ, ambiguous="earliest", non_existent="null"
    )
    # Early closes move the close, never the open, so 09:30 New York is every session's open.
    return nominal.dt.convert_time_zone("UTC")
