"""Exhaustion reversal: an extended intraday move climaxes on heavy volume and turns.

On regular-session 30-minute bars a short fires on the first bar of a session (per symbol and
side) where: the session high so far is at least ``min_extension_atr`` daily ATRs above the
session open (ATR(``atr_period``) as of the prior session); the session high was set by this
bar or the one before; this bar or the one before traded at least ``volume_spike_threshold`` x
the normal volume for its time of day (the mean of the same 30-minute slot over the previous
``volume_sessions`` sessions); and this bar reverses - it closes in the lower third of its range
or below the prior bar's low. A long is the mirror after a down move (session low, upper third
or above the prior high). Entry is the reversal bar's close, the stop ``stop_atr`` ATRs beyond
the session extreme, the target the session VWAP through the bar, pushed out to at least
``min_reward_risk`` x the risk when the VWAP is closer than that (or on the wrong side). Score
0-10: extension (3, full at 3 ATRs), volume spike (3, full at 2 x the threshold), where the
reversal bar closed in its range (2), an engulfing close beyond the prior bar (1) and room to
the VWAP (1, full at 2 R). The signal's ``ts`` is the end of the reversal bar, when it is known.

Inputs: ``intraday_30m`` bars (about 10 sessions back for the normal volume; only
``session == 'regular'`` bars are used) and optionally ``daily`` bars for the ATR (without
them the ATR comes from the 30m bars aggregated per session, which then needs
``atr_period`` + 1 sessions).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from screeners import cli, common
from screeners import indicators as ind

KEY = ["symbol", "date"]


@dataclass(frozen=True)
class ExhaustionReversalParams:
    volume_spike_threshold: float = 2.0  # runbook --volume-spike-threshold
    min_extension_atr: float = 1.0  # session extreme vs the session open, in daily ATRs
    atr_period: int = 14
    volume_sessions: int = 10  # sessions of the same time-of-day slot for "normal" volume
    stop_atr: float = 0.1  # stop buffer beyond the session extreme, in daily ATRs
    min_reward_risk: float = 1.0  # the target is the VWAP, but at least this many R away
    min_price: float = 5.0


DETAIL: dict[str, pl.DataType] = {
    "extension_atr": pl.Float64(),  # session extreme's distance from the open, in ATRs
    "rel_volume": pl.Float64(),  # the larger time-of-day relative volume of this bar and the prior one
    "session_extreme": pl.Float64(),  # session high (short) / low (long) so far
    "session_vwap": pl.Float64(),
    "close_location": pl.Float64(),  # 0-1, 1 = closed at the reversal end of the bar
    "atr": pl.Float64(),
}


def _daily_from_30m(reg: pl.DataFrame) -> pl.DataFrame:
    """Session bars from the regular 30m bars (sorted by time), for the ATR when no daily is given."""
    return reg.group_by(KEY, maintain_order=True).agg(
        pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last()
    )


def _prior_atr(reg: pl.DataFrame, daily: pl.DataFrame, n: int) -> pl.DataFrame:
    """(symbol, date, atr): the daily ATR as of the last session *before* each date."""
    atr = daily.sort("symbol", "date").select(
        "symbol", "date", atr=ind.atr("high", "low", "close", n).over("symbol")
    ).drop_nulls("atr")
    sessions = reg.select(KEY).unique().sort("date")
    return sessions.join_asof(
        atr.sort("date"), on="date", by="symbol", strategy="backward", allow_exact_matches=False,
        check_sortedness=False,  # sorted by date above; polars cannot verify it with by=
    ).select(*KEY, "atr")


def screen(
    intraday_30m: pl.DataFrame,
    daily: pl.DataFrame | None = None,
    params: ExhaustionReversalParams = ExhaustionReversalParams(),
) -> pl.DataFrame:
    """Exhaustion reversals for every session in ``intraday_30m`` (each uses bars up to its own)."""
    p = params
    reg = intraday_30m.filter(pl.col("session") == "regular").sort("symbol", "ts")
    if reg.is_empty():
        return common.empty_signals(DETAIL)
    atr = _prior_atr(reg, _daily_from_30m(reg) if daily is None else daily, p.atr_period)
    o, h, lo, c = pl.col("open"), pl.col("high"), pl.col("low"), pl.col("close")
    df = reg.with_columns(tod=pl.col("ts").dt.convert_time_zone("America/New_York").dt.time()).with_columns(
        rvol_bar=ind.relative_volume_at_time("volume", p.volume_sessions).over("symbol", "tod"),
        session_open=o.first().over(KEY),
        run_high=h.cum_max().over(KEY),
        run_low=lo.cum_min().over(KEY),
        session_vwap=ind.vwap("high", "low", "close", "volume").over(KEY),
        prev_high=h.shift(1).over(KEY),
        prev_low=lo.shift(1).over(KEY),
    )
    df = df.with_columns(
        rel_volume=pl.max_horizontal("rvol_bar", pl.col("rvol_bar").shift(1).over(KEY))
    ).join(atr, on=KEY, how="left")
    atr_ = pl.col("atr")
    third = (h - lo) / 3
    spike = pl.col("rel_volume") >= p.volume_spike_threshold
    up = (
        ((pl.col("run_high") - pl.col("session_open")) >= p.min_extension_atr * atr_)
        & ((h == pl.col("run_high")) | (pl.col("prev_high") == pl.col("run_high")))
        & (((h > lo) & (c <= lo + third)) | (c < pl.col("prev_low")))
    )
    down = (
        ((pl.col("session_open") - pl.col("run_low")) >= p.min_extension_atr * atr_)
        & ((lo == pl.col("run_low")) | (pl.col("prev_low") == pl.col("run_low")))
        & (((h > lo) & (c >= h - third)) | (c > pl.col("prev_high")))
    )
    df = (
        df.with_columns(side=pl.when(up).then(pl.lit("short")).when(down).then(pl.lit("long")))
        .filter(
            pl.col("side").is_not_null()
            & spike
            & (atr_ > 0)
            & pl.col("prev_high").is_not_null()
            & (c >= p.min_price)
        )
        .filter(pl.col("ts") == pl.col("ts").min().over(*KEY, "side"))  # first per session and side
    )
    long = pl.col("side") == "long"
    sign = pl.when(long).then(1.0).otherwise(-1.0)
    extreme = pl.when(long).then(pl.col("run_low")).otherwise(pl.col("run_high"))
    df = df.with_columns(
        session_extreme=extreme,
        extension_atr=(extreme - pl.col("session_open")).abs() / atr_,
        close_location=pl.when(h > lo)
        .then(pl.when(long).then(c - lo).otherwise(h - c) / (h - lo))
        .otherwise(1.0),
        engulfing=pl.when(long).then(c > pl.col("prev_high")).otherwise(c < pl.col("prev_low")),
        entry=c,
        stop=extreme - sign * p.stop_atr * atr_,
    ).with_columns(risk=(c - pl.col("stop")).abs())
    r_target = c + sign * p.min_reward_risk * pl.col("risk")
    vwap = pl.col("session_vwap")
    df = df.with_columns(
        target=pl.when(long)
        .then(pl.max_horizontal(vwap, r_target))
        .otherwise(pl.min_horizontal(vwap, r_target)),
        vwap_room_r=sign * (vwap - c) / pl.col("risk"),
    )
    score = (
        3.0 * (pl.col("extension_atr") / 3.0).clip(0.0, 1.0)
        + 3.0 * (pl.col("rel_volume") / (2.0 * p.volume_spike_threshold)).clip(0.0, 1.0)
        + 2.0 * pl.col("close_location").clip(0.0, 1.0)
        + pl.col("engulfing").cast(pl.Float64)
        + (pl.col("vwap_room_r") / 2.0).clip(0.0, 1.0).fill_null(0.0)
    )
    move_pct = (extreme / pl.col("session_open") - 1) * 100
    reasons = pl.format(
        "{} {} ATR ({}) from the open to {} on {} normal volume for the time of day; the {} ET bar "
        "closed {}, {}% of the way {} its range{}; session VWAP {}",
        pl.when(long).then(pl.lit("sold off")).otherwise(pl.lit("ran up")),
        pl.col("extension_atr").round(1).cast(pl.String),
        common.fmt_pct(move_pct),
        pl.col("session_extreme").round(2).cast(pl.String),
        common.fmt_x(pl.col("rel_volume")),
        pl.col("ts").dt.convert_time_zone("America/New_York").dt.strftime("%H:%M"),
        c.round(2).cast(pl.String),
        (pl.col("close_location") * 100).round(0).cast(pl.Int64).cast(pl.String),
        pl.when(long).then(pl.lit("up")).otherwise(pl.lit("down")),
        pl.when(~pl.col("engulfing"))
        .then(pl.lit(""))
        .when(long)
        .then(pl.lit(", above the prior bar's high"))
        .otherwise(pl.lit(", below the prior bar's low")),
        vwap.round(2).cast(pl.String),
    )
    df = df.with_columns(score=score, reasons=reasons, ts=pl.col("ts") + pl.duration(minutes=30))
    return common.finish(df, "exhaustion_reversal", DETAIL)


def main(argv: list[str] | None = None) -> int:
    return cli.run(
        "exhaustion_reversal",
        ExhaustionReversalParams,
        screen,
        inputs={"intraday_30m": ("intraday_30m", 10), "daily": ("daily", 30)},
        argv=argv,
        description=__doc__,
    )


if __name__ == "__main__":
    raise SystemExit(main())
