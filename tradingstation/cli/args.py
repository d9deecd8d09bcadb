"""Argument types for the command line: every bad value is one clear line and exit 2, never a traceback.

argparse calls these on the raw text; an ``ArgumentTypeError`` becomes
``tradingstation <command>: error: argument --x: <the reason>`` and exit status 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from collections.abc import Callable

from tradingstation.core import calendar, schemas
from tradingstation.core.errors import TradingStationError


def session_arg(text: str) -> dt.date:
    """A session date ``YYYY-MM-DD``: not empty, a real date, an NYSE session (the reason otherwise)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("a session date YYYY-MM-DD is required, got an empty value")
    try:
        return calendar.session(text.strip())
    except (TradingStationError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def number_arg(kind: type, *, minimum: float | None = None, maximum: float | None = None) -> Callable[[str], float]:
    """An int or float within [minimum, maximum]; NaN, infinities and overflowing values are refused."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is below the minimum {minimum:g}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{text} is above the maximum {maximum:g}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def dataset_arg(text: str) -> str:
    """A dataset the lake knows (never a path: ``../../etc`` is refused with the known names)."""
    try:
        return schemas.dataset(text).name
    except KeyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def session_range(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    if first > last:
        raise TradingStationError(f"the range starts after it ends: --start {first} is after --end {last}")
    return first, last


# Parameter flags of the screeners and the dashboard: periods and windows count at least one
# session, bar or hour; every other number is a threshold, size or multiple: finite and >= 0.
_PERIOD_WORDS = ("days", "period", "sessions", "bars", "window", "sma", "hours", "lookback", "top_n")
_SCORE_FIELDS = ("min_score",)  # scores are 0-10
_MAX_PERIOD = 100_000
_MAX_INT = 10**12


def param_arg(name: str, default: int | float) -> Callable[[str], float]:
    """The argparse type of the dataclass field ``name`` (its default says int or float)."""
    kind = type(default)
    if name in _SCORE_FIELDS:
        return number_arg(kind, minimum=0, maximum=10)
    if kind is int and any(word in name for word in _PERIOD_WORDS):
        return number_arg(int, minimum=1, maximum=_MAX_PERIOD)
    return number_arg(kind, minimum=0, maximum=_MAX_INT if kind is int else None)


def one_line_errors(prog: str, run: Callable[[], int]) -> int:
    """Run a command; an error a user can act on (bad date, unreachable lake, missing files) is one
    line ``prog: error: ...`` and exit status 2, never a traceback."""
    from tradingstation.core.secrets import redact

    try:
        return run()
    except SystemExit as exc:  # argparse printed its line (or the help) already
        return int(exc.code or 0)
    except (TradingStationError, FileNotFoundError, ValueError, OSError) as exc:
        print(f"{prog}: error: {redact(str(exc))}", file=sys.stderr)
        return 2
