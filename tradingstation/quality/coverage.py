"""Completeness of bar frames: the bars a session should have (pure polars, no Dagster).

- :func:`missing_regular_bars` — regular-session minutes (or 30-minute bars) missing for the
  liquid symbols, against the session's real open and close (early closes honoured).
- :func:`universe_coverage` — the share of the universe's included symbols present per session;
  :func:`universe_coverage_by_day` the same for many sessions, each with its own universe, in one pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import polars as pl

from tradingstation.core import calendar
from tradingstation.quality.findings import Findings, listed, make_findings, sessions_by_symbol


def missing_regular_bars(
    bars: pl.DataFrame,
    *,
    interval_minutes: int = 1,
    top_n: int = 100,
    min_volume: int = 0,
    max_missing: int = 0,
) -> Findings:
    """Regular-session bars missing for the liquid symbols, per session.

    Liquid: among the ``top_n`` symbols by regular-session volume of the session and trading at
    least ``min_volume`` shares in it. Expected: one bar per ``interval_minutes`` from the open to
    the close of that session (``calendar.session_times``: 210 minutes on a 13:00 early close, not
    390). A symbol fails when more than ``max_missing`` bars are missing.
    """
    frame = calendar.session_frame(bars["date"].min(), bars["date"].max()) if bars.height else None
    if frame is None or frame.is_empty():
        counts = {
            "sessions_checked": 0,
            "liquid_symbols": 0,
            "symbols_with_missing_bars": 0,
            "missing_bars": 0,
        }
        return make_findings("missing_regular_bars", True, "no bars to check", counts, [], pl.DataFrame())
    frame = frame.select(
        "date",
        s_open="open",
        s_close="close",
        expected=((pl.col("close") - pl.col("open")).dt.total_minutes() + interval_minutes - 1)
        // interval_minutes,
    )
    regular = (
        bars.join(frame, on="date", how="inner")
        .filter((pl.col("ts") >= pl.col("s_open")) & (pl.col("ts") < pl.col("s_close")))
        .with_columns(slot=(pl.col("ts") - pl.col("s_open")).dt.total_minutes() // interval_minutes)
    )
    per = regular.group_by("date", "symbol").agg(
        volume=pl.col("volume").sum(), bars=pl.col("slot").n_unique(), expected=pl.col("expected").first()
    )
    liquid = per.filter(
        (pl.col("volume").rank("ordinal", descending=True).over("date") <= top_n)
        & (pl.col("volume") >= min_volume)
    ).with_columns(missing=(pl.col("expected") - pl.col("bars")).clip(lower_bound=0).cast(pl.Int64))
    short = liquid.filter(pl.col("missing") > max_missing).sort(
        ["missing", "date", "symbol"], descending=[True, False, False]
    )
    counts = {
        "sessions_checked": per["date"].n_unique(),
        "liquid_symbols": liquid["symbol"].n_unique(),
        "expected_bars_per_symbol": int(
            frame.filter(pl.col("date").is_in(per["date"].implode()))["expected"].max() or 0
        ),
        "symbols_with_missing_bars": short["symbol"].n_unique(),
        "missing_bars": int(short["missing"].sum()),
    }
    details = short.select("date", "symbol", "missing", "bars", "expected", "volume")
    unit = "minute" if interval_minutes == 1 else f"{interval_minutes}-minute bar"
    if short.is_empty():
        text = f"the {counts['liquid_symbols']} liquid symbol(s) have every regular-session {unit}"
    else:
        text = (
            f"{counts['symbols_with_missing_bars']} of {counts['liquid_symbols']} liquid symbol(s) miss "
            f"{counts['missing_bars']:,} regular-session {unit}(s): {listed(details['symbol'].unique(maintain_order=True).to_list())}"
        )
    return make_findings("missing_regular_bars", short.is_empty(), text, counts, short["symbol"], details)


def universe_coverage(
    bars: pl.DataFrame,
    included: Sequence[str] | pl.Series,
    sessions: Sequence[dt.date] | None = None,
    *,
    min_fraction: float = 0.99,
) -> Findings:
    """At least ``min_fraction`` of the universe's ``included`` symbols have bars, on each session.

    The sessions judged are ``sessions`` (a session without any bar then has coverage 0) or, when
    None, the dates present in ``bars``.
    """
    universe = pl.DataFrame({"symbol": pl.Series(list(included), dtype=pl.String)}).unique()
    if sessions is None:
        dates = bars.select("date").unique()
    else:
        dates = pl.DataFrame({"date": sorted(set(sessions))}, schema={"date": pl.Date})
        bars = bars.filter(pl.col("date").is_in(dates["date"].implode()))
    present = bars.select("date", "symbol").unique().with_columns(present=True)
    grid = dates.join(universe, how="cross").join(present, on=["date", "symbol"], how="left")
    absent = grid.filter(pl.col("present").is_null())
    per_day = (
        grid.group_by("date")
        .agg(covered=pl.col("present").is_not_null().sum())
        .with_columns(fraction=pl.col("covered") / max(universe.height, 1))
        .sort("date")
    )
    worst = float(per_day["fraction"].min()) if per_day.height else 1.0
    passed = universe.height == 0 or worst >= min_fraction
    counts = {
        "universe_symbols": universe.height,
        "sessions_checked": per_day.height,
        "symbols_present_min": int(per_day["covered"].min() or 0) if per_day.height else 0,
        "coverage_min_pct": round(100 * worst, 2),
        "absent_symbol_sessions": absent.height,
    }
    extra = bars.select("symbol").unique().join(universe, on="symbol", how="anti")
    counts["symbols_outside_universe"] = extra.height
    details = sessions_by_symbol(absent, "absent_sessions", "absent")
    return _coverage_findings(passed, worst, universe.height, min_fraction, counts, absent["symbol"], details)


def universe_coverage_by_day(
    bars: pl.DataFrame, included: Mapping[dt.date, Sequence[str]], *, min_fraction: float = 0.99
) -> dict[dt.date, Findings]:
    """:func:`universe_coverage` of each session of ``included`` (its own universe) in one pass.

    Equal to ``{d: universe_coverage(bars of d, included[d], [d]) for d in included}`` (a test
    holds them equal), without a query per session: a backfill's 199 sessions in one join.
    """
    days = list(included)
    universe = pl.DataFrame(
        {"date": days, "symbol": [list(included[d]) for d in days]}, schema={"date": pl.Date, "symbol": pl.List(pl.String)}
    ).explode("symbol").drop_nulls("symbol").unique()
    present = (
        bars.filter(pl.col("date").is_in(pl.Series(days, dtype=pl.Date).implode()))
        .select("date", "symbol").unique().with_columns(present=True)
    )
    grid = universe.join(present, on=["date", "symbol"], how="left")
    sizes = dict(universe.group_by("date").len().iter_rows())
    covered = dict(grid.group_by("date").agg(pl.col("present").is_not_null().sum()).iter_rows())
    extra = dict(present.join(universe, on=["date", "symbol"], how="anti").group_by("date").len().iter_rows())
    absent = grid.filter(pl.col("present").is_null()).sort("symbol").partition_by("date", as_dict=True)
    no_absent = grid.clear().select("date", "symbol")
    no_details = sessions_by_symbol(no_absent, "absent_sessions", "absent")
    out = {}
    for day in days:  # the findings are per session; the numbers come from the frames above
        size, found = sizes.get(day, 0), absent.get((day,), no_absent)
        worst = covered[day] / max(size, 1) if size else 1.0
        counts = {
            "universe_symbols": size,
            "sessions_checked": 1 if size else 0,
            "symbols_present_min": covered.get(day, 0),
            "coverage_min_pct": round(100 * worst, 2),
            "absent_symbol_sessions": found.height,
            "symbols_outside_universe": extra.get(day, 0),
        }
        details = sessions_by_symbol(found, "absent_sessions", "absent") if found.height else no_details
        passed = size == 0 or worst >= min_fraction
        out[day] = _coverage_findings(passed, worst, size, min_fraction, counts, found["symbol"], details)
    return out


def _coverage_findings(
    passed: bool, worst: float, size: int, min_fraction: float, counts: dict, absent: pl.Series, details: pl.DataFrame
) -> Findings:
    if passed:
        text = f"{worst:.2%} of the {size} included symbol(s) have bars (at least {min_fraction:.0%})"
    else:
        text = (
            f"only {worst:.2%} of the {size} included symbol(s) have bars (at least {min_fraction:.0%} "
            f"expected); absent: {listed(details['symbol'].to_list())}"
        )
    return make_findings("universe_coverage", passed, text, counts, absent, details)
