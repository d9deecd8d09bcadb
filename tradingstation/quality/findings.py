"""The outcome of a data-quality rule: :class:`Findings`, and the helpers every rule builds it with.

Each rule of ``bar_contract``, ``gaps``, ``steps`` and ``coverage`` returns a :class:`Findings`:
passed or not, counts, the offending symbols (at most ``MAX_LISTED`` named, all counted), a
sentence saying what was found, and a small ``details`` frame (one row per problem, at most
``MAX_LISTED``) for the UI. Pure data, no Dagster. A rule judged for many sessions in one pass
hands its per-day counts and rows to :func:`judge_by_day`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import polars as pl

MAX_LISTED = 50  # offending symbols named, detail rows kept


@dataclass(frozen=True)
class Findings:
    """The outcome of one check on one frame."""

    check: str
    passed: bool
    description: str
    counts: dict[str, int | float] = field(default_factory=dict)
    offenders: list[str] = field(default_factory=list)  # sorted, at most MAX_LISTED
    offender_count: int = 0  # all of them, also beyond MAX_LISTED
    details: pl.DataFrame = field(default_factory=pl.DataFrame)  # at most MAX_LISTED rows


def make_findings(
    check: str,
    passed: bool,
    description: str,
    counts: dict,
    offenders: pl.Series | Iterable[str],
    details: pl.DataFrame,
) -> Findings:
    """A :class:`Findings`: the offenders deduplicated and sorted, names and details cut at ``MAX_LISTED``."""
    names = sorted(set(offenders))
    return Findings(
        check=check,
        passed=passed,
        description=description,
        counts=counts,
        offenders=names[:MAX_LISTED],
        offender_count=len(names),
        details=details.head(MAX_LISTED),
    )


def listed(names: Sequence[str]) -> str:
    """The first ten names for a description, then how many more."""
    shown = ", ".join(names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def sessions_by_symbol(rows: pl.DataFrame, listed_as: str, counted_as: str) -> pl.DataFrame:
    """One row per symbol of (symbol, date) ``rows``: its sessions oldest first as one string
    (``listed_as``) and how many (``counted_as``), the symbol with the most first — a details frame."""
    return (
        rows.group_by("symbol")
        .agg(pl.col("date").sort().cast(pl.String).str.join(", ").alias(listed_as), pl.len().alias(counted_as))
        .sort([counted_as, "symbol"], descending=[True, False])
    )


def judge_by_day(
    counts: pl.DataFrame,
    rows: pl.DataFrame,
    days: Sequence[dt.date],
    judge: Callable[[dict[str, int], pl.DataFrame], Findings],
) -> dict[dt.date, Findings]:
    """``judge`` of each of ``days`` from a rule computed once for all of them: the day's row of
    ``counts`` (a group-by on ``date``; a day without one counts 0 in every column) and its rows of
    ``rows`` (in their order; none: an empty frame). Each day gets counts of its own."""
    counted = {row.pop("date"): {k: int(v) for k, v in row.items()} for row in counts.iter_rows(named=True)}
    zero = dict.fromkeys((c for c in counts.columns if c != "date"), 0)
    by_day = {k[0]: v for k, v in rows.partition_by("date", as_dict=True, maintain_order=True).items()}
    return {day: judge(dict(counted.get(day, zero)), by_day.get(day, rows.clear())) for day in days}
