"""AVWAP reclaim: a daily close back above (long) or below (short) an anchored VWAP.

For each session in ``anchors`` (the output of ``avwap_anchors.find_anchors``), a long fires when
the previous close was below an anchor's AVWAP (anchored VWAP through the previous bar) and the
close is above it (AVWAP through the signal bar); a short is the mirror (close lost the AVWAP).
Anchors on the signal bar itself cannot be reclaimed. Score 0-10 = anchor type (up to 3:
highest_high / lowest_low / earnings 3, gap_up / gap_down 2.5, swing_high / swing_low 2,
volume_spike 1.5) + relative volume of the signal bar against its prior ``rvol_days`` average (up
to 3: ``3 × clip((rvol - 0.5) / 1.5, 0, 1)``, full at 2×) + not extended (up to 1.5: full while
the close is within ``max_extension_atr`` ATRs of the AVWAP, falling linearly to 0 at twice
that) + trend (1.5 when the close is on the side's side of the ``trend_sma``-day SMA: above for
longs, below for shorts) + confluence (0.5 per further distinct anchor date reclaimed on the same
bar, at most 1). One signal per symbol, session and side, on the best-scoring anchor; signals
below ``min_score`` or under ``min_price`` are dropped. Entry = the close; stop = the AVWAP minus
(long) / plus (short) ``stop_atr`` × ATR(``atr_period``), or the bar's low / high while ATR is
not yet defined; target = entry ± ``reward_risk`` × risk. A signal within ``max(lookback_days,
trend_sma) + 1`` sessions after an unadjusted split (``screeners.splits``) is dropped, and logged.

Inputs: ``daily`` bars (bar contract, enough history for the anchors, the SMA and ATR) and
``anchors`` from ``find_anchors`` for the session(s) to screen; the CLI (``screen_daily``)
computes the anchors as of the latest session from ``lookback_days + 50`` daily sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from screeners.avwap_anchors import AnchorParams, anchored_avwap, cumulative_query, find_anchors
from screeners.common import finish, fmt_pct, fmt_x, session_close_ts
from screeners.indicators import atr, relative_volume, sma

TYPE_WEIGHT = {
    "highest_high": 3.0,
    "lowest_low": 3.0,
    "earnings": 3.0,
    "gap_up": 2.5,
    "gap_down": 2.5,
    "swing_high": 2.0,
    "swing_low": 2.0,
    "volume_spike": 1.5,
}

DETAIL: dict[str, pl.DataType] = {
    "anchor_date": pl.Date,  # the best reclaimed anchor's bar
    "anchor_type": pl.String,  # its type (see avwap_anchors.ANCHOR_TYPES)
    "avwap": pl.Float64,  # its AVWAP through the signal bar
    "distance_pct": pl.Float64,  # (close / avwap - 1) * 100
    "bars_since": pl.Int64,  # bars from the anchor to the signal bar
    "rvol": pl.Float64,  # signal bar's volume / prior rvol_days average
    "anchors_reclaimed": pl.Int64,  # distinct anchor dates crossed on the same bar and side
}


@dataclass(frozen=True)
class AvwapReclaimParams:
    min_score: float = 7.0  # runbook --min-score
    lookback_days: int = 30  # extra: anchor lookback the CLI passes to find_anchors
    stop_atr: float = 0.5  # extra: stop distance beyond the AVWAP, in ATRs
    reward_risk: float = 2.0  # extra: target = entry ± reward_risk × risk
    atr_period: int = 14  # extra
    rvol_days: int = 20  # extra: relative-volume average (day excluded)
    trend_sma: int = 50  # extra: trend filter SMA period
    max_extension_atr: float = 1.0  # extra: close-to-AVWAP distance still scored as "not extended"
    min_price: float = 5.0  # extra: drop signals closing below this


def _bars(daily: pl.DataFrame, params: AvwapReclaimParams) -> pl.DataFrame:
    """Daily bars with per-symbol cumulative sums, the previous bar's, and the indicators."""
    idx = pl.col("idx")  # the bar's number in its symbol: masks whole-column lags at symbol starts

    def prev(column: str) -> pl.Expr:
        return pl.when(idx >= 1).then(pl.col(column).shift(1))

    # one lazy query (repeated subexpressions computed once); the per-symbol windows run beside
    # the cumulative sums, in the step that numbers the bars
    per_symbol = {
        "atr": atr("high", "low", "close", params.atr_period).over("_sid"),
        "sma": sma("close", params.trend_sma).over("_sid"),  # a float rolling sum: per symbol, to stay exact
    }
    bars = cumulative_query(daily, **per_symbol).with_columns(
        prev_close=prev("close"),
        prev_pv=prev("cum_pv"),
        prev_v=prev("cum_v"),
        rvol=pl.when(idx >= params.rvol_days).then(relative_volume("volume", params.rvol_days)),  # exact sums
    )
    # the columns in their usual order (the indicators after the previous bar's values)
    return bars.select(pl.exclude(*per_symbol, "rvol"), *per_symbol, "rvol").collect(engine="in-memory")


def screen(
    daily: pl.DataFrame, anchors: pl.DataFrame, params: AvwapReclaimParams = AvwapReclaimParams()
) -> pl.DataFrame:
    """Reclaim signals for every session in ``anchors`` (no look-ahead: anchors and bars up to it)."""
    if daily.is_empty() or anchors.is_empty():
        return finish(pl.DataFrame(), "avwap_reclaim", DETAIL)
    bars = _bars(daily, params)
    # Only the bars of the screened sessions and of the anchors take part: join those (the
    # screened sessions' few bars gathered by position: a filter would copy every column first).
    screened = bars.select(pl.col("date").is_in(anchors["date"].unique().implode())).to_series().arg_true()
    anchor_sums = bars.select(
        "symbol", anchor_date="date", anchor_idx="idx", a_pv="pre_pv", a_v="pre_v"
    ).filter(pl.col("anchor_date").is_in(anchors["anchor_date"].unique().implode()))
    pairs = (
        anchors.select("date", "symbol", "anchor_date", "anchor_type")
        .unique()
        .join(bars[screened], on=["symbol", "date"])
        .join(anchor_sums, on=["symbol", "anchor_date"])
        .filter(pl.col("anchor_idx") < pl.col("idx"))
        .with_columns(
            avwap=anchored_avwap(pl.col("cum_pv"), pl.col("cum_v"), pl.col("a_pv"), pl.col("a_v")),
            prev_avwap=anchored_avwap(pl.col("prev_pv"), pl.col("prev_v"), pl.col("a_pv"), pl.col("a_v")),
            bars_since=pl.col("idx") - pl.col("anchor_idx"),
        )
        .with_columns(
            side=pl.when((pl.col("prev_close") < pl.col("prev_avwap")) & (pl.col("close") > pl.col("avwap")))
            .then(pl.lit("long"))
            .when((pl.col("prev_close") > pl.col("prev_avwap")) & (pl.col("close") < pl.col("avwap")))
            .then(pl.lit("short"))
        )
        .filter(pl.col("side").is_not_null())
    )
    m = params.max_extension_atr
    ext_atr = (pl.col("close") - pl.col("avwap")).abs() / pl.col("atr")
    is_long = pl.col("side") == "long"
    group = ["date", "symbol", "side"]
    pairs = pairs.with_columns(
        pair_pts=pl.col("anchor_type").replace_strict(TYPE_WEIGHT, default=1.0, return_dtype=pl.Float64)
        + (1.5 * ((2 * m - ext_atr) / m).clip(0.0, 1.0)).fill_null(0.0).fill_nan(0.0),
        anchors_reclaimed=pl.col("anchor_date").n_unique().over(group).cast(pl.Int64),
    )
    # anchor_type breaks ties (a bar that is both a swing high and a swing low), so the pick is stable
    order = [*group, "pair_pts", "anchor_date", "anchor_type"]
    best = pairs.sort(order, descending=[False, False, False, True, True, False]).unique(
        subset=group, keep="first", maintain_order=True
    )
    above, below = pl.col("close") > pl.col("sma"), pl.col("close") < pl.col("sma")
    trend_ok = pl.when(is_long).then(above).otherwise(below)
    best = best.with_columns(
        rvol_pts=(3.0 * ((pl.col("rvol") - 0.5) / 1.5).clip(0.0, 1.0)).fill_null(0.0),
        trend_pts=pl.when(trend_ok.fill_null(False)).then(1.5).otherwise(0.0),
        conf_pts=(0.5 * (pl.col("anchors_reclaimed") - 1)).clip(0.0, 1.0),
        distance_pct=(pl.col("close") / pl.col("avwap") - 1.0) * 100.0,
        entry=pl.col("close"),
        stop=pl.when(is_long)
        .then(pl.coalesce(pl.col("avwap") - params.stop_atr * pl.col("atr"), pl.col("low")))
        .otherwise(pl.coalesce(pl.col("avwap") + params.stop_atr * pl.col("atr"), pl.col("high"))),
    ).with_columns(
        score=pl.col("pair_pts") + pl.col("rvol_pts") + pl.col("trend_pts") + pl.col("conf_pts"),
        risk=(pl.col("entry") - pl.col("stop")).abs(),
    )
    sma_txt = f"{params.trend_sma}-SMA"
    best = best.filter(
        pl.col("score") >= params.min_score,
        pl.col("close") >= params.min_price,
        pl.when(is_long).then(pl.col("stop") < pl.col("entry")).otherwise(pl.col("stop") > pl.col("entry")),
    ).with_columns(
        target=pl.when(is_long)
        .then(pl.col("entry") + params.reward_risk * pl.col("risk"))
        .otherwise(pl.col("entry") - params.reward_risk * pl.col("risk")),
        reasons=pl.concat_str(
            pl.when(is_long).then(pl.lit("reclaimed the ")).otherwise(pl.lit("lost the ")),
            pl.col("anchor_type"),
            pl.lit(" AVWAP from "),
            pl.col("anchor_date").cast(pl.String),
            pl.lit(" ("),
            pl.col("bars_since").cast(pl.String),
            pl.lit(" bars) at "),
            pl.col("avwap").round(2).cast(pl.String),
            pl.lit(": close "),
            fmt_pct(pl.col("distance_pct")),
            pl.lit(" vs it on "),
            pl.coalesce(fmt_x(pl.col("rvol")), pl.lit("n/a")),
            pl.lit(" volume, "),
            pl.when(pl.col("sma").is_null())
            .then(pl.lit(f"{sma_txt} n/a"))
            .when(pl.col("close") > pl.col("sma"))
            .then(pl.lit(f"above the {sma_txt}"))
            .otherwise(pl.lit(f"below the {sma_txt}")),
            pl.lit(", "),
            pl.col("anchors_reclaimed").cast(pl.String),
            pl.when(pl.col("anchors_reclaimed") == 1).then(pl.lit(" anchor")).otherwise(pl.lit(" anchors")),
            pl.when(is_long).then(pl.lit(" reclaimed")).otherwise(pl.lit(" lost")),
        ),
    )
    # anchors, the AVWAPs from them and the trend SMA read this many bars: a split in there mixes scales
    window = max(params.lookback_days, params.trend_sma) + 1
    out = session_close_ts(best)  # a daily signal is known at the close
    return finish(out, "avwap_reclaim", DETAIL, history=daily, history_sessions=window)


def screen_daily(daily: pl.DataFrame, params: AvwapReclaimParams = AvwapReclaimParams()) -> pl.DataFrame:
    """CLI wrapper: anchors as of the latest session in ``daily`` (default anchor rules with the
    params' ``lookback_days``), then ``screen``."""
    anchors = find_anchors(daily, AnchorParams(lookback_days=params.lookback_days))
    return screen(daily, anchors, params)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screeners.avwap_reclaim``: its registry spec run as a command."""
    from tradingstation.cli.screen import run_screener  # the one upward call: the CLI layer runs it

    return run_screener("avwap_reclaim", argv)


if __name__ == "__main__":
    raise SystemExit(main())
