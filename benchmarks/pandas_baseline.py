"""The screeners done the old way: one symbol at a time with pandas, as a reference and a baseline.

Each function follows its polars screener's documented rule and default parameters (the same
``*Params`` dataclasses) but works like the original scripts: ``for symbol, g in
df.groupby("symbol")``, pandas Series ops (rolling, ewm, shift, cumsum) on that symbol's bars,
rows appended to a list. Inputs are pandas frames in the bar contract (``polars_df.to_pandas()``);
outputs hold ``date, symbol, side, score, entry, stop, target`` (prices rounded to cents, as
``common.finish`` does) plus a few detail columns. ``tests/test_pandas_baseline.py`` checks that
these agree with the polars screeners; ``benchmarks/screeners_bench.py`` times both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from screeners.avwap_anchors import AnchorParams
from screeners.avwap_reclaim import TYPE_WEIGHT, AvwapReclaimParams
from screeners.breakout import BreakoutParams
from screeners.ema_pullback import EmaPullbackParams
from screeners.exhaustion_reversal import ExhaustionReversalParams
from screeners.gapgo import GapgoParams
from screeners.orb import EARLY_MINUTES, OrbParams
from tradingstation.core.calendar import NY_TZ

SIGNAL_COLUMNS = ["date", "symbol", "side", "score", "entry", "stop", "target"]
TICK = 0.01


# --- indicators, one symbol's Series at a time (TA-Lib conventions, as screeners/indicators.py) --


def seeded_ewm(x: pd.Series, n: int, alpha: float) -> pd.Series:
    """EMA recursion seeded with the mean of the first ``n`` valid values (leading NaNs skipped)."""
    x = x.astype(float).reset_index(drop=True)
    first = x.first_valid_index()
    out = pd.Series(np.nan, index=x.index)
    if first is None or len(x) - first < n:
        return out
    seeded = x.copy()
    seeded.iloc[: first + n] = np.nan
    seeded.iloc[first + n - 1] = x.iloc[first : first + n].mean()
    return seeded.ewm(alpha=alpha, adjust=False).mean()


def ema(x: pd.Series, n: int) -> pd.Series:
    return seeded_ewm(x, n, 2.0 / (n + 1))


def atr(g: pd.DataFrame, n: int) -> pd.Series:
    prev_close = g["close"].shift(1)
    tr = pd.concat(
        [g["high"] - g["low"], (g["high"] - prev_close).abs(), (g["low"] - prev_close).abs()], axis=1
    ).max(axis=1)
    return seeded_ewm(tr.where(prev_close.notna()), n, 1.0 / n)


def rsi(close: pd.Series, n: int) -> pd.Series:
    change = close.diff()
    gain = seeded_ewm(change.clip(lower=0.0), n, 1.0 / n)
    loss = seeded_ewm((-change).clip(lower=0.0), n, 1.0 / n)
    total = gain + loss
    return (100.0 * gain / total).where(total != 0.0, 0.0).where(total.notna())


def relative_volume(volume: pd.Series, n: int) -> pd.Series:
    """Volume against the mean of the previous ``n`` values (current excluded); NaN when that mean is 0."""
    v = volume.astype(float)
    mean = v.shift(1).rolling(n).mean()
    return (v / mean).where(mean != 0)


def clip01(x):
    return np.clip(x, 0.0, 1.0)


def _by_symbol(df: pd.DataFrame, order: str = "date") -> dict[str, pd.DataFrame]:
    return {s: g.sort_values(order).reset_index(drop=True) for s, g in df.groupby("symbol", sort=False)}


def _finish(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    out[["entry", "stop", "target"]] = out[["entry", "stop", "target"]].round(2)
    out["score"] = out["score"].clip(0.0, 10.0)
    return out.sort_values(["date", "symbol", "side"]).reset_index(drop=True)


# --- AVWAP anchors -------------------------------------------------------------------------------


def anchors(daily: pd.DataFrame, params: AnchorParams = AnchorParams(), as_of=None) -> pd.DataFrame:
    """Anchors (no earnings) and their AVWAP through each as_of bar (default: the latest date)."""
    p = params
    dates = [daily["date"].max()] if as_of is None else list(np.atleast_1d(as_of))
    dates = [pd.Timestamp(d) for d in dates]
    parts = []
    for symbol, g in daily.groupby("symbol"):
        g = g.sort_values("date").reset_index(drop=True)
        vol = g["volume"].astype(float)
        pv = (g["high"] + g["low"] + g["close"]) / 3.0 * vol
        cum_pv, cum_v = pv.cumsum(), vol.cumsum()
        gap = (g["open"] / g["close"].shift(1) - 1.0) * 100.0
        rvol = relative_volume(g["volume"], p.volume_avg_days)
        w = p.swing_window
        flags = pd.DataFrame({
            "gap_up": gap >= p.gap_threshold,
            "gap_down": gap <= -p.gap_threshold,
            "volume_spike": rvol >= p.volume_spike,
            "swing_high": (g["high"] > g["high"].shift(1).rolling(w).max())
            & (g["high"] > g["high"].rolling(w).max().shift(-w)),
            "swing_low": (g["low"] < g["low"].shift(1).rolling(w).min())
            & (g["low"] < g["low"].rolling(w).min().shift(-w)),
        })
        confirmed_on = g["date"].shift(-w)
        for day in dates:
            at = np.flatnonzero(g["date"].to_numpy() == day.to_datetime64())
            if not len(at):
                continue
            b = int(at[0])
            win = flags.iloc[max(0, b - p.lookback_days + 1) : b + 1].copy()
            confirmed = (confirmed_on[win.index] <= day).to_numpy()
            win["swing_high"] &= confirmed
            win["swing_low"] &= confirmed
            highs, lows = g["high"][win.index], g["low"][win.index]
            win["highest_high"] = win.index == highs[highs == highs.max()].index.max()
            win["lowest_low"] = win.index == lows[lows == lows.min()].index.max()
            hits = win.stack()
            hits = hits[hits].index.to_frame(index=False, name=["idx", "anchor_type"])
            i = hits["idx"].to_numpy()
            v = cum_v[b] - (cum_v[i] - vol[i]).to_numpy()
            pv_sum = cum_pv[b] - (cum_pv[i] - pv[i]).to_numpy()
            avwap = np.where(v > 0, pv_sum / np.where(v > 0, v, 1.0), np.nan)
            parts.append(pd.DataFrame({
                "date": day, "symbol": symbol, "anchor_date": g["date"].to_numpy()[i],
                "anchor_type": hits["anchor_type"], "avwap": avwap, "close": g["close"][b],
                "distance_pct": (g["close"][b] / avwap - 1.0) * 100.0, "bars_since": b - i,
            }))
    if not parts:
        return pd.DataFrame(columns=["date", "symbol", "anchor_date", "anchor_type", "avwap", "close"])
    return pd.concat(parts, ignore_index=True).sort_values(["date", "symbol", "anchor_date", "anchor_type"])


# --- Gap & Go --------------------------------------------------------------------------------------


def gapgo(
    daily: pd.DataFrame, intraday_1m: pd.DataFrame, params: GapgoParams = GapgoParams()
) -> pd.DataFrame:
    """Per symbol and session: the pre-market's last price against the previous daily close."""
    p = params
    days = _by_symbol(daily)
    rows = []
    for symbol, g in intraday_1m[intraday_1m["session"] == "pre"].groupby("symbol"):
        d = days.get(symbol)
        if d is None:
            continue
        n = p.avg_volume_sessions
        avg_volume = d["volume"].astype(float).rolling(n, min_periods=min(5, n)).mean()
        for date, pre in g.sort_values("ts").groupby("date"):
            before = np.flatnonzero(d["date"] < date)  # the previous session's bar, at most 8 days back
            if not len(before) or d["date"][before[-1]] < date - pd.Timedelta(days=8):
                continue
            k = before[-1]
            last, high, low = pre["close"].iloc[-1], pre["high"].max(), pre["low"].min()
            volume = pre["volume"].sum()
            gap = (last / d["close"][k] - 1.0) * 100.0
            rel = volume / (avg_volume[k] * p.premarket_fraction)
            liquid = volume >= p.min_premarket_volume and rel >= p.min_relative_volume
            if not (abs(gap) >= p.min_gap and liquid and p.min_price <= last <= p.max_price):
                continue
            long = gap >= p.min_gap
            entry, stop = (high + TICK, low - TICK) if long else (low - TICK, high + TICK)
            beyond = last > d["high"][k] if long else last < d["low"][k]
            score = (4.0 * clip01(abs(gap) / (3.0 * p.min_gap)) + 3.0 * clip01(rel / 10.0)
                     + 2.0 * beyond + 1.0 * (5.0 <= last <= 200.0))
            rows.append({"date": date, "symbol": symbol, "side": "long" if long else "short", "score": score,
                         "entry": entry, "stop": stop, "target": entry + p.reward_risk * (entry - stop),
                         "gap_pct": gap, "relative_volume": rel})
    return _finish(rows)


# --- Opening range breakout ------------------------------------------------------------------------


def _grouped_relative_volume(volume: pd.Series, by: pd.Series, n: int) -> pd.Series:
    """``relative_volume`` within each group of ``by`` (e.g. the same minute of earlier sessions)."""
    v = volume.astype(float)
    prev = v.groupby(by).shift(1)
    mean = prev.groupby(by).rolling(n).mean().droplevel(0)
    return (v / mean).where(mean != 0)


def _rvol_at_time(g: pd.DataFrame, clock: pd.Series, k: int, n: int) -> float:
    """Bar ``k``'s volume against the mean volume of the symbol's previous ``n`` bars at the same
    New York clock minute (NaN with fewer, or when they traded nothing): the screener's
    ``rvol_time``, computed for one bar."""
    earlier = g["volume"][: k][clock[: k] == clock[k]].astype(float).tail(n)
    mean = earlier.mean() if len(earlier) == n else np.nan
    return g["volume"][k] / mean if mean > 0 else np.nan


def orb(intraday_1m: pd.DataFrame, params: OrbParams = OrbParams()) -> pd.DataFrame:
    """Per symbol: each session's opening range, the side's first close beyond it within the entry
    window (with ``first_close_only``), kept when its volume and extension pass.

    Does the screener's work and no more: time-of-day relative volume only for the signal bars
    (and the candidates, when ``min_rvol_time`` filters on it), and not at all when the frame holds
    no more than ``rvol_sessions`` sessions (no bar has that history: the column is null)."""
    p = params
    reg = intraday_1m[intraday_1m["session"] == "regular"]
    with_history = reg["date"].nunique() > p.rvol_sessions
    rows = []
    for symbol, g in reg.groupby("symbol"):
        g = g.sort_values("ts").reset_index(drop=True)
        day = g["date"]
        minute = (g["ts"] - g.groupby("date")["ts"].transform("min")).dt.total_seconds() // 60
        ny = g["ts"].dt.tz_convert(NY_TZ)
        clock = ny.dt.hour * 60 + ny.dt.minute
        opening = minute < p.or_window
        or_high = g["high"].where(opening).groupby(day).transform("max")
        or_low = g["low"].where(opening).groupby(day).transform("min")
        height = or_high - or_low
        range_pct = height / ((or_high + or_low) / 2.0) * 100.0
        vol = g["volume"].astype(float)
        avg_volume = vol.groupby(day).rolling(p.volume_bars, min_periods=1).mean().droplevel(0)
        avg_volume = avg_volume.groupby(day).shift(1)  # the previous bars of the session
        volume_ratio = (vol / avg_volume).where(avg_volume != 0)  # no volume: no ratio, which fails
        in_window = (minute >= p.or_window) & ((minute < p.or_window + p.entry_window) | (p.entry_window <= 0))
        ranged = range_pct.between(p.min_range_pct, p.max_range_pct)
        for side, beyond, past_level in (("long", g["close"] > or_high, g["close"] - or_high),
                                         ("short", g["close"] < or_low, or_low - g["close"])):
            long = side == "long"
            candidates = g[in_window & ranged & beyond]
            if p.first_close_only:
                candidates = candidates.groupby("date").head(1)
            at = candidates.index
            ok = (volume_ratio[at] >= p.volume_multiple) & (past_level[at] <= p.max_extension * height[at])
            at = at[ok.to_numpy()]
            rvol = {}
            if p.min_rvol_time > 0:
                rvol = {k: _rvol_at_time(g, clock, k, p.rvol_sessions) if with_history else np.nan for k in at}
                at = at[[rvol[k] >= p.min_rvol_time for k in at]]
            for k in g.loc[at].groupby("date").head(1).index:  # the first per session and side
                close, hi, lo = g["close"][k], or_high[k], or_low[k]
                sign = 1.0 if long else -1.0
                stop = (hi + lo) / 2.0 if p.stop_at_midpoint else (lo if long else hi)
                span = g["high"][k] - g["low"][k]
                to_end = (close - g["low"][k]) if long else (g["high"][k] - close)
                strength = to_end / span if span > 0 else 1.0
                rv = rvol[k] if k in rvol else (_rvol_at_time(g, clock, k, p.rvol_sessions) if with_history else np.nan)
                score = (4.0 * clip01(volume_ratio[k] / (3.0 * p.volume_multiple))
                         + 2.0 * (0.0 if np.isnan(rv) else clip01(rv / 3.0))
                         + 2.0 * strength + 2.0 * clip01(1.0 - (minute[k] - p.or_window) / EARLY_MINUTES))
                rows.append({"date": day[k], "symbol": symbol, "side": side, "score": score, "entry": close,
                             "stop": stop, "target": close + sign * p.target_multiple * height[k],
                             "or_high": hi, "or_low": lo, "rvol_time": rv})
    return _finish(rows)


# --- AVWAP reclaim ---------------------------------------------------------------------------------


def avwap_reclaim(
    daily: pd.DataFrame, anchors: pd.DataFrame, params: AvwapReclaimParams = AvwapReclaimParams()
) -> pd.DataFrame:
    """Per symbol: each (session, anchor) pair crossed by the close; the best anchor per side."""
    p, m = params, params.max_extension_atr
    by_symbol = dict(tuple(anchors.groupby("symbol")))
    rows = []
    for symbol, g in daily.groupby("symbol"):
        if symbol not in by_symbol:
            continue
        g = g.sort_values("date").reset_index(drop=True)
        vol = g["volume"].astype(float)
        pv = (g["high"] + g["low"] + g["close"]) / 3.0 * vol
        cum_pv, cum_v = pv.cumsum().to_numpy(), vol.cumsum().to_numpy()
        pre_pv, pre_v = cum_pv - pv.to_numpy(), cum_v - vol.to_numpy()
        g_atr, g_sma = atr(g, p.atr_period), g["close"].rolling(p.trend_sma).mean()
        g_rvol = relative_volume(g["volume"], p.rvol_days)
        pos = pd.Series(g.index, index=g["date"])
        pairs = by_symbol[symbol][["date", "anchor_date", "anchor_type"]].drop_duplicates()
        pairs = pairs.assign(i=pairs["date"].map(pos), a=pairs["anchor_date"].map(pos)).dropna()
        pairs = pairs[pairs["a"] < pairs["i"]].astype({"i": int, "a": int})
        i, a = pairs["i"].to_numpy(), pairs["a"].to_numpy()
        pairs["avwap"] = (cum_pv[i] - pre_pv[a]) / (cum_v[i] - pre_v[a])
        prev_avwap = (cum_pv[i - 1] - pre_pv[a]) / (cum_v[i - 1] - pre_v[a])
        close, prev_close, avwap = g["close"].to_numpy()[i], g["close"].to_numpy()[i - 1], pairs["avwap"]
        reclaimed = (prev_close < prev_avwap) & (close > avwap)
        lost = (prev_close > prev_avwap) & (close < avwap)
        pairs["side"] = np.select([reclaimed, lost], ["long", "short"], "")
        ext = (close - avwap).abs() / g_atr.to_numpy()[i]  # distance from the AVWAP in ATRs
        not_extended = (1.5 * clip01((2 * m - ext) / m)).fillna(0.0)
        pairs["pts"] = pairs["anchor_type"].map(TYPE_WEIGHT).fillna(1.0) + not_extended
        for (date, side), grp in pairs[pairs["side"] != ""].groupby(["date", "side"]):
            best = grp.sort_values(["pts", "anchor_date"], ascending=False).iloc[0]
            k, long = best["i"], side == "long"
            bar, bar_atr, sma = g.loc[k], g_atr[k], g_sma[k]
            trend = (bar["close"] > sma) if long else (bar["close"] < sma)
            rvol_pts = 0.0 if np.isnan(g_rvol[k]) else 3.0 * clip01((g_rvol[k] - 0.5) / 1.5)
            score = best["pts"] + rvol_pts + 1.5 * trend + clip01(0.5 * (grp["anchor_date"].nunique() - 1))
            if np.isnan(bar_atr):
                stop = bar["low"] if long else bar["high"]
            else:
                stop = best["avwap"] - p.stop_atr * bar_atr if long else best["avwap"] + p.stop_atr * bar_atr
            entry = bar["close"]
            if score < p.min_score or entry < p.min_price or not ((stop < entry) if long else (stop > entry)):
                continue
            risk = abs(entry - stop)
            target = entry + p.reward_risk * risk if long else entry - p.reward_risk * risk
            rows.append({"date": date, "symbol": symbol, "side": side, "score": score, "entry": entry,
                         "stop": stop, "target": target, "anchor_date": best["anchor_date"],
                         "anchor_type": best["anchor_type"]})
    return _finish(rows)


# --- Breakout --------------------------------------------------------------------------------------


def breakout(daily: pd.DataFrame, params: BreakoutParams = BreakoutParams()) -> pd.DataFrame:
    """Per symbol: the longest tight base before each day (one column per base length) and the
    closes that leave it on volume."""
    p = params
    n0, n1 = p.min_consolidation_days, max(p.max_consolidation_days, p.min_consolidation_days)
    lengths = list(range(n0, n1 + 1))
    rows = []
    for symbol, g in daily.groupby("symbol"):
        g = g.sort_values("date").reset_index(drop=True)
        hi, lo, cl = g["high"].shift(1), g["low"].shift(1), g["close"].shift(1)  # the base excludes today
        highs = pd.concat([hi.rolling(n).max() for n in lengths], axis=1).to_numpy()
        lows = pd.concat([lo.rolling(n).min() for n in lengths], axis=1).to_numpy()
        means = pd.concat([cl.rolling(n).mean() for n in lengths], axis=1).to_numpy()
        widths = (highs - lows) / means * 100.0
        # Longest base: every length from n0 up to it qualifies (run = how many do; 0 = no base).
        run = np.cumprod(widths <= p.max_range_pct, axis=1).sum(axis=1)
        at = (np.arange(len(g)), np.maximum(run - 1, 0))
        range_high, range_low, range_pct = highs[at], lows[at], widths[at]
        close = g["close"].to_numpy()
        long, short = (run > 0) & (close > range_high), (run > 0) & (close < range_low)
        rel_volume = relative_volume(g["volume"], p.volume_days).to_numpy()
        avg_volume = g["volume"].astype(float).shift(1).rolling(p.volume_days).mean().to_numpy()
        ok = (long | short) & (rel_volume >= p.min_relative_volume) & (close >= p.min_price) & (
            avg_volume >= p.min_avg_volume
        )
        for k in np.flatnonzero(ok):
            bar, sign = g.loc[k], 1.0 if long[k] else -1.0
            day_range = bar["high"] - bar["low"]
            to_best = (bar["close"] - bar["low"]) if long[k] else (bar["high"] - bar["close"])
            location = to_best / day_range if day_range > 0 else 1.0
            score = (4.0 * clip01((rel_volume[k] - 1.0) / 3.0)
                     + 2.5 * clip01(1.0 - range_pct[k] / p.max_range_pct)
                     + 1.5 * clip01(run[k] / (n1 - n0 + 1)) + 2.0 * clip01(location))
            rows.append({"date": bar["date"], "symbol": symbol, "side": "long" if long[k] else "short",
                         "score": score, "entry": bar["close"], "stop": (range_high[k] + range_low[k]) / 2,
                         "target": bar["close"] + sign * (range_high[k] - range_low[k]),
                         "base_days": n0 + run[k] - 1})
    return _finish(rows)


# --- EMA pullback ----------------------------------------------------------------------------------


def ema_pullback(daily: pd.DataFrame, params: EmaPullbackParams = EmaPullbackParams()) -> pd.DataFrame:
    """Per symbol: EMAs, ATR, RSI as Series, then the trend / touch / bounce masks."""
    p = params
    rows = []
    for symbol, g in daily.groupby("symbol"):
        g = g.sort_values("date").reset_index(drop=True)
        c, h, lo, o = g["close"], g["high"], g["low"], g["open"]
        fast, slow = ema(c, p.ema_period), ema(c, p.slow_period)
        g_atr, g_rsi = atr(g, 14), rsi(c, 14)
        rel_volume = relative_volume(g["volume"], 20)
        avg_volume = g["volume"].astype(float).shift(1).rolling(20).mean()
        fast_then = fast.shift(p.slope_days)
        fast_prev, slow_prev, fast_prev_then = fast.shift(1), slow.shift(1), fast_then.shift(1)
        touch, tol = p.touch_pct / 100, p.close_tolerance_pct / 100
        up = ((fast_prev > slow_prev) & (fast_prev > fast_prev_then) & (lo <= fast * (1 + touch))
              & (c >= fast * (1 - tol)) & (((c > o) & (c > fast)) | (c > h.shift(1))))
        down = ((fast_prev < slow_prev) & (fast_prev < fast_prev_then) & (h >= fast * (1 - touch))
                & (c <= fast * (1 + tol)) & (((c < o) & (c < fast)) | (c < lo.shift(1))))
        ok = (up | down) & (g_atr > 0) & (c >= p.min_price) & (avg_volume >= p.min_avg_volume)
        low_n = lo.rolling(p.pullback_days, min_periods=1).min()
        high_n = h.rolling(p.pullback_days, min_periods=1).max()
        for k in np.flatnonzero(ok):
            long = bool(up[k])
            sign = 1.0 if long else -1.0
            extreme = low_n[k] if long else high_n[k]
            stop = extreme - sign * p.stop_atr * g_atr[k]
            spread = sign * (fast[k] / slow[k] - 1) * 100
            slope = sign * (fast[k] / fast_then[k] - 1) * 100
            touch_atr = abs((lo[k] if long else h[k]) - fast[k]) / g_atr[k]
            rsi_room = ((70.0 - g_rsi[k]) if long else (g_rsi[k] - 30.0)) / 20.0
            score = (2.5 * clip01(spread / 5.0) + 2.0 * clip01(slope / 2.5) + 2.0 * clip01(1.0 - touch_atr)
                     + 1.5 * clip01((rel_volume[k] - 0.5) / 1.5) + 2.0 * clip01(rsi_room))
            rows.append({"date": g["date"][k], "symbol": symbol, "side": "long" if long else "short",
                         "score": score, "entry": c[k], "stop": stop,
                         "target": c[k] + p.reward_risk * (c[k] - stop)})
    return _finish(rows)


# --- Exhaustion reversal ---------------------------------------------------------------------------


def _prior_atr(daily: pd.DataFrame, n: int) -> dict[str, pd.Series]:
    """Per symbol: the daily ATR Series indexed by date (NaN warm-up dropped)."""
    return {s: atr(g, n).set_axis(g["date"]).dropna() for s, g in _by_symbol(daily).items()}


def _value_before(series: pd.Series | None, dates: pd.Series) -> pd.Series:
    """For each of ``dates``, the last value of ``series`` (indexed by date) strictly before it."""
    if series is None or series.empty:
        return pd.Series(np.nan, index=dates.index)
    at = series.index.searchsorted(dates, side="left") - 1
    return pd.Series(np.where(at >= 0, series.to_numpy()[np.maximum(at, 0)], np.nan), index=dates.index)


def exhaustion_reversal(
    intraday_30m: pd.DataFrame,
    daily: pd.DataFrame,
    params: ExhaustionReversalParams = ExhaustionReversalParams(),
) -> pd.DataFrame:
    """Per symbol: session running extremes, VWAP and time-of-day volume on 30m bars, the prior
    session's daily ATR, then the first reversal bar per session and side."""
    p = params
    atrs = _prior_atr(daily, p.atr_period)
    rows = []
    for symbol, g in intraday_30m[intraday_30m["session"] == "regular"].groupby("symbol"):
        g = g.sort_values("ts").reset_index(drop=True)
        day, by_day = g["date"], g.groupby("date")
        h, lo, c = g["high"], g["low"], g["close"]
        session_atr = _value_before(atrs.get(symbol), day)  # the daily ATR as of the prior session
        tod = g["ts"].dt.tz_convert(NY_TZ).dt.time
        rvol_bar = _grouped_relative_volume(g["volume"], tod, p.volume_sessions)
        rel_volume = np.fmax(rvol_bar, rvol_bar.groupby(day).shift(1))
        session_open = by_day["open"].transform("first")
        run_high, run_low = by_day["high"].cummax(), by_day["low"].cummin()
        vol = g["volume"].astype(float)
        vwap = ((h + lo + c) / 3.0 * vol).groupby(day).cumsum() / vol.groupby(day).cumsum()
        prev_high, prev_low = by_day["high"].shift(1), by_day["low"].shift(1)
        third = (h - lo) / 3
        reach = p.min_extension_atr * session_atr
        short = ((run_high - session_open >= reach) & ((h == run_high) | (prev_high == run_high))
                 & (((h > lo) & (c <= lo + third)) | (c < prev_low)))
        long = ((session_open - run_low >= reach) & ((lo == run_low) | (prev_low == run_low))
                & (((h > lo) & (c >= h - third)) | (c > prev_high)))
        ok = (rel_volume >= p.volume_spike_threshold) & (session_atr > 0) & prev_high.notna()
        ok &= c >= p.min_price
        for side, fired in (("short", short & ok), ("long", long & ~short & ok)):
            is_long = side == "long"
            sign = 1.0 if is_long else -1.0
            for k in g[fired].groupby("date").head(1).index:  # the first bar per session and side
                extreme, bar_atr = (run_low[k] if is_long else run_high[k]), session_atr[k]
                stop = extreme - sign * p.stop_atr * bar_atr
                risk = abs(c[k] - stop)
                r_target = c[k] + sign * p.min_reward_risk * risk
                target = max(vwap[k], r_target) if is_long else min(vwap[k], r_target)
                span = h[k] - lo[k]
                location = ((c[k] - lo[k]) if is_long else (h[k] - c[k])) / span if span > 0 else 1.0
                engulfing = (c[k] > prev_high[k]) if is_long else (c[k] < prev_low[k])
                room = sign * (vwap[k] - c[k]) / risk
                score = (3.0 * clip01(abs(extreme - session_open[k]) / bar_atr / 3.0)
                         + 3.0 * clip01(rel_volume[k] / (2.0 * p.volume_spike_threshold))
                         + 2.0 * clip01(location) + 1.0 * engulfing
                         + (0.0 if np.isnan(room) else clip01(room / 2.0)))
                rows.append({"date": day[k], "symbol": symbol, "side": side, "score": score, "entry": c[k],
                             "stop": stop, "target": target})
    return _finish(rows)
