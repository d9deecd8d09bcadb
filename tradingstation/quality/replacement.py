"""Would a write make the lake much worse? The rules that keep a bad source from replacing good data.

Two findings, each a sentence with the numbers, or nothing:

- :func:`sharp_shrinks` — a stored partition of a guarded dataset (the universe, the bars) would be
  replaced by one with fewer than ``floor`` (default half) of its symbols. Only sessions that are
  stored count: writing a session for the first time shrinks nothing.
- :func:`failed_fetch` — most of the requested symbols failed at the source (more than
  ``max_failed_share``, default half): the source is misconfigured or down, not "no data".

The caller (the IO manager, the bar assets) fails the step with the sentence and writes nothing,
unless the operator passed the explicit override (run tag ``tradingstation/allow_shrink=true``,
``tradingstation materialize --allow-shrink``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

GUARDED_DATASETS = ("universe", "daily_bars", "intraday_1m", "intraday_30m")
SHRINK_FLOOR = 0.5  # a replacement keeping fewer than half the stored symbols is refused
MAX_FAILED_SHARE = 0.5  # more than half the requested symbols failing is a broken source
ALLOW_SHRINK_TAG = "tradingstation/allow_shrink"
OVERRIDE_HINT = f"pass --allow-shrink (run tag {ALLOW_SHRINK_TAG}=true) if this is meant"


@dataclass(frozen=True)
class Shrink:
    """One session whose stored partition would lose most of its symbols."""

    session: dt.date
    stored_symbols: int
    new_symbols: int

    def __str__(self) -> str:
        return f"{self.session}: {self.stored_symbols} -> {self.new_symbols} symbols"


def symbol_counts(frame: pl.DataFrame) -> dict[dt.date, int]:
    """Distinct symbols per session ``date`` of a frame with ``date`` and ``symbol`` columns."""
    if frame.is_empty():
        return {}
    counts = frame.group_by("date").agg(pl.col("symbol").n_unique())
    return dict(zip(counts["date"].to_list(), counts["symbol"].to_list(), strict=True))


def sharp_shrinks(
    stored: dict[dt.date, int], new: dict[dt.date, int], sessions: list[dt.date], floor: float = SHRINK_FLOOR
) -> list[Shrink]:
    """Sessions among ``sessions`` whose stored symbol count would fall below ``floor`` of itself."""
    return [
        Shrink(day, stored[day], new.get(day, 0))
        for day in sessions
        if stored.get(day, 0) > 0 and new.get(day, 0) < floor * stored[day]
    ]


def shrink_message(dataset: str, shrinks: list[Shrink], sessions: int) -> str:
    shown = "; ".join(str(s) for s in shrinks[:5]) + (" ..." if len(shrinks) > 5 else "")
    return (
        f"{dataset}: refusing to replace {len(shrinks)} of {sessions} stored session(s) with under "
        f"{SHRINK_FLOOR:.0%} of their symbols ({shown}); the stored partitions are untouched; {OVERRIDE_HINT}"
    )


def failed_fetch(
    dataset: str, requested: int, failures: dict[str, str], max_failed_share: float = MAX_FAILED_SHARE
) -> str | None:
    """A sentence when more than ``max_failed_share`` of ``requested`` symbols failed, else None."""
    if requested == 0 or len(failures) <= max_failed_share * requested:
        return None
    examples = "; ".join(f"{s}: {why}" for s, why in list(failures.items())[:3])
    return (
        f"{dataset}: {len(failures)} of {requested} symbol(s) failed at the source (e.g. {examples}); "
        f"nothing was written; {OVERRIDE_HINT}"
    )


def override_requested(tags: dict[str, str]) -> bool:
    return tags.get(ALLOW_SHRINK_TAG, "").lower() in ("1", "true", "yes")
