"""The lake's gap report: per-symbol missing sessions of a bar dataset, going on past damaged files.

``find_gaps`` (and ``detect_gaps``, its frame) never stops at a damaged file: each file of the
range gets verify's file check (:mod:`tradingstation.maintenance.file_check`), the damaged ones are
named and their sessions count as missing, so ``lake fill-gaps`` rewrites them along with the
gaps. The per-symbol rule is the asset check's own,
:func:`tradingstation.quality.gaps.skipped_sessions`, narrowed to the symbols each session's
universe includes (:func:`tradingstation.quality.universe.universe_pairs`, the pairs the bar assets
write): a symbol the universe excluded that day is absent by design, not a gap. ``symbol_gaps`` is
that rule over files already checked (``verify --check-gaps`` uses it on its own reads).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.maintenance.file_check import FileCheck, Issue, check_files, partition_key
from tradingstation.quality.gaps import skipped_sessions
from tradingstation.quality.universe import session_universes, universe_pairs

GAP_SCHEMA = pl.Schema({"symbol": pl.String, "date": pl.Date, "partition_missing": pl.Boolean})


def symbol_gaps(lake: Lake, readable: list[FileCheck], lo: dt.date, hi: dt.date) -> pl.DataFrame:
    """(symbol, date, partition_missing) for each session in [lo, hi] on which a symbol present
    before and after it (in the ``readable`` files), and included in that session's universe, is
    absent; ``partition_missing`` when the session has no readable file. Without any stored
    universe every such absence counts."""
    if not readable:
        return pl.DataFrame(schema=GAP_SCHEMA)
    present = pl.concat(  # one small frame per file, not per row
        [
            pl.DataFrame({"symbol": pl.Series("symbol", c.symbols, dtype=pl.String)}).with_columns(date=pl.lit(c.date, pl.Date))
            for c in readable
            if c.symbols is not None
        ]
        or [pl.DataFrame(schema={"symbol": pl.String, "date": pl.Date})]
    ).drop_nulls("symbol")
    days = pl.Series("date", [c.date for c in readable], dtype=pl.Date)
    sessions = calendar.sessions_in_range(lo, hi)
    try:
        universes = session_universes(lake, sessions)
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError):  # a damaged universe file (verify names it)
        universes = None
    expected = universe_pairs(universes, sessions) if universes is not None else None
    gaps = skipped_sessions(present, sessions, expected=expected)
    return gaps.with_columns(partition_missing=~pl.col("date").is_in(days.implode())).select(GAP_SCHEMA.names())


@dataclass
class GapReport:
    """What ``find_gaps`` found in one dataset's range: the per-symbol gaps and the damaged files."""

    dataset: str
    gaps: pl.DataFrame  # GAP_SCHEMA rows; a damaged file's session counts as a missing partition
    damaged: list[Issue] = field(default_factory=list)  # files failing verify's file check, by session
    damaged_dates: list[dt.date] = field(default_factory=list)

    @property
    def sessions(self) -> list[dt.date]:
        """The sessions to rewrite: those with a gap and those whose file is damaged."""
        return sorted({*self.gaps["date"].to_list(), *self.damaged_dates})


def find_gaps(
    lake: Lake, dataset: str, start: dt.date | str | None = None, end: dt.date | str | None = None
) -> GapReport:
    """Per-symbol missing sessions of ``dataset`` within [start, end] (default: its stored range),
    going on past damaged files (named in ``damaged``; their sessions count as missing partitions).

    One row (symbol, date, partition_missing) per session on which a symbol that has rows before
    and after it (inside the range) has none; ``partition_missing`` is True when the session has no
    readable partition. Every file of the range is read once (verify's file check, a few at once);
    the rule is a vectorized join against the calendar.
    """
    contract = schemas.dataset(dataset)
    lo = calendar.to_date(start) if start is not None else dt.date.min
    hi = calendar.to_date(end) if end is not None else dt.date.max
    stored = [d for d in lake.sessions(contract.name) if lo <= d <= hi]
    if not stored:
        return GapReport(contract.name, pl.DataFrame(schema=GAP_SCHEMA))
    jobs = [(contract, d, partition_key(contract.name, d)) for d in stored]
    checks = check_files(lake, jobs, symbols=True)
    bad = [c for c in checks if c.problem]
    gaps = symbol_gaps(lake, [c for c in checks if not c.problem], max(lo, stored[0]), min(hi, stored[-1]))
    damaged = [Issue("error", contract.name, c.key, c.problem or "") for c in bad]
    return GapReport(contract.name, gaps, damaged, [c.date for c in bad])


def detect_gaps(
    lake: Lake, dataset: str, start: dt.date | str | None = None, end: dt.date | str | None = None
) -> pl.DataFrame:
    """The gap rows of :func:`find_gaps` (a damaged file's session shows as a missing partition)."""
    return find_gaps(lake, dataset, start, end).gaps
