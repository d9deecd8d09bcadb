"""Anchored-VWAP anchors: the bars worth anchoring a VWAP to, and where price stands against them.

As of a session (``as_of``, default the latest in the frame), every bar among a symbol's last
``lookback_days`` bars (``as_of`` included) is an anchor when it is a gap up / gap down of at
least ``gap_threshold`` percent against the prior close (``gap_up``, ``gap_down``), has volume of
at least ``volume_spike`` times its prior ``volume_avg_days``-day average (``volume_spike``; never
over an average of 0), is a *confirmed* swing high / low (its high above / low below the
``swing_window`` bars on each side, with those later bars on or before ``as_of``: ``swing_high``,
``swing_low``), is the window's
highest high / lowest low (the latest one on a tie: ``highest_high``, ``lowest_low``), or is an
earnings date from the optional ``earnings`` frame (``earnings``). For each (symbol, anchor) the
anchored VWAP runs from the anchor bar through the ``as_of`` bar with typical price × volume,
computed from per-symbol cumulative sums (no loop), so one bar can be several anchor types.
Not a signal screener: the output is ``ANCHOR_SCHEMA`` (below), one row per anchor.

Inputs: ``daily`` bars (bar contract), ``lookback_days + volume_avg_days`` sessions or more;
optional ``earnings`` frame with ``symbol`` and ``date`` (the session of the report).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from screeners.indicators import (
    gap_percent,
    group_id,
    relative_volume,
    row_index,
    sorted_by,
    typical_price,
)

ANCHOR_TYPES = (
    "gap_up", "gap_down", "volume_spike", "swing_high", "swing_low", "highest_high", "lowest_low", "earnings"
)

# date: the as_of session; anchor_date: the anchor bar's session; avwap: VWAP from the anchor bar
# through the as_of bar; close: the as_of close; distance_pct: (close / avwap - 1) * 100;
# bars_since: the symbol's bars from the anchor to as_of (0 = the anchor is the as_of bar).
ANCHOR_SCHEMA = pl.Schema(
    {
        "date": pl.Date,
        "symbol": pl.String,
        "anchor_date": pl.Date,
        "anchor_type": pl.String,
        "avwap": pl.Float64,
        "close": pl.Float64,
        "distance_pct": pl.Float64,
        "bars_since": pl.Int64,
    }
)


@dataclass(frozen=True)
class AnchorParams:
    lookback_days: int = 30  # bars (sessions) back from as_of, as_of included
    gap_threshold: float = 4.0  # percent, open against the prior close
    volume_spike: float = 2.0  # × the prior volume_avg_days average volume
    swing_window: int = 3  # bars on each side a swing high/low must exceed
    volume_avg_days: int = 50  # extra: the average behind volume_spike (day excluded)


def with_cumulative(daily: pl.DataFrame) -> pl.DataFrame:
    """Daily bars sorted per symbol with ``_sid`` (the symbol's number), ``idx`` (bar number) and
    the cumulative sums an AVWAP needs: ``cum_pv``/``cum_v`` through the bar and ``pre_pv``/``pre_v``
    before it, so the AVWAP from bar a through bar b is
    ``(cum_pv[b] - pre_pv[a]) / (cum_v[b] - pre_v[a])``."""
    return cumulative_query(daily).collect(engine="in-memory")


def cumulative_query(daily: pl.DataFrame, **per_symbol: pl.Expr) -> pl.LazyFrame:
    """``with_cumulative(daily)`` as a lazy query, with ``per_symbol`` columns (expressions that
    read only the bars and ``_sid``, e.g. an indicator ``.over("_sid")``) computed in the same
    step as ``idx``: the engine runs one step's expressions side by side, so a long per-symbol
    window overlaps the cumulative sums instead of waiting for them."""
    pv = typical_price("high", "low", "close") * pl.col("volume").cast(pl.Float64)
    # windows run over the symbol's integer id ``_sid`` (the same groups as over the name, cheaper)
    # one lazy query: a subexpression repeated in it (``pv``, the row index) is computed once
    bars = sorted_by(daily, "symbol", "date").lazy().with_columns(_sid=group_id("symbol"))
    bars = bars.with_columns(idx=row_index("_sid"), **per_symbol)
    if daily.schema["volume"].is_integer():
        # Integer volume sums are exact, so a whole-column running sum less the symbol's start
        # equals the per-symbol one (and skips a window).
        filled = pl.col("volume").fill_null(0)
        running = filled.cum_sum()
        start = pl.when(pl.col("idx") == 0).then(running - filled).forward_fill()
        cum_v = pl.when(pl.col("volume").is_not_null()).then(running - start).cast(pl.Float64)
    else:
        cum_v = pl.col("volume").cast(pl.Float64).cum_sum().over("_sid")
    return bars.with_columns(cum_pv=pv.cum_sum().over("_sid"), cum_v=cum_v).with_columns(
        pre_pv=pl.col("cum_pv") - pv, pre_v=pl.col("cum_v") - pl.col("volume").cast(pl.Float64)
    )


def anchored_avwap(cum_pv: pl.Expr, cum_v: pl.Expr, pre_pv: pl.Expr, pre_v: pl.Expr) -> pl.Expr:
    """AVWAP from cumulative sums (see ``with_cumulative``); null when no volume traded."""
    v = cum_v - pre_v
    return pl.when(v > 0).then((cum_pv - pre_pv) / v).otherwise(None)


def _flags(bars: pl.DataFrame, params: AnchorParams, earnings: pl.DataFrame | None) -> pl.DataFrame:
    """Per-bar anchor flags that need no as_of (swings carry the date that confirms them)."""
    w, n = params.swing_window, params.volume_avg_days
    # Lags and windows run on the whole sorted column, masked where they would reach into the
    # neighbouring symbol: ``idx`` is the bar's number in its symbol, ``ahead`` says the bar w
    # rows on is the same symbol's (its number is then exactly w more) and, on rows gathered from
    # the frame (``_at``: their position there), the very bar w rows on in it.
    idx, high, low = pl.col("idx"), pl.col("high"), pl.col("low")
    ahead = idx.shift(-w) == idx + w
    if "_at" in bars.columns:
        ahead = ahead & (pl.col("_at").shift(-w) == pl.col("_at") + w)

    def swing(x: pl.Expr, beyond: Callable[[pl.Expr, pl.Expr], pl.Expr]) -> pl.Expr:
        """Beyond each of the w bars before and after it (w comparisons are cheaper than a
        rolling max; a missing bar leaves the comparison null, as the rolling max would be)."""
        before = pl.all_horizontal(beyond(x, x.shift(k)) for k in range(1, w + 1))
        after = pl.all_horizontal(beyond(x, x.shift(-k)) for k in range(1, w + 1))
        return (pl.when(idx >= w).then(before) & pl.when(ahead).then(after)).fill_null(False)

    # integer sums: exact; null (not NaN) over an average of 0, so a bar without volume is no spike
    rvol = pl.when(idx >= n).then(relative_volume("volume", n))
    gap = pl.when(idx >= 1).then(gap_percent("open"))
    out = bars.with_columns(
        gap_up=(gap >= params.gap_threshold).fill_null(False),
        gap_down=(gap <= -params.gap_threshold).fill_null(False),
        volume_spike=(rvol >= params.volume_spike).fill_null(False),
        swing_high=swing(high, operator.gt),
        swing_low=swing(low, operator.lt),
        confirmed_on=pl.when(ahead).then(pl.col("date").shift(-w)),
    )
    if earnings is not None and not earnings.is_empty():
        marks = earnings.select(pl.col("symbol").cast(pl.String), pl.col("date").cast(pl.Date)).unique()
        marks = marks.with_columns(earnings=pl.lit(True))
        out = out.join(marks, on=["symbol", "date"], how="left", maintain_order="left")
        return out.with_columns(pl.col("earnings").fill_null(False))
    return out.with_columns(earnings=pl.lit(False))


def find_anchors(
    daily: pl.DataFrame,
    params: AnchorParams = AnchorParams(),
    as_of: dt.date | Sequence[dt.date] | None = None,
    earnings: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Anchors and their AVWAPs as of ``as_of`` (one date or several, for a backfill; default
    the latest session in ``daily``), in ``ANCHOR_SCHEMA``. Symbols without a bar on an as_of
    date have no anchors for it. Uses only bars on or before each as_of date."""
    if daily.is_empty():
        return pl.DataFrame(schema=ANCHOR_SCHEMA)
    if as_of is None:
        dates = [daily["date"].max()]
    else:
        dates = [as_of] if isinstance(as_of, dt.date) else list(as_of)
    bars = with_cumulative(daily)
    pos = bars.select(pl.col("date").is_in(dates)).to_series().arg_true().cast(pl.Int64)
    now = bars.select(
        "symbol", as_of="date", as_of_idx="idx", as_of_close="close", as_of_pv="cum_pv", as_of_v="cum_v"
    )[pos].with_columns(_pos=pos)
    # Each as_of row's window is the rows just before it in the sorted frame, back to the
    # lookback or the symbol's first bar: gathered by position, no join. A bar's flags read at
    # most ``lead`` bars before it (the previous close, the swing's bars, the volume average's):
    # those are gathered too, ahead of the window, so only the windows are flagged; the volume
    # average then sums the same whole volumes as on the whole column (exact for integers; a
    # float volume's whole-column running sum carries rounding from the rows before, so float
    # volumes are flagged on the whole frame as before).
    back = pl.min_horizontal(pl.col("as_of_idx"), params.lookback_days - 1)
    integer = daily.schema["volume"].is_integer()
    lead = max(params.volume_avg_days, params.swing_window, 1) if integer else 0
    lead = pl.min_horizontal(pl.col("as_of_idx") - back, lead)
    at = pl.int_ranges(pl.col("_pos") - back - lead, pl.col("_pos") + 1, dtype=pl.Int64)
    window = now.with_columns(_at=at, _first=pl.col("_pos") - back).explode("_at").drop_nulls("_at")
    used = ["date", "idx", "open", "high", "low", "close", "volume", "pre_pv", "pre_v"]
    if integer:
        source = bars.select(used)
    else:
        source = _flags(bars, params, earnings).select(pl.exclude("symbol", "_sid"))
    rows = source[window["_at"]]
    window = pl.concat([window, rows], how="horizontal")
    if integer:
        window = _flags(window, params, earnings)
    window = window.filter(pl.col("_at") >= pl.col("_first")).drop("_at", "_first")
    key = ["as_of", "symbol"]
    per = "_pos"  # the as_of row's position: the same groups as ``key``, over one integer
    hh = pl.col("high") == pl.col("high").max().over(per)
    ll = pl.col("low") == pl.col("low").min().over(per)
    confirmed = pl.col("confirmed_on") <= pl.col("as_of")
    window = window.with_columns(
        swing_high=pl.col("swing_high") & confirmed.fill_null(False),
        swing_low=pl.col("swing_low") & confirmed.fill_null(False),
        highest_high=hh & (pl.col("idx") == pl.when(hh).then(pl.col("idx")).max().over(per)),
        lowest_low=ll & (pl.col("idx") == pl.when(ll).then(pl.col("idx")).max().over(per)),
    )
    anchors = (
        window.filter(pl.any_horizontal(ANCHOR_TYPES))  # most bars anchor nothing: unpivot fewer
        .unpivot(
            on=list(ANCHOR_TYPES),
            index=[*key, "date", "idx", "as_of_idx", "as_of_close", "as_of_pv", "as_of_v", "pre_pv", "pre_v"],
            variable_name="anchor_type",
            value_name="is_anchor",
        )
        .filter("is_anchor")
        .with_columns(
            avwap=anchored_avwap(pl.col("as_of_pv"), pl.col("as_of_v"), pl.col("pre_pv"), pl.col("pre_v"))
        )
    )
    out = anchors.select(
        date=pl.col("as_of"),
        symbol=pl.col("symbol"),
        anchor_date=pl.col("date"),
        anchor_type=pl.col("anchor_type"),
        avwap=pl.col("avwap"),
        close=pl.col("as_of_close"),
        distance_pct=(pl.col("as_of_close") / pl.col("avwap") - 1.0) * 100.0,
        bars_since=pl.col("as_of_idx") - pl.col("idx"),
    )
    out = out.select(pl.col(c).cast(t) for c, t in ANCHOR_SCHEMA.items())
    return out.sort("date", "symbol", "anchor_date", "anchor_type")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screeners.avwap_anchors --lookback-days 30 [--ticker NVDA]``: print the anchors."""
    from tradingstation.cli.screen import run_anchors  # the one upward call: the CLI layer runs it

    return run_anchors(argv)


if __name__ == "__main__":
    raise SystemExit(main())
