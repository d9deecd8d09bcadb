"""Sessions a symbol skips: the session-gap rule and its check on daily bars (pure polars, no Dagster).

- :func:`skipped_sessions` — the rule itself: (symbol, date) for each session a symbol skips
  between its first and last bar in a stretch of the calendar, optionally narrowed to each
  session's universe. The one implementation, shared with the lake's gap report
  (``tradingstation.maintenance.gap_report``).
- :func:`missing_sessions` — the check: the rule as a :class:`Findings` over a window of sessions
  (:func:`gap_window`: the ``GAP_WINDOW`` sessions up to the checked one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from tradingstation.core import calendar
from tradingstation.quality.findings import Findings, listed, make_findings

GAP_WINDOW = 20  # sessions looked back by the gap check, the checked one included


def gap_window(as_of: dt.date | str, count: int = GAP_WINDOW) -> list[dt.date]:
    """The ``count`` sessions up to ``as_of`` (itself included when a session), oldest first."""
    day = calendar.to_date(as_of)
    before = calendar.sessions_before(day, count - 1 if calendar.is_session(day) else count)
    return [*before, day] if calendar.is_session(day) else before


def skipped_sessions(
    bars: pl.DataFrame, sessions: Sequence[dt.date], expected: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The session-gap rule: (symbol, date) for each of ``sessions`` a symbol skips between its first
    and last bar among them, sorted by symbol and date.

    ``sessions`` is the stretch of the calendar judged; bars on other dates are ignored. A symbol is
    expected on every session from its first bar to its last: one that starts later (listed, or
    joined the universe) is no gap before its first bar, and one that stops (left the universe) is
    no gap after its last. ``expected`` — (date, symbol) pairs, each session's own universe
    (:func:`tradingstation.quality.universe.universe_pairs`) — narrows that: a symbol left out of a
    session's universe is not written that session, which is no gap. The one implementation:
    :func:`missing_sessions` (the asset check) and ``tradingstation.maintenance.detect_gaps`` (the
    lake's gap report) both call it.
    """
    window = pl.DataFrame({"date": sorted(set(sessions))}, schema={"date": pl.Date}).with_row_index("i")
    present = bars.select("symbol", "date").unique().join(window, on="date", how="inner")
    spans = present.group_by("symbol").agg(first=pl.col("i").min(), last=pl.col("i").max())
    skipped = (
        spans.join(window, how="cross")
        .filter(pl.col("i").is_between(pl.col("first"), pl.col("last")))
        .select("symbol", "date")
        .join(present.select("symbol", "date"), on=["symbol", "date"], how="anti")
    )
    if expected is not None:
        skipped = skipped.join(expected.select("date", "symbol"), on=["date", "symbol"], how="semi")
    return skipped.sort("symbol", "date")


def missing_sessions(
    daily: pl.DataFrame, sessions: Sequence[dt.date], expected: pl.DataFrame | None = None
) -> Findings:
    """Symbols whose daily bars skip sessions of ``sessions`` (a window of the calendar).

    The rule is :func:`skipped_sessions`: a symbol that starts later is no gap before its first
    bar, and one that stops is the universe-coverage check's business, not a gap.
    """
    window = sorted(set(sessions))
    skipped = skipped_sessions(daily, window, expected)
    checked = daily.filter(pl.col("date").is_in(pl.Series(window, dtype=pl.Date).implode()))
    # Which sessions each gappy symbol skips, the symbol skipping most first.
    details = (
        skipped.group_by("symbol")
        .agg(missing_sessions=pl.col("date").sort().cast(pl.String).str.join(", "), missing=pl.len())
        .sort(["missing", "symbol"], descending=[True, False])
    )
    counts = {
        "sessions_in_window": len(window),
        "symbols_checked": checked["symbol"].n_unique(),
        "symbols_with_gaps": details.height,
        "missing_symbol_sessions": skipped.height,
    }
    lo, hi = (window[0], window[-1]) if window else (None, None)
    if details.is_empty():
        text = f"no symbol skips a session in the {len(window)} session(s) {lo} .. {hi}"
    else:
        text = (
            f"{details.height} symbol(s) skip {counts['missing_symbol_sessions']} session(s) between their first "
            f"and last bar in {lo} .. {hi}: {listed(details['symbol'].to_list())}"
        )
    return make_findings("missing_sessions", details.is_empty(), text, counts, details["symbol"], details)
