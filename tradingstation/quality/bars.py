"""Data-quality checks on bar frames: pure, vectorized polars (no Dagster, no loop per symbol).

Each check takes bars as they come out of the lake (``date`` column included) and returns a
:class:`Findings`: passed or not, counts, the offending symbols (at most 50 named), a sentence
saying what was found, and a small ``details`` frame (one row per problem, at most 50) for the UI.

- :func:`bar_integrity` — the structural bar contract (OHLC order, positive finite prices,
  volume >= 0, one row per (symbol, ts), the bar on its own session's New York date). The assets
  quarantine such rows before writing, so a finding here means the lake itself is corrupt.
- :func:`missing_sessions` — sessions a symbol skips inside a window of the calendar (the rule
  itself, :func:`skipped_sessions`, is shared with the lake's gap report).
- :func:`missing_regular_bars` — regular-session minutes (or 30-minute bars) missing for the
  liquid symbols, against the session's real open and close (early closes honoured).
- :func:`price_volume_steps` — price steps > 50 % between consecutive daily bars of a symbol, and
  price steps > 25 % that come with a volume step > 300 % (a split or a bad print; see there why
  a volume step alone is no finding).
- :func:`universe_coverage` — the share of the universe's included symbols present per session.

Longer than ~300 lines: every bar rule (integrity, gaps, minutes, steps, coverage) with its Findings; a candidate for a split by rule family later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import polars as pl

from tradingstation.core import calendar

MAX_LISTED = 50  # offending symbols named, detail rows kept
GAP_WINDOW = 20  # sessions looked back by the gap check, the checked one included


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


def _findings(
    check: str,
    passed: bool,
    description: str,
    counts: dict,
    offenders: pl.Series | Iterable[str],
    details: pl.DataFrame,
) -> Findings:
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


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:10])
    return shown + (f" and {len(names) - 10} more" if len(names) > 10 else "")


# --- structural: the bar contract -------------------------------------------------------------

_PRICES = ("open", "high", "low", "close")
_VIOLATIONS: dict[str, pl.Expr] = {
    "null_values": pl.any_horizontal(pl.col(c).is_null() for c in ("symbol", "ts", *_PRICES, "volume")),
    "non_positive_or_non_finite_price": pl.any_horizontal(
        (pl.col(c) <= 0) | ~pl.col(c).is_finite() for c in _PRICES
    ),
    "negative_volume": pl.col("volume") < 0,
    "ohlc_out_of_order": (pl.col("low") > pl.min_horizontal("open", "close"))
    | (pl.col("high") < pl.max_horizontal("open", "close"))
    | (pl.col("low") > pl.col("high")),
    "duplicate_symbol_ts": pl.struct("symbol", "ts").is_duplicated(),
    "ts_outside_its_session_date": pl.col("ts").dt.convert_time_zone(calendar.NY_TZ).dt.date()
    != pl.col("date"),
}


def bar_integrity(bars: pl.DataFrame) -> Findings:
    """The structural bar contract on every row; any violation fails.

    low <= open, close <= high (and low <= high); prices finite and > 0; volume >= 0; no nulls;
    one row per (symbol, ts) (every row of a duplicate group counts); each bar's New York date is
    its ``date`` (the partition it sits in).
    """
    checks = {
        k: v for k, v in _VIOLATIONS.items() if k != "ts_outside_its_session_date" or "date" in bars.columns
    }
    flagged = bars.with_columns(**{k: v.fill_null(False) for k, v in checks.items()})
    counts = flagged.select(pl.len().alias("rows_checked"), *(pl.col(k).sum() for k in checks)).row(
        0, named=True
    )
    counts = {k: int(v) for k, v in counts.items()}
    counts["symbols_checked"] = bars["symbol"].n_unique()
    bad = flagged.filter(pl.any_horizontal(*checks))
    counts["bad_rows"] = bad.height
    problem = pl.concat_str(
        [pl.when(pl.col(k)).then(pl.lit(k)) for k in checks], separator=", ", ignore_nulls=True
    )
    keep = [c for c in ("date", "symbol", "ts", *_PRICES, "volume") if c in bars.columns]
    details = bad.select(*keep, problem=problem).sort("symbol", "ts")
    offenders = bad["symbol"].drop_nulls()
    if bad.is_empty():
        text = f"{counts['rows_checked']:,} bar(s) of {counts['symbols_checked']:,} symbol(s) keep the bar contract"
    else:
        kinds = ", ".join(f"{k} {counts[k]:,}" for k in checks if counts[k])
        text = (
            f"{bad.height:,} of {counts['rows_checked']:,} bar(s) break the bar contract ({kinds}) "
            f"in {offenders.n_unique()} symbol(s): {_listed(sorted(set(offenders)))}"
        )
    return _findings("bar_integrity", bad.is_empty(), text, counts, offenders, details)


MAX_EXCLUDED_SHARE = 0.05  # above 5% of the loaded bars broken, the data is not worth screening


def exclude_broken_bars(bars: pl.DataFrame) -> tuple[pl.DataFrame, Findings]:
    """``bars`` without the rows that break the contract, and the findings that name them.

    For bars loaded from the lake for downstream work (screeners, anchors): a file edited or
    damaged after it was written never feeds a signal. The caller reports the findings, and fails
    when more than ``MAX_EXCLUDED_SHARE`` of the rows had to go.
    """
    findings = bar_integrity(bars)
    if findings.passed:
        return bars, findings
    checks = [v for k, v in _VIOLATIONS.items() if k != "ts_outside_its_session_date" or "date" in bars.columns]
    return bars.filter(~pl.any_horizontal(c.fill_null(False) for c in checks)), findings


# --- gaps: sessions a symbol skips ------------------------------------------------------------


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
            f"and last bar in {lo} .. {hi}: {_listed(details['symbol'].to_list())}"
        )
    return _findings("missing_sessions", details.is_empty(), text, counts, details["symbol"], details)


# --- regular-session bars of the liquid symbols -----------------------------------------------


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
        return _findings("missing_regular_bars", True, "no bars to check", counts, [], pl.DataFrame())
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
            f"{counts['missing_bars']:,} regular-session {unit}(s): {_listed(details['symbol'].unique(maintain_order=True).to_list())}"
        )
    return _findings("missing_regular_bars", short.is_empty(), text, counts, short["symbol"], details)


# --- steps between consecutive daily bars -----------------------------------------------------


def step_table(daily: pl.DataFrame) -> pl.DataFrame:
    """Each daily bar with its symbol's previous bar: ``prev_close``, ``prev_volume``, ``price_step``, ``volume_step``.

    The price step is the larger of the open's and the close's change against the previous close
    (a split or a bad print moves both or one); the volume step is the volume against the previous
    volume, minus one (300 % = 4x the shares). A symbol's first bar has no step and is left out.
    """
    prev_close, prev_volume = (
        pl.col("close").shift(1).over("symbol"),
        pl.col("volume").shift(1).over("symbol"),
    )
    return (
        daily.sort("symbol", "ts")
        .with_columns(
            prev_close=prev_close,
            prev_volume=prev_volume,
            price_step=pl.max_horizontal(
                (pl.col("open") / prev_close - 1).abs(), (pl.col("close") / prev_close - 1).abs()
            ),
            volume_step=pl.when(prev_volume > 0).then(pl.col("volume") / prev_volume - 1),
        )
        .filter(pl.col("prev_close").is_not_null())
    )


MAX_PRICE_STEP = 0.5  # 50 %: open or close against the previous close, on its own
MAX_VOLUME_STEP = 3.0  # 300 %: 4x the previous session's shares ...
PRICE_STEP_WITH_VOLUME = 0.25  # ... counts only on a bar whose price also stepped more than 25 %


def price_volume_steps(
    daily: pl.DataFrame,
    sessions: Sequence[dt.date] | None = None,
    *,
    max_price_step: float = MAX_PRICE_STEP,
    max_volume_step: float = MAX_VOLUME_STEP,
    price_step_with_volume: float = PRICE_STEP_WITH_VOLUME,
    steps: pl.DataFrame | None = None,
) -> Findings:
    """Price steps above ``max_price_step`` (50 %), and volume steps above ``max_volume_step``
    (300 %) on a bar whose price also stepped more than ``price_step_with_volume`` (25 %).

    Between a symbol's bar and its previous bar (see :func:`step_table`). Only bars on
    ``sessions`` are judged (all when None); earlier rows serve as the previous bar. ``steps``
    (a :func:`step_table` computed once for many sessions) may stand in for ``daily``.

    Why a volume step alone is no finding: four times yesterday's shares is ordinary market life
    (earnings, index rebalancing, news). On the real daily bars of the test suite (AAPL, GOOG,
    INTC, SPY: 11,700 steps) 21 bars (0.18 %) step over 300 % in volume, the largest to 71x the
    shares on a 3 % price move; over a 500-symbol universe that is about one bar every session, and on the
    synthetic source 194 of 199 sessions failed: a warning that fires daily means nothing. What
    corrupts the screeners moves the *price*: an unadjusted split (a 4:1 split is -75 % in price
    and +300 % in shares), a reverse split, a bad print. So a price step over 50 % is a finding
    on its own, and the volume step qualifies a smaller one: over 25 % in price *and* over 300 %
    in shares is a move the source may not have adjusted, or news to look at before trading the
    symbol. On the same real bars no bar does both (the largest price step with 4x volume, INTC
    on 2000-09-22, was 24 % on 5.4x the shares), nor does any of 99,692 synthetic steps.
    """
    steps = step_table(daily) if steps is None else steps
    if sessions is not None:
        steps = steps.filter(pl.col("date").is_in(pl.Series(list(sessions), dtype=pl.Date).implode()))
    big_price = pl.col("price_step") > max_price_step
    big_volume = (pl.col("volume_step") > max_volume_step) & (pl.col("price_step") > price_step_with_volume)
    flagged = steps.filter((big_price | big_volume).fill_null(False)).with_columns(
        kind=pl.concat_str(
            [pl.when(big_price).then(pl.lit("price")), pl.when(big_volume).then(pl.lit("volume"))],
            separator="+",
            ignore_nulls=True,
        )
    )
    counts = {
        "bars_checked": steps.height,
        "symbols_checked": steps["symbol"].n_unique(),
        "price_steps": int(flagged.select(big_price.fill_null(False).sum()).item()),
        "volume_steps": int(flagged.select(big_volume.fill_null(False).sum()).item()),
    }
    details = flagged.sort("date", "symbol").select(
        "date",
        "symbol",
        "kind",
        "prev_close",
        "open",
        "close",
        pl.col("price_step").round(3),
        "prev_volume",
        "volume",
        pl.col("volume_step").round(2),
    )
    if steps.is_empty():
        text = "no bar has a previous bar to compare with (is the history of these sessions in the lake?)"
    elif flagged.is_empty():
        text = (
            f"no price step > {max_price_step:.0%}, nor > {price_step_with_volume:.0%} with a volume step > "
            f"{max_volume_step:.0%}, in {counts['bars_checked']:,} bar(s)"
        )
    else:
        text = (
            f"{counts['price_steps']} price step(s) > {max_price_step:.0%} and {counts['volume_steps']} volume "
            f"step(s) > {max_volume_step:.0%} with a price step > {price_step_with_volume:.0%} "
            f"(split or bad print?): {_listed(sorted(set(flagged['symbol'])))}"
        )
    return _findings("price_volume_steps", flagged.is_empty(), text, counts, flagged["symbol"], details)


# --- coverage of the universe -----------------------------------------------------------------


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
    details = (
        absent.group_by("symbol")
        .agg(absent_sessions=pl.col("date").sort().cast(pl.String).str.join(", "), absent=pl.len())
        .sort(["absent", "symbol"], descending=[True, False])
    )
    if passed:
        text = (
            f"{worst:.2%} of the {universe.height} included symbol(s) have bars (at least {min_fraction:.0%})"
        )
    else:
        text = (
            f"only {worst:.2%} of the {universe.height} included symbol(s) have bars (at least {min_fraction:.0%} "
            f"expected); absent: {_listed(details['symbol'].to_list())}"
        )
    return _findings("universe_coverage", passed, text, counts, absent["symbol"], details)
