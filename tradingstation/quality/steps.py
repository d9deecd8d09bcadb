"""Steps between consecutive daily bars of a symbol: a split or a bad print (pure polars, no Dagster).

- :func:`step_table` — each daily bar with its symbol's previous bar and the price and volume steps.
- :func:`price_volume_steps` — price steps > 50 % on their own, and price steps > 25 % that come
  with a volume step > 300 % (see there why a volume step alone is no finding);
  :func:`price_volume_steps_by_day` the same for many sessions in one pass (a backfill's check).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from tradingstation.quality.findings import Findings, judge_by_day, listed, make_findings


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
) -> Findings:
    """Price steps above ``max_price_step`` (50 %), and volume steps above ``max_volume_step``
    (300 %) on a bar whose price also stepped more than ``price_step_with_volume`` (25 %).

    Between a symbol's bar and its previous bar (see :func:`step_table`). Only bars on
    ``sessions`` are judged (all when None); earlier rows serve as the previous bar. Many sessions
    judged one by one: :func:`price_volume_steps_by_day`.

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
    steps = step_table(daily)
    if sessions is not None:
        steps = steps.filter(pl.col("date").is_in(pl.Series(list(sessions), dtype=pl.Date).implode()))
    limits = (max_price_step, max_volume_step, price_step_with_volume)
    big_price, big_volume = _step_flags(*limits)
    flagged = _flagged(steps, *limits)
    counts = {
        "bars_checked": steps.height,
        "symbols_checked": steps["symbol"].n_unique(),
        "price_steps": int(flagged.select(big_price.fill_null(False).sum()).item()),
        "volume_steps": int(flagged.select(big_volume.fill_null(False).sum()).item()),
    }
    return _findings(counts, flagged, *limits)


def price_volume_steps_by_day(
    steps: pl.DataFrame,
    days: Sequence[dt.date],
    *,
    max_price_step: float = MAX_PRICE_STEP,
    max_volume_step: float = MAX_VOLUME_STEP,
    price_step_with_volume: float = PRICE_STEP_WITH_VOLUME,
) -> dict[dt.date, Findings]:
    """:func:`price_volume_steps` of each of ``days`` from one :func:`step_table` (a backfill's check),
    in one pass: the same findings as judging each day on its own."""
    limits = (max_price_step, max_volume_step, price_step_with_volume)
    big_price, big_volume = _step_flags(*limits)
    per_day = steps.group_by("date").agg(
        bars_checked=pl.len(),
        symbols_checked=pl.col("symbol").n_unique(),
        price_steps=big_price.fill_null(False).sum(),
        volume_steps=big_volume.fill_null(False).sum(),
    )
    flagged = _flagged(steps, *limits)
    return judge_by_day(per_day, flagged, days, lambda counts, found: _findings(counts, found, *limits))


def _step_flags(max_price_step: float, max_volume_step: float, price_step_with_volume: float) -> tuple[pl.Expr, pl.Expr]:
    big_price = pl.col("price_step") > max_price_step
    big_volume = (pl.col("volume_step") > max_volume_step) & (pl.col("price_step") > price_step_with_volume)
    return big_price, big_volume


def _flagged(steps: pl.DataFrame, *limits: float) -> pl.DataFrame:
    """The steps that are findings, with their ``kind`` (price, volume or both), in date, symbol order."""
    big_price, big_volume = _step_flags(*limits)
    return (
        steps.filter((big_price | big_volume).fill_null(False))
        .with_columns(
            kind=pl.concat_str(
                [pl.when(big_price).then(pl.lit("price")), pl.when(big_volume).then(pl.lit("volume"))],
                separator="+",
                ignore_nulls=True,
            )
        )
        .sort("date", "symbol", maintain_order=True)
    )


def _findings(
    counts: dict[str, int], flagged: pl.DataFrame, max_price_step: float, max_volume_step: float,
    price_step_with_volume: float,
) -> Findings:
    """The findings of one set of steps: its ``counts`` and its ``flagged`` steps."""
    details = flagged.select(
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
    if counts["bars_checked"] == 0:
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
            f"(split or bad print?): {listed(sorted(set(flagged['symbol'])))}"
        )
    return make_findings("price_volume_steps", flagged.is_empty(), text, counts, flagged["symbol"], details)
