"""Hand-built bar frames for the screener tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from tradingstation.core import calendar, schemas

Row = tuple[float, float, float, float, int]  # open, high, low, close, volume


def sessions_from(start: dt.date, count: int) -> list[dt.date]:
    """``count`` NYSE sessions from ``start`` on."""
    return calendar.sessions_in_range(start, start + dt.timedelta(days=2 * count + 10))[:count]


def daily_frame(symbol: str, rows: Sequence[Row], dates: Sequence[dt.date]) -> pl.DataFrame:
    """Daily bars in the bar contract, one per row, on the last ``len(rows)`` of ``dates``."""
    days = list(dates)[-len(rows):]
    return pl.DataFrame(
        {
            "date": days,
            "symbol": symbol,
            "ts": [calendar.session_open(d) for d in days],
            "open": [float(r[0]) for r in rows],
            "high": [float(r[1]) for r in rows],
            "low": [float(r[2]) for r in rows],
            "close": [float(r[3]) for r in rows],
            "volume": [r[4] for r in rows],
        },
        schema=schemas.DAILY_BARS,
    )
