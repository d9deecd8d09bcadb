"""The structural bar contract on bar frames: pure, vectorized polars (no Dagster, no loop per symbol).

- :func:`bar_integrity` — OHLC order, positive finite prices, volume >= 0, no nulls, one row per
  (symbol, ts), the bar on its own session's New York date. Bars come as they come out of the lake
  (``date`` column included). The assets quarantine such rows before writing, so a finding here
  means the lake itself is corrupt. :func:`bar_integrity_by_day` judges many sessions in one pass
  (a backfill's check), each with the findings it would have on its own.
- :func:`exclude_broken_bars` — bars loaded for downstream work without the rows that break it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from tradingstation.core import calendar
from tradingstation.quality.findings import Findings, judge_by_day, listed, make_findings

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


def _checks(columns: Sequence[str]) -> dict[str, pl.Expr]:
    """The violations a frame with ``columns`` can be judged on (the session date needs ``date``)."""
    return {k: v for k, v in _VIOLATIONS.items() if k != "ts_outside_its_session_date" or "date" in columns}


def _details(flagged: pl.DataFrame, checks: Sequence[str], by: Sequence[str] = ()) -> pl.DataFrame:
    """The offending rows, each with the violations it breaks, in ``by``, symbol, ts order."""
    problem = pl.concat_str([pl.when(pl.col(k)).then(pl.lit(k)) for k in checks], separator=", ", ignore_nulls=True)
    keep = [c for c in ("date", "symbol", "ts", *_PRICES, "volume") if c in flagged.columns]
    return flagged.select(*keep, problem=problem).sort(*by, "symbol", "ts", maintain_order=True)


def _findings(counts: dict[str, int], checks: Sequence[str], details: pl.DataFrame) -> Findings:
    """The findings of one frame: its ``counts`` and the ``details`` of its offending rows."""
    offenders = details["symbol"].drop_nulls()
    if details.is_empty():
        text = f"{counts['rows_checked']:,} bar(s) of {counts['symbols_checked']:,} symbol(s) keep the bar contract"
    else:
        kinds = ", ".join(f"{k} {counts[k]:,}" for k in checks if counts[k])
        text = (
            f"{details.height:,} of {counts['rows_checked']:,} bar(s) break the bar contract ({kinds}) "
            f"in {offenders.n_unique()} symbol(s): {listed(sorted(set(offenders)))}"
        )
    return make_findings("bar_integrity", details.is_empty(), text, counts, offenders, details)


def bar_integrity(bars: pl.DataFrame) -> Findings:
    """The structural bar contract on every row; any violation fails.

    low <= open, close <= high (and low <= high); prices finite and > 0; volume >= 0; no nulls;
    one row per (symbol, ts) (every row of a duplicate group counts); each bar's New York date is
    its ``date`` (the partition it sits in).
    """
    checks = _checks(bars.columns)
    flagged = bars.with_columns(**{k: v.fill_null(False) for k, v in checks.items()})
    counts = flagged.select(pl.len().alias("rows_checked"), *(pl.col(k).sum() for k in checks)).row(
        0, named=True
    )
    counts = {k: int(v) for k, v in counts.items()}
    counts["symbols_checked"] = bars["symbol"].n_unique()
    bad = flagged.filter(pl.any_horizontal(*checks))
    counts["bad_rows"] = bad.height
    return _findings(counts, list(checks), _details(bad, list(checks)))


def bar_integrity_by_day(bars: pl.DataFrame, days: Sequence[dt.date]) -> dict[dt.date, Findings]:
    """:func:`bar_integrity` of each day's rows of ``bars`` (which carry ``date``), in one pass: the
    same findings as judging each day's rows on its own (duplicates are looked for within a day)."""
    checks = _checks(bars.columns)
    checks["duplicate_symbol_ts"] = checks["duplicate_symbol_ts"].over("date")
    names = list(checks)
    flagged = bars.with_columns(**{k: v.fill_null(False) for k, v in checks.items()})
    per_day = flagged.group_by("date").agg(
        pl.len().alias("rows_checked"),
        *(pl.col(k).sum() for k in names),
        pl.col("symbol").n_unique().alias("symbols_checked"),
        pl.any_horizontal(*names).sum().alias("bad_rows"),
    )
    details = _details(flagged.filter(pl.any_horizontal(*names)), names, by=["date"])
    return judge_by_day(per_day, details, days, lambda counts, found: _findings(counts, names, found))


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
    return bars.filter(~pl.any_horizontal(c.fill_null(False) for c in _checks(bars.columns).values())), findings
