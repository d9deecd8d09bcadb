"""Bar frames in the bar contract, for every test that needs bars: the one home of these helpers.

- :func:`daily_frame` / :func:`minute_frame` — a grid of sessions x symbols with made-up prices,
  for the lake, IO, maintenance and operations tests;
- :func:`daily_frame_from_rows` — one symbol's daily bars from hand-written OHLCV rows, for the
  screener tests (with :func:`sessions_from` for the dates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from tradingstation.core import calendar, schemas

Row = tuple[float, float, float, float, int]  # open, high, low, close, volume


def sessions_from(start: dt.date, count: int) -> list[dt.date]:
    """``count`` NYSE sessions from ``start`` on."""
    return calendar.sessions_in_range(start, start + dt.timedelta(days=2 * count + 10))[:count]


def daily_frame_from_rows(symbol: str, rows: Sequence[Row], dates: Sequence[dt.date]) -> pl.DataFrame:
    """One symbol's daily bars, one per row, on the last ``len(rows)`` of ``dates``."""
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


def daily_frame(sessions: list[str], symbols: list[str]) -> pl.DataFrame:
    """A contract-valid daily frame, one bar per symbol and session, prices varying by both."""
    rows = []
    for i, key in enumerate(sessions):
        day = calendar.session(key)
        for j, sym in enumerate(symbols):
            base = 10.0 + j * 5 + i * 0.5
            rows.append(
                {
                    "date": day,
                    "symbol": sym,
                    "ts": calendar.session_open(day),
                    "open": base,
                    "high": base + 1,
                    "low": base - 1,
                    "close": base + 0.25,
                    "volume": 1_000_000 + 1000 * i + j,
                }
            )
    return schemas.conform(pl.DataFrame(rows), schemas.DAILY_BARS)


def minute_frame(session: str, symbols: list[str], minutes: int = 30) -> pl.DataFrame:
    day = calendar.session(session)
    start = calendar.session_open(day)
    rows = [
        {
            "date": day,
            "symbol": sym,
            "ts": start + dt.timedelta(minutes=m),
            "open": 100.0 + m * 0.01,
            "high": 100.5 + m * 0.01,
            "low": 99.5 + m * 0.01,
            "close": 100.1 + m * 0.01,
            "volume": 100 + m,
            "session": "regular",
        }
        for sym in symbols
        for m in range(minutes)
    ]
    return schemas.conform(pl.DataFrame(rows), schemas.INTRADAY_BARS)
