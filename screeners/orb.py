"""Opening Range Breakout on 1-minute bars.

The opening range is the high and low of a symbol's regular-session bars in the first
``or_window`` minutes after its session's open, taken from the data (the first regular bar's
timestamp per symbol and session, so late opens and early closes need no calendar). A signal
fires on a regular bar within ``entry_window`` minutes after the range (a late-day close beyond a
morning range is no opening-range trade) that closes above the range high (long) or below the
range low (short), with

- volume of at least ``volume_multiple`` x the average volume of the previous ``volume_bars``
  regular bars (the opening minutes are the day's heaviest, so the range's own average would
  confirm almost nothing after it); a ratio over no volume is no ratio, and fails;
- a close at most ``max_extension`` x the range height past the broken level (a bar that already
  ran away from the level is a chase, with a worse reward:risk than the setup's);
- with ``first_close_only`` (the default) it must be the side's *first* close beyond the range:
  a break on thin volume, or one already too far, is a failed breakout and the side is done for
  the session; without it a later bar meeting both rules may still fire;
- with ``min_rvol_time`` > 0, time-of-day relative volume (below) of at least that (a stock "in
  play"; null without history, which then fails).

At most one signal per symbol, session and side (the first). Ranges narrower than
``min_range_pct`` or wider than ``max_range_pct`` (height over midpoint, percent) are skipped.
Entry is the breakout bar's close, the stop the other side of the range (or its midpoint with
``--stop-at-midpoint``), the target measured from the entry: entry +/- ``target_multiple`` x range
height, so reward:risk is at least ``target_multiple / (1 + max_extension)`` (1.6 at the
defaults). Time-of-day relative volume (``rvol_time``) is the bar's volume against the mean of the
symbol's bars at the same clock minute (New York time) in its previous ``rvol_sessions`` sessions,
null when the frame holds fewer. Score 0-10: volume up to 4 points (full at 3 x
``volume_multiple``), time-of-day relative volume up to 2 (full at 3x; 0 when null), the close's
position within the breakout bar up to 2 (2 = closed at its extreme), and earliness up to 2 (2
right after the range, 0 from two hours after it).

Defaults, measured on 44 synthetic S&P 500 sessions (11 from each of four months of 2025): this
rule flags a median 1.2% of the universe per session (0.2-2.4%) at a median reward:risk of 1.9;
the previous one (any later volume-confirmed close, target from the broken level) flagged 55-62%
at a median 1.0. Without ``first_close_only`` the share is 19-26%, so that rule is what brings it
under 10%; ``max_extension`` is what keeps the reward:risk.

Input: ``intraday_1m`` (1-minute bars of the session(s) to scan, optionally with earlier sessions
for time-of-day relative volume; only regular-session bars are used).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from screeners import common
from screeners.indicators import ratio, relative_volume_at_time, row_index, sorted_by
from tradingstation.core.calendar import NY_TZ

KEY = ["symbol", "date"]
COLUMNS = ["date", "symbol", "ts", "high", "low", "close", "volume"]  # what the screen reads
EARLY_MINUTES = 120  # earliness points fade to 0 over this many minutes after the range

DETAIL: dict[str, pl.DataType] = {
    "or_high": pl.Float64,
    "or_low": pl.Float64,
    "range_pct": pl.Float64,
    "breakout_volume": pl.Int64,
    "volume_ratio": pl.Float64,  # breakout volume / average volume of the previous volume_bars bars
    "rvol_time": pl.Float64,  # breakout volume / same clock minute of earlier sessions (null: no history)
    "minutes_after_open": pl.Int64,
}


@dataclass(frozen=True)
class OrbParams:
    or_window: int = 15  # minutes after the open that make the opening range
    volume_multiple: float = 1.5  # breakout bar volume >= this x the previous bars' average volume
    volume_bars: int = 20  # bars averaged for the volume baseline (the breakout bar excluded)
    target_multiple: float = 2.0  # target = entry +/- this x range height
    max_extension: float = 0.25  # the entry may close at most this x range height past the broken level
    min_range_pct: float = 0.1  # skip ranges narrower than this (percent of midpoint)
    max_range_pct: float = 6.0  # skip ranges wider than this
    stop_at_midpoint: bool = False  # stop at the range midpoint instead of its other side
    rvol_sessions: int = 5  # previous sessions for time-of-day relative volume
    min_rvol_time: float = 0.0  # breakout volume >= this x the same clock minute's usual; 0 = off
    first_close_only: bool = True  # only the side's first close beyond the range may fire
    entry_window: int = 120  # minutes after the range in which a breakout may fire; 0 = all session


def _session_bars(intraday_1m: pl.DataFrame) -> pl.DataFrame:
    """The regular-session bars (only the columns used) sorted by symbol and time, with ``_pos``
    (row number), ``_sym`` (a number per symbol), ``_row`` (the bar's number in its session),
    ``_sess`` (the session's number: 0, 1, ... in frame order) and ``minute`` (minutes after the
    session's first regular bar). The clock minute is added by ``_with_clock`` where it is read."""
    reg = intraday_1m.lazy().filter(pl.col("session") == "regular").select(COLUMNS).collect()
    reg = sorted_by(reg, "symbol", "ts").with_columns(
        _pos=pl.int_range(pl.len(), dtype=pl.Int64), _sym=pl.col("symbol").rle_id()
    )
    reg = reg.with_columns(_row=row_index("_sym", "date"))
    first = pl.col("_row") == 0
    session_open = pl.when(first).then(pl.col("ts")).forward_fill()
    return reg.with_columns(
        minute=(pl.col("ts") - session_open).dt.total_minutes().cast(pl.Int64),
        _sess=first.cast(pl.Int64).cum_sum() - 1,
    )


def _with_clock(reg: pl.DataFrame) -> pl.DataFrame:
    """``reg`` (from ``_session_bars``) with ``clock``, the bar's minute of the day in New York.
    Only time-of-day relative volume reads it, and that needs earlier sessions: on a single
    session (the usual input) it is never computed, about a sixth of the screen's time saved."""
    # New York's UTC offset is converted once per session, at its first bar (a regular session
    # never spans a DST change, which happens at 2 am): the minute of the day is then integer
    # arithmetic on the UTC minute, the same value as the converted time's hour * 60 + minute.
    opens = reg["ts"].filter(reg["_row"] == 0)  # the one column, not a filter of the frame
    local = opens.dt.convert_time_zone(NY_TZ).dt.replace_time_zone(None)
    offset = (local - opens.dt.replace_time_zone(None)).dt.total_minutes().cast(pl.Int64)
    utc_minute = pl.col("ts").dt.epoch("s") // 60
    return reg.with_columns(clock=(utc_minute + pl.lit(offset).gather(pl.col("_sess"))) % 1440)


def _ranges(reg: pl.DataFrame, or_window: int) -> pl.DataFrame:
    """Each session's opening range, row i for session ``_sess`` i (every session has one: its
    first bar is at minute 0), so a bar finds its range by position instead of by a join."""
    mid = (pl.col("or_high") + pl.col("or_low")) / 2.0
    return (
        reg.lazy()
        .filter(pl.col("minute") < or_window)
        .group_by("_sess")
        .agg(or_high=pl.col("high").max(), or_low=pl.col("low").min())
        .sort("_sess")
        .with_columns(range_pct=(pl.col("or_high") - pl.col("or_low")) / mid * 100.0, or_mid=mid)
        .collect()
    )


def _with_mean_of_previous(df: pl.DataFrame, reg: pl.DataFrame, n: int) -> pl.DataFrame:
    """``df`` (rows of ``reg``) with ``or_avg_volume``, the mean of the up to ``n`` previous
    non-null volumes of the session (null on its first bar): what
    ``rolling_mean(n, min_samples=1).shift(1).over(KEY)`` gives, computed only at ``df``'s rows.
    Int64 volumes (the bar contract's): the ``n`` bars before each row gathered and summed (whole
    numbers sum to the same value in any order, so bit for bit the running sums' value, without
    two running sums over every bar); other volume types: from running sums over ``reg``."""
    volume, pos = reg["volume"], df["_pos"]
    back = df["_row"].clip(upper_bound=n)  # the window's bars before the row, inside the session
    if volume.dtype == pl.Int64:  # the bar contract's volume (other types keep the running sums)
        at = {k: (pos - k).clip(lower_bound=0) for k in range(1, n + 1)}
        bars = pl.DataFrame({f"v{k}": volume.gather(i) for k, i in at.items()})
        inside = [pl.when(pl.lit(back) >= k).then(pl.col(f"v{k}")) for k in range(1, n + 1)]
        sums = bars.select(
            _total=pl.sum_horizontal(x.fill_null(0) for x in inside),
            _count=pl.sum_horizontal(x.is_not_null().cast(pl.Int64) for x in inside),
        )
        total, count = sums["_total"], sums["_count"]
    else:
        filled, known = volume.fill_null(0), volume.is_not_null().cast(pl.Int64)
        sum_before, count_before = filled.cum_sum() - filled, known.cum_sum() - known  # row excluded
        start = pos - back  # the window's first row
        total = sum_before.gather(pos) - sum_before.gather(start)
        count = count_before.gather(pos) - count_before.gather(start)
    out = df.with_columns(_total=total, _count=count)
    mean = pl.when(pl.col("_count") > 0).then(pl.col("_total") / pl.col("_count"))
    return out.with_columns(or_avg_volume=mean).drop("_total", "_count")


def _with_rvol_time(df: pl.DataFrame, reg: pl.DataFrame, n: int) -> pl.DataFrame:
    """``df`` with the time-of-day relative volume of its bars: the bar's volume against the mean
    of the symbol's bars at the same clock minute (New York) in its previous ``n`` sessions
    (null without them, or when they traded nothing). Computed over only the (symbol, clock)
    groups of ``df``'s bars: a 1-minute session has one group per symbol and minute, and a window
    over all of them would cost more than the whole screen."""
    if reg["date"].n_unique() <= n:
        return df.with_columns(rvol_time=pl.lit(None, pl.Float64))  # no group has n + 1 bars: all null
    reg = _with_clock(reg)
    df = df.with_columns(clock=reg["clock"].gather(df["_pos"]))  # df's rows are reg's rows at _pos
    key = pl.col("_sym").cast(pl.Int64) * 2**32 + pl.col("clock")  # one number per (symbol, clock minute)
    wanted = df.select(key.unique()).to_series()
    history = reg.filter(key.is_in(wanted.implode()))
    keys = ["symbol", "clock"]
    rvol = history.select("_pos", rvol_time=relative_volume_at_time("volume", n).over(keys))
    return df.join(rvol, on="_pos", how="left", maintain_order="left")


def screen(intraday_1m: pl.DataFrame, params: OrbParams = OrbParams()) -> pl.DataFrame:
    """Opening-range breakouts for every session in ``intraday_1m``."""
    p = params
    if p.or_window < 1:
        raise ValueError(f"or_window must be at least 1 minute, got {p.or_window}")
    reg = _session_bars(intraday_1m)
    side = (
        pl.when(pl.col("close") > pl.col("or_high"))
        .then(pl.lit("long"))
        .when(pl.col("close") < pl.col("or_low"))
        .then(pl.lit("short"))
    )
    in_window = (pl.col("minute") >= p.or_window) & (
        (pl.col("minute") < p.or_window + p.entry_window) | (p.entry_window <= 0)
    )
    ranges = _ranges(reg, p.or_window)
    beyond = (pl.col("close") > pl.col("or_high")) | (pl.col("close") < pl.col("or_low"))
    long = pl.col("side") == "long"
    height = pl.col("or_high") - pl.col("or_low")
    past_level = pl.when(long).then(pl.col("close") - pl.col("or_high")).otherwise(
        pl.col("or_low") - pl.col("close")
    )
    df = (
        reg.lazy()
        .filter(in_window)
        .with_columns(pl.lit(ranges[c]).gather(pl.col("_sess")).alias(c) for c in ranges.columns[1:])
        .filter(pl.col("range_pct").is_between(p.min_range_pct, p.max_range_pct) & beyond)
        .with_columns(side=side)
        .collect()
    )
    if p.first_close_only:
        df = df.filter(pl.col("ts") == pl.col("ts").min().over("_sess", "side"))
    # Null-safe: a 0/0 volume ratio is null and fails the threshold (a NaN would pass it).
    df = _with_mean_of_previous(df, reg, p.volume_bars).with_columns(
        volume_ratio=ratio("volume", "or_avg_volume")
    )
    df = df.filter(
        (pl.col("volume_ratio") >= p.volume_multiple) & (past_level <= p.max_extension * height)
    )
    if p.min_rvol_time > 0:  # judged on every candidate, so the first in-play bar fires
        df = _with_rvol_time(df, reg, p.rvol_sessions).filter(pl.col("rvol_time") >= p.min_rvol_time)
    df = df.filter(pl.col("ts") == pl.col("ts").min().over("_sess", "side"))  # the first per side

    far_side = pl.when(long).then(pl.col("or_low")).otherwise(pl.col("or_high"))
    sign = pl.when(long).then(1.0).otherwise(-1.0)
    df = df.with_columns(
        entry=pl.col("close"),
        stop=pl.col("or_mid") if p.stop_at_midpoint else far_side,
        target=pl.col("close") + sign * p.target_multiple * height,
    )
    if df.is_empty():
        return common.empty_signals(DETAIL)
    if "rvol_time" not in df.columns:
        df = _with_rvol_time(df, reg, p.rvol_sessions)

    bar_span = pl.col("high") - pl.col("low")
    close_pos = pl.when(long).then(pl.col("close") - pl.col("low")).otherwise(pl.col("high") - pl.col("close"))
    df = df.with_columns(
        close_strength=pl.when(bar_span > 0).then(close_pos / bar_span).otherwise(1.0),
        after_range=pl.col("minute") - p.or_window,
    )
    score = (
        4.0 * (pl.col("volume_ratio") / (3.0 * p.volume_multiple)).clip(0.0, 1.0)
        + 2.0 * (pl.col("rvol_time") / 3.0).clip(0.0, 1.0).fill_null(0.0)
        + 2.0 * pl.col("close_strength")
        + 2.0 * (1.0 - pl.col("after_range") / EARLY_MINUTES).clip(0.0, 1.0)
    )
    clock = pl.col("ts").dt.convert_time_zone(NY_TZ).dt.strftime("%H:%M")
    rvol_text = pl.when(pl.col("rvol_time").is_not_null()).then(
        pl.lit(", ") + common.fmt_x(pl.col("rvol_time")) + pl.lit(" usual volume for the time of day")
    )
    reasons = pl.concat_str(
        pl.when(long).then(pl.lit("broke above")).otherwise(pl.lit("broke below")),
        pl.lit(f" the {p.or_window}-min opening range "),
        pl.col("or_low").round(2).cast(pl.String),
        pl.lit("-"),
        pl.col("or_high").round(2).cast(pl.String),
        pl.lit(" ("),
        pl.col("range_pct").round(2).cast(pl.String),
        pl.lit("% wide) at "),
        clock,
        pl.lit(" ET, close "),
        pl.col("close").round(2).cast(pl.String),
        pl.lit(" on "),
        common.fmt_x(pl.col("volume_ratio")),
        pl.lit(f" the previous {p.volume_bars} bars' average volume"),
        rvol_text.otherwise(pl.lit("")),
    )
    df = df.with_columns(
        score=score,
        reasons=reasons,
        breakout_volume=pl.col("volume"),
        minutes_after_open=pl.col("minute"),
    )
    return common.finish(df, "orb", DETAIL)


def main(argv: list[str] | None = None) -> int:
    """``python -m screeners.orb``: its registry spec run as a command."""
    from tradingstation.cli.screen import run_screener  # the one upward call: the CLI layer runs it

    return run_screener("orb", argv)


if __name__ == "__main__":
    raise SystemExit(main())
