"""Unadjusted stock splits in daily bars, and the signals they would fake.

A source that does not adjust history for splits shows a split as an overnight price step by the
split ratio (a 2:1 split halves the price) while the money traded stays ordinary (twice the
shares at half the price). Everything measured across that step is wrong: a base "breaks down",
EMAs "roll over", AVWAPs mix two price scales. So a bar is an **unadjusted split** when

- its open against the symbol's previous close is within ``tolerance_pct`` (in log terms) of a
  split's price step (``SPLIT_STEPS``: 2:1 -> 1/2, 3:2 -> 2/3, ... 50:1, reverse splits 1:2 -> 2,
  ...; the smallest moves the price by a third, so an ordinary gap is never one), and
- its dollar volume (close x volume) is at most ``max_dollar_volume_ratio`` times the mean of
  the previous ``volume_days`` sessions' (at least 5 of them): a split leaves the money traded
  alone, a real collapse of that size trades many times its usual dollars. With no earlier
  dollar volume to compare with (a new or silent symbol) the price step alone decides.

``detect`` finds them (vectorized over symbols, ``SPLIT_SCHEMA``); ``suppress_across`` drops the
signals whose history window straddles one: a signal on the symbol's bar ``j`` that reads its
last ``sessions`` bars is across a split on bar ``s`` when ``s <= j < s + sessions``. Signals
before the split, and those far enough after it, stay. The daily screeners (breakout,
EMA pullback, AVWAP reclaim) call it through ``screeners.common.finish(..., history=daily,
history_sessions=n)``, which logs each suppressed signal with its reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from screeners.indicators import ratio, sorted_by

# The split ratios looked for (new shares per old share), 3:2 up to 50:1 (Chipotle, 2024); any two
# are more than twice the tolerance apart, so a step matches one at most.
FACTORS = (1.5, 2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 25, 30, 40, 50)


def _label(new: float, old: float) -> str:
    return f"{new:g}:{old:g}" if float(new).is_integer() and float(old).is_integer() else f"{2 * new:g}:{2 * old:g}"


# label -> price step (open / previous close) the split leaves in unadjusted bars: a forward split
# '2:1' halves the price, a reverse split '1:2' doubles it
SPLIT_STEPS: dict[str, float] = {
    **{_label(f, 1): 1 / f for f in FACTORS},
    **{_label(1, f): float(f) for f in FACTORS},
}

SPLIT_SCHEMA = pl.Schema(
    {
        "symbol": pl.String,
        "date": pl.Date,  # the first session at the new price scale
        "prev_date": pl.Date,  # the session before it
        "split": pl.String,  # '2:1' (forward) or '1:2' (reverse), a key of SPLIT_STEPS
        "step": pl.Float64,  # open / previous close
        "dollar_volume_ratio": pl.Float64,  # the day's dollar volume / prior mean (null: no history)
    }
)


@dataclass(frozen=True)
class SplitParams:
    tolerance_pct: float = 4.0  # |log(step / split step)| <= log(1 + this %)
    max_dollar_volume_ratio: float = 5.0  # above this the step is a real move, not a split
    volume_days: int = 20  # sessions in the prior mean dollar volume


def detect(daily: pl.DataFrame, params: SplitParams = SplitParams()) -> pl.DataFrame:
    """Every unadjusted split in ``daily`` (bar contract: symbol, date, open, close, volume)."""
    return _detect(daily, params, 0).drop("until")


def _detect(daily: pl.DataFrame, params: SplitParams, sessions: int) -> pl.DataFrame:
    """``detect``'s rows plus ``until``: the date of the symbol's bar ``sessions`` bars after the
    split (null beyond its last bar), where a signal stops straddling it."""
    schema = pl.Schema({**SPLIT_SCHEMA, "until": pl.Date})
    if daily.is_empty():
        return pl.DataFrame(schema=schema)
    bars = sorted_by(daily.select("symbol", "date", "open", "close", "volume"), "symbol", "date")
    width = math.log1p(params.tolerance_pct / 100.0)
    near = min(SPLIT_STEPS.values(), key=lambda s: abs(math.log(s)))  # the smallest step looked for
    small = abs(math.log(near)) - width  # |log step| under this matches no split
    # One cheap pass finds the bars whose raw step may reach a split's size (bounds loosened by
    # far more than log's rounding, so no bar that passes the exact test below is missed); the
    # exact test and everything else run at those few rows only.
    raw = pl.col("open").cast(pl.Float64) / pl.col("close").cast(pl.Float64).shift(1)
    maybe = (raw >= math.exp(small) * (1 - 1e-9)) | (raw <= math.exp(-small) * (1 + 1e-9))
    pos = bars.select(maybe).to_series().arg_true().cast(pl.Int64)
    pos = pos.filter(pos >= 1)
    pos = pos.filter(bars["symbol"].gather(pos) == bars["symbol"].gather(pos - 1))  # not a symbol's first bar
    near_bars = pl.DataFrame({"open": bars["open"].gather(pos), "close": bars["close"].gather(pos - 1)})
    step = near_bars.select(ratio(pl.col("open"), pl.col("close"))).to_series()
    keep = ((step > 0) & (step.log().abs() >= small)).fill_null(False)
    pos, step = pos.filter(keep), step.filter(keep)
    if pos.is_empty():
        return pl.DataFrame(schema=schema)
    later = (pos + sessions).clip(upper_bound=bars.height - 1)
    in_symbol = (pos + sessions < bars.height) & (bars["symbol"].gather(later) == bars["symbol"].gather(pos))
    until = pl.when(in_symbol).then(bars["date"].gather(later))
    cand = bars[pos].with_columns(prev_date=bars["date"].gather(pos - 1), step=step, until=until)
    # running dollar volume over the whole column: the window sums by difference
    dollars = (pl.col("close").cast(pl.Float64) * pl.col("volume").cast(pl.Float64)).fill_null(0.0)
    cum = bars.select(dollars.cum_sum()).to_series()
    n = pos * 0  # the symbol's previous bars, up to the window (its bars are one run of rows)
    for k in range(1, params.volume_days + 1):
        n = n + ((pos - k >= 0) & (bars["symbol"].gather((pos - k).clip(lower_bound=0)) == cand["symbol"]))
    before = cum.gather(pos - 1) - cum.gather((pos - 1 - n).clip(lower_bound=0)).zip_with(
        pos - 1 - n >= 0, pl.Series([0.0] * cand.height)
    )
    cand = cand.with_columns(
        _day=cum.gather(pos) - cum.gather(pos - 1),
        _mean=pl.when(n >= 5).then(before / n),
    ).with_columns(dollar_volume_ratio=ratio("_day", "_mean"))
    log_step = pl.col("step").log()
    label = pl.coalesce(
        pl.when((log_step - math.log(step)).abs() <= width).then(pl.lit(name))
        for name, step in SPLIT_STEPS.items()
    )
    quiet = (pl.col("dollar_volume_ratio") <= params.max_dollar_volume_ratio).fill_null(True)
    found = cand.with_columns(split=label).filter(pl.col("split").is_not_null() & quiet)
    return found.select(pl.col(c).cast(t) for c, t in schema.items())


def suppress_across(
    signals: pl.DataFrame, daily: pl.DataFrame, sessions: int, params: SplitParams = SplitParams()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(kept, suppressed)``: ``signals`` (with ``symbol`` and ``date``) split by whether the
    ``sessions`` daily bars up to the signal's (its own included) contain an unadjusted split of
    the symbol. ``suppressed`` has the signal's columns plus ``reason`` ('2:1 on 2025-06-02: open
    0.501x the previous close on 1.1x the usual dollar volume'; the latest split it straddles)."""
    empty = signals.clear().with_columns(reason=pl.lit(None, pl.String))
    if signals.is_empty() or daily.is_empty() or sessions < 1:
        return signals, empty
    # The split window ends at the symbol's bar `sessions` bars after the split (exclusive);
    # beyond the frame it stays open.
    found = _detect(daily, params, sessions)
    if found.is_empty():
        return signals, empty
    windows = found.select(
        "symbol",
        split_date="date",
        until="until",
        reason=pl.format(
            "{} on {}: open {}x the previous close on {} the usual dollar volume",
            pl.col("split"),
            pl.col("date").cast(pl.String),
            pl.col("step").round(3).cast(pl.String),
            pl.coalesce(pl.col("dollar_volume_ratio").round(1).cast(pl.String) + "x", pl.lit("unknown")),
        ),
    )
    rows = signals.with_row_index("_signal")
    across = rows.join(windows, on="symbol", how="inner").filter(
        (pl.col("split_date") <= pl.col("date"))
        & (pl.col("until").is_null() | (pl.col("date") < pl.col("until")))
    )
    # one reason per signal: the latest split it straddles
    reasons = across.sort("_signal", "split_date").unique("_signal", keep="last").select("_signal", "reason")
    marked = rows.join(reasons, on="_signal", how="left", maintain_order="left")
    kept = marked.filter(pl.col("reason").is_null()).drop("_signal", "reason")
    return kept, marked.filter(pl.col("reason").is_not_null()).drop("_signal")
