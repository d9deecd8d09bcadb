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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from screeners import common
from screeners import indicators as ind
from tradingstation.core.calendar import NY_TZ as NY

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


def _order(df: pl.DataFrame, by: str) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """``df`` sorted by (symbol, ``by``) (checked first: much cheaper than sorting sorted bars), each
    row's symbol number (0, 1, ... in symbol order) and the symbols."""
    for attempt in (0, 1):
        sid = df["symbol"].rle_id().cast(pl.Int64)
        first = (sid != sid.shift(1)).fill_null(True)
        names, t = df["symbol"].gather(first.arg_true()), df[by]  # a few rows: cheaper than a filter
        if attempt or ((names > names.shift(1)).all() and ((t > t.shift(1)) | first).all()):
            if any(1 in col.chunk_lengths() for col in df.iter_columns()):  # as after a sort: polars
                df = df.rechunk()  # divides a 1-row chunk by a constant differently (not by reciprocal)
            return df, sid.set_sorted(), names
        df = df.sort("symbol", by)
    raise AssertionError


def _nulls(n: int, dtype: pl.DataType) -> pl.Series:
    return pl.repeat(None, n, dtype=dtype, eager=True)  # for Series.zip_with


def _prior_atr(daily: pl.DataFrame, n: int, names: pl.Series, sid: pl.Series, date: pl.Series) -> pl.Series:
    """Per session (``names[sid]``, ``date``): the ATR(n) of the symbol's last daily bar before the date,
    nulls skipped (join_asof by symbol, strictly before), as a binary search on (symbol, date) keys.
    The ATR is ``ind.atr(...).over("symbol")`` with one operation per ``.over`` (far faster)."""
    if n < 1:
        raise ValueError(f"period must be a positive int, got {n!r}")
    d, dsid, dnames = _order(daily.select("symbol", "date", "high", "low", "close"), "date")
    prior_close = pl.when(pl.col("_d") == pl.col("_d").shift(-1)).then(pl.col("close"))  # same symbol
    d = d.with_columns(_d=dsid).with_columns(x=ind.true_range("high", "low", prior_close))
    x, count = pl.col("x"), pl.col("_count")  # from here on ind._seeded_ewm, per symbol
    d = d.with_columns(
        _count=x.is_not_null().cum_sum().over("_d"), _sum=x.fill_null(0.0).cum_sum().over("_d")
    )
    seeded = pl.when(x.is_not_null() & (count == n)).then(pl.col("_sum") / n).when(count > n).then(x)
    ewm = pl.col("_seeded").ewm_mean(alpha=1.0 / n, adjust=False, min_samples=1, ignore_nulls=True)
    d = d.with_columns(_seeded=seeded).select("_d", "date", atr=ewm.over("_d"))
    ids = pl.DataFrame({"symbol": names, "_s": pl.int_range(len(names), dtype=pl.Int64, eager=True)})
    to_sid = pl.DataFrame({"symbol": dnames}).join(ids, on="symbol", how="left", maintain_order="left")["_s"]

    def key(sid: pl.Series, date: pl.Series) -> pl.Series:  # ordered like (symbol, date)
        return sid * 2**32 + date.cast(pl.Int32).cast(pl.Int64) + 2**31

    d = pl.DataFrame({"k": key(to_sid.gather(d["_d"]), d["date"]), "atr": d["atr"]}).drop_nulls()
    at = d["k"].search_sorted(key(sid, date), side="left").cast(pl.Int64) - 1
    at = at.zip_with(at >= 0, _nulls(len(at), pl.Int64))
    same = (d["k"].gather(at) // 2**32 == sid).fill_null(False)
    return d["atr"].gather(at).zip_with(same, _nulls(len(at), pl.Float64))


def _tod_relative_volume(
    reg: pl.DataFrame, sid: pl.Series, g: pl.Series, starts: pl.Series, n: int
) -> pl.Series:
    """``ind.relative_volume_at_time("volume", n).over("symbol", NY time of day)``, value for value.

    Fast path, when all sessions have ``w`` bars at the NY times of day of the symbol's session
    before (the usual case): the same time of day is ``w`` bars back, so the window is the bars
    ``w`` ... ``n*w`` back, summed in whole numbers (exact, as the rolling mean's sum of whole
    volumes). The NY offset is converted per session (equal at its first and last bar). Any
    other layout (a half-day, a missing bar) takes the per-group window.
    """
    ts, size = reg["ts"], reg.height
    ends = pl.concat([starts.slice(1), pl.Series([size], dtype=pl.Int64)]) - 1

    def offset(at: pl.Series) -> pl.Series:  # converted once per distinct timestamp (one per session)
        stamps = ts.gather(at)
        distinct = stamps.unique()
        utc = distinct.dt.replace_time_zone(None)
        shift = (distinct.dt.convert_time_zone(NY).dt.replace_time_zone(None) - utc).cast(pl.Int64)
        return stamps.replace_strict(distinct, shift, return_dtype=pl.Int64)

    w, off = int(ends[0] - starts[0] + 1), offset(starts)
    if ((ends - starts + 1) == w).all() and (off == offset(ends)).all():
        tod = (ts.cast(pl.Int64) + off.gather(g)) % 86_400_000_000
        back = {k: (sid == sid.shift(k * w)).fill_null(False) for k in (1, n)}  # k sessions back, same symbol
        if ((tod == tod.shift(w)) | ~back[1]).all():
            window = _slot_sums(reg["volume"], w, n)
            mean = window.cast(pl.Float64) / pl.repeat(float(n), size, eager=True)  # true /
            known = back[n] & (mean != 0.0).fill_null(False)  # no volume in the slot: no ratio (not NaN)
            rvol = (reg["volume"].cast(pl.Float64) / mean).fill_nan(None)
            return rvol.zip_with(known, _nulls(size, pl.Float64))
    tod = ts.dt.convert_time_zone(NY).dt.time()
    return reg.select(ind.relative_volume_at_time("volume", n).over(pl.col("symbol"), tod)).to_series()


def _slot_sums(volume: pl.Series, w: int, n: int) -> pl.Series:
    """Per bar: the sum of the volumes ``w``, ``2w`` ... ``n*w`` bars back, nulls as 0 (and as 0
    before the frame). Integer volumes are summed by doubling (sums of 1, 2, 4 ... slots, each
    the previous one plus itself shifted), exact; a float volume adds the ``n`` bars in order."""
    if not volume.dtype.is_integer():
        return pl.select(pl.sum_horizontal(volume.shift(k * w) for k in range(1, n + 1))).to_series()
    spans = {1: volume.fill_null(0).shift(w, fill_value=0)}  # span: the sum of that many slots
    while 2 * max(spans) <= n:
        m = max(spans)
        spans[2 * m] = spans[m] + spans[m].shift(m * w, fill_value=0)
    total, done = None, 0
    for m in sorted(spans, reverse=True):  # n in binary: the spans end to end
        if done + m <= n:
            part = spans[m].shift(done * w, fill_value=0)
            total, done = part if total is None else total + part, done + m
    return total


def _running(reg: pl.DataFrame, cand: pl.DataFrame) -> pl.DataFrame:
    """Each candidate's session open, running high/low and prior bar high/low (gathered by row)."""
    r, j = cand["_row"], cand["_j"]
    back = {k: (r - k).clip(lower_bound=0) for k in range(1, (j.max() or 0) + 1)}
    bars = pl.DataFrame({f"{c}{k}": reg[c].gather(at) for c in ("high", "low") for k, at in back.items()})
    bars = bars.with_columns(j=j, high=cand["high"], low=cand["low"])
    run = bars.select(  # bar k back counts when it is in the same session (j >= k)
        run_high=pl.max_horizontal("high", *(pl.when(pl.col("j") >= k).then(f"high{k}") for k in back)),
        run_low=pl.min_horizontal("low", *(pl.when(pl.col("j") >= k).then(f"low{k}") for k in back)),
    )
    prior = {"prev_high": bars["high1"], "prev_low": bars["low1"]}
    return cand.with_columns(session_open=reg["open"].gather(r - j), **run.to_dict(), **prior)


def _session_vwap(reg: pl.DataFrame, sig: pl.DataFrame) -> pl.Series:
    """``ind.vwap(...).over(KEY)`` at the signal bars: the same running sums, added bar by bar from
    the session's first bar as ``cum_sum`` does (the products on one single-chunk frame)."""
    size, start, j = sig.height, sig["_row"] - sig["_j"], sig["_j"]
    at = pl.concat(
        [(start + k).clip(upper_bound=reg.height - 1) for k in range((j.max() or 0) + 1)], rechunk=True
    )
    v = pl.col("volume").cast(pl.Float64)
    bars = reg[at].select(pv=ind.typical_price("high", "low", "close") * v, v=v)
    pv, vol = pl.Series([0.0] * size), pl.Series([0.0] * size)
    for k in range((j.max() or 0) + 1):
        pv = pv + bars["pv"].slice(k * size, size).zip_with(j >= k, pv * 0.0)
        vol = vol + bars["v"].slice(k * size, size).zip_with(j >= k, vol * 0.0)
    return (pv / vol).zip_with(vol > 0, _nulls(size, pl.Float64))


def screen(
    intraday_30m: pl.DataFrame,
    daily: pl.DataFrame | None = None,
    params: ExhaustionReversalParams = ExhaustionReversalParams(),
) -> pl.DataFrame:
    """Exhaustion reversals for every session in ``intraday_30m`` (each uses bars up to its own)."""
    p = params
    regular = intraday_30m.select((pl.col("session") == "regular").fill_null(False)).to_series()
    # 30-minute bars are usually all regular: then the filter (a copy of every column) is skipped
    reg = (intraday_30m if regular.all() else intraday_30m.filter(regular)).drop("session")
    if reg.is_empty():
        return common.empty_signals(DETAIL)
    reg, sid, names = _order(reg, "ts")  # sessions are runs of rows: no windows .over(KEY)
    first = ((sid != sid.shift(1)) | (reg["date"] != reg["date"].shift(1))).fill_null(True)
    g, starts = first.cast(pl.Int64).cum_sum() - 1, first.arg_true().cast(pl.Int64)  # session no., first rows
    if daily is None:  # session bars from the 30m bars
        aggs = (pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last())
        daily = reg.group_by(KEY, maintain_order=True).agg(*aggs)
    # The daily ATR and the 30-minute relative volume read different frames: the ATR runs on a
    # second thread meanwhile (eager Series operations run on the calling thread, one core each).
    with ThreadPoolExecutor(1) as pool:
        dates = reg["date"].gather(starts)
        atr_job = pool.submit(_prior_atr, daily, p.atr_period, names, sid.gather(starts), dates)
        rvol = _tod_relative_volume(reg, sid, g, starts, p.volume_sessions)
        session_atr = atr_job.result()
    # Candidates: a spike on this bar or the prior one, not a session's first bar, price high enough.
    spike = (rvol >= p.volume_spike_threshold).fill_null(False)
    rows = ((spike | spike.shift(1).fill_null(False)) & ~first & (reg["close"] >= p.min_price)).arg_true()
    if rows.is_empty():
        return common.empty_signals(DETAIL)
    rows = rows.cast(pl.Int64)
    cand = reg[rows].with_columns(
        _row=rows,
        _g=g.gather(rows),
        _j=rows - starts.gather(g.gather(rows)),
        rel_volume=pl.max_horizontal(rvol.gather(rows), rvol.gather(rows - 1)),
        third=(reg["high"].gather(rows) - reg["low"].gather(rows)) / 3,  # a Series op, as on all rows
    )
    df = _running(reg, cand).with_columns(atr=session_atr.gather(cand["_g"]))
    h, lo, c = pl.col("high"), pl.col("low"), pl.col("close")
    atr_, third = pl.col("atr"), pl.col("third")
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
            pl.col("side").is_not_null() & (atr_ > 0) & (pl.col("rel_volume") >= p.volume_spike_threshold)
        )
        .filter(pl.col("_row") == pl.col("_row").min().over("_g", "side"))  # first per session and side
    )
    df = df.with_columns(session_vwap=_session_vwap(reg, df))
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
        pl.col("ts").dt.convert_time_zone(NY).dt.strftime("%H:%M"),
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
    """``python -m screeners.exhaustion_reversal``: its registry spec run as a command."""
    from tradingstation.cli.screen import run_screener  # the one upward call: the CLI layer runs it

    return run_screener("exhaustion_reversal", argv)


if __name__ == "__main__":
    raise SystemExit(main())
