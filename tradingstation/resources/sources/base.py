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

    @classmethod
    def empty(cls) -> FetchResult:
        return cls(schemas.empty(schemas.RAW_BARS))

    def merge(self, other: FetchResult) -> FetchResult:
        return FetchResult(
            pl.concat([self.bars, other.bars], how="vertical_relaxed"),
            {**self.failures, **other.failures},
            [*self.notes, *other.notes],
        )


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
        valid: list[str] = []
        failures: dict[str, str] = {}
        for raw in symbols:
            try:
                valid.append(schemas.normalize_symbol(raw))
            except schemas.InvalidSymbolError as exc:
                failures[str(raw)] = str(exc)
        valid = list(dict.fromkeys(valid))
        result = self._fetch(valid, interval, start, end) if valid else FetchResult.empty()
        bars = schemas.conform(result.bars, schemas.RAW_BARS, what=f"{self.source_name} bars").select(
            schemas.RAW_BARS.names()
        )
        return FetchResult(bars, {**failures, **result.failures}, result.notes)

    def _fetch(self, symbols: list[str], interval: Interval, start: dt.date, end: dt.date) -> FetchResult:
        raise NotImplementedError


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
