"""Small, valid bar frames for lake and IO tests."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tradingstation.core import calendar, schemas


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
