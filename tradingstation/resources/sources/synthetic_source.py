"""Deterministic, realistic fake market data for any symbol, fast enough for 8,000 symbols.

Why counter-based: every random number is a splitmix64 hash of (seed, symbol, weekday index,
bar index, stream), so a bar never depends on which other symbols or dates were requested.

The daily model (log prices, weekday index counted from 1995-01-02):
- each symbol has a home price ($10-$400; 98% of closes land in $7-$470), a daily volatility and
  a volume level; its price mean-reverts around home through anchors every 64 weekdays (an AR(1)
  over blocks; each anchor is defined by the 40 blocks before it, so cost is date-independent);
- inside a block the closes follow a variance-weighted bridge between two anchors, driven by
  16-day regimes: normal, trend, volatile, and consolidation (tight ranges, light volume) ending
  in a breakout day on 3-5x volume with follow-through;
- overnight gaps are mostly small; ~1.2% of symbol-days gap 4.5-10% on 3-6x volume with heavy,
  busy pre-market trading; ~2% of days carry a volume spike.
Intraday, the regular session is a path pinned to the day's open and close that touches its
high and low (placed early or late more often than midday), with U-shaped volatility and volume
that sums exactly to the daily volume; pre- and post-market minutes trade sparsely (10-25% of
minutes, thin volume). 30m bars aggregate the same regular-session 1m bars.

Earnings: each symbol reports every 65 weekdays (13 weeks) at its own phase, before the open or
after the close, both from the same hashes (so fixed for a seed, whatever the range asked); the
EPS estimate is drawn per report, the reported EPS and surprise only for reports dated before today.
The price model does not react to them: an earnings anchor lands on an ordinary bar.

(About 340 lines: one model, daily, intraday and earnings drawn from the same hashes, kept together.)

Longer than ~300 lines: the generator's realism (gaps, bases, spikes, U-shaped volume, earnings) is one model.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import polars as pl

from tradingstation.core import calendar
from tradingstation.resources.sources.base import EarningsResult, FetchResult, Interval, MarketDataSource

EPOCH = np.datetime64("1995-01-02")  # a Monday: weekday index 0
BLOCK, SEGMENT, MEMORY = 64, 16, 40
_G = np.uint64(0x9E3779B97F4A7C15)
_S = {name: np.uint64(c) for name, c in {
    "param": 0x243F6A8885A308D3, "anchor": 0x13198A2E03707344, "regime": 0xA4093822299F31D0,
    "day": 0x082EFA98EC4E6C89, "intra": 0x452821E638D01377, "bar": 0xBE5466CF34E90C6C,
    "pre": 0xC0AC29B7C97C50DD, "post": 0x3F84D5B5B5470917, "earn": 0x7D84A5C3BB2E1F09}.items()}
EARNINGS_EVERY = 65  # weekdays between a symbol's reports: 13 weeks, a quarter


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer over uint64 arrays (arithmetic wraps mod 2**64)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def hash_at(key: np.ndarray, index: np.ndarray, stream: str) -> np.ndarray:
    """Hash of each (key, index) pair in ``stream``; ``key`` and ``index`` broadcast."""
    with np.errstate(over="ignore"):
        return mix(key ^ (index.astype(np.uint64) * _G + _S[stream]))


def uniforms(h: np.ndarray, k: int) -> list[np.ndarray]:
    """``k`` independent uniforms in (0, 1) cut from the bits of each hash."""
    bits = 64 // k
    mask, scale = np.uint64((1 << bits) - 1), 1.0 / (1 << bits)
    return [(((h >> np.uint64(i * bits)) & mask).astype(np.float64) + 0.5) * scale for i in range(k)]


def normal(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def symbol_keys(symbols: list[str], seed: int) -> np.ndarray:
    digests = [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") for s in symbols]
    return mix(np.array(digests, dtype=np.uint64) ^ mix(np.array([seed % 2**64], dtype=np.uint64)))


def _weekday(dates: list[dt.date]) -> np.ndarray:
    return np.busday_count(EPOCH, np.array(dates, dtype="datetime64[D]")).astype(np.int64)


def _params(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per symbol: home log price, daily volatility, log base volume."""
    u = uniforms(mix(keys ^ _S["param"]), 4)
    home = np.log(10.0) + u[0] * np.log(400.0 / 10.0)
    sigma = 0.012 + 0.018 * (1 - u[0]) * u[1] + 0.006 * u[2]  # cheap stocks swing more
    log_vol = np.log(3e5) + u[3] * np.log(60.0) - 0.3 * (home - np.log(60.0))
    return home, sigma, log_vol


# Day states: 0 normal, 1 trend, 2 consolidation, 3 breakout, 4 follow-through, 5 volatile; per
# state: volatility multiple, weight of the regime magnitude in the drift, follow drift, rel. volume.
_VOLMULT = np.array([1.0, 0.85, 0.3, 1.2, 1.0, 1.6])
_MAG_W = np.array([0.0, 1.0, 0.0, 1.0, 0.0, -1.0])
_FOLLOW = np.array([0.0, 0.0, 0.0, 0.0, 0.4, 0.0])
_RELVOL = np.array([1.0, 1.1, 0.6, 0.0, 1.6, 1.3])  # breakout: 3-5x, from its size


def _regimes(keys: np.ndarray, sigma: np.ndarray, blocks: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per (symbol, block, segment): kind (0 normal, 1 trend, 2 consolidation+breakout, 3 volatile),
    direction and magnitude (log return per day, or of the breakout day); 16 hash bits a segment."""
    h = hash_at(keys[:, None], blocks[None], "regime")
    h = h[:, :, None] >> (np.arange(4, dtype=np.uint64) * np.uint64(16))
    r = h & np.uint64(63)  # kind: 41% normal, 25% trend, 19% consolidation, 16% volatile
    kind = (r >= np.uint64(26)).astype(np.int64) + (r >= np.uint64(42)) + (r >= np.uint64(54))
    sign = np.where((h >> np.uint64(6)) & np.uint64(1), 1.0, -1.0)
    u_mag = (((h >> np.uint64(7)) & np.uint64(511)).astype(np.float64) + 0.5) / 512
    low, span = np.array([0.0, 0.2, 2.5, 0.15])[kind], np.array([0.0, 0.35, 1.5, 0.0])[kind]
    return kind, sign, sigma[:, None, None] * (low + span * u_mag)


def _anchors(keys: np.ndarray, home: np.ndarray, sigma: np.ndarray, first: int, last: int) -> np.ndarray:
    """Log price at the start of blocks first..last: an AR(1) over blocks around home, each anchor
    defined by the MEMORY blocks before it (a fixed function of (symbol, block), cheap at any date)."""
    k0 = max(0, first - MEMORY)
    kind, sign, mag = _regimes(keys, sigma, np.arange(k0, last))
    s = sigma[:, None, None]
    # Planned drift of each block, so the bridge keeps trends and breakouts instead of undoing them.
    planned = np.array([0.0, 16.0, 1.0, -16.0])[kind] * mag + np.array([0.0, 0.0, 1.6, 0.0])[kind] * s
    drift = (sign * planned).sum(axis=2)
    u = uniforms(hash_at(keys[:, None], np.arange(k0, last + 1)[None], "anchor"), 4)
    z, z_start = normal(u[0], u[1]), normal(u[2], u[3])
    innov, phi = (sigma * np.sqrt(BLOCK) * 0.5)[:, None], 0.8
    targets = np.arange(first, last + 1)
    starts = np.maximum(targets - MEMORY, 0)
    anchors = home[:, None] + innov / np.sqrt(1 - phi**2) * z_start[:, starts - k0]
    for j in range(MEMORY):  # all anchors step together; each stops at its own block
        k = np.minimum(starts + j, last - 1) - k0
        step = home[:, None] + phi * (anchors - home[:, None]) + drift[:, k] + innov * z[:, k + 1]
        anchors = np.where(starts + j < targets, step, anchors)
    return anchors


def _daily_paths(keys: np.ndarray, w_lo: int, w_hi: int) -> dict[str, np.ndarray]:
    """Daily log close path and per-day draws for weekdays w_lo..w_hi, shape (symbols, days)."""
    n = len(keys)
    home, sigma, log_vol = _params(keys)
    k_lo, k_hi = w_lo // BLOCK, w_hi // BLOCK
    anchors = _anchors(keys, home, sigma, k_lo, k_hi + 1)  # (n, blocks + 1)
    s, blocks = sigma[:, None, None], np.arange(k_lo, k_hi + 1)
    local = blocks - k_lo
    w = (blocks[:, None] * BLOCK + np.arange(BLOCK)[None, :]).ravel()
    q, seg = np.arange(BLOCK) % SEGMENT, np.arange(BLOCK) // SEGMENT
    kind_d, sign_d, mag_d = (a[:, :, seg] for a in _regimes(keys, sigma, blocks))  # (n, blocks, BLOCK)
    state = np.array([0, 1, 2, 5])[kind_d]
    state[kind_d == 2] += np.broadcast_to((q == 11) + 2 * (q > 11), state.shape)[kind_d == 2]
    volmult = _VOLMULT[state]
    day_drift = sign_d * (_MAG_W[state] * mag_d + _FOLLOW[state] * s)
    relvol = np.where(state == 3, 3.0 + 2.0 * (mag_d / s - 2.5) / 1.5, _RELVOL[state])
    h = hash_at(keys[:, None], w[None], "day").reshape(n, len(blocks), BLOCK)
    za, zb, u_jump, u_spike, u_vol = uniforms(h, 5)
    u_size, u_gap, wick_h, wick_l = uniforms(mix(h ^ _S["day"]), 4)
    jump_size = np.where(u_size < 0.5, 1.0, -1.0) * (0.045 + 0.11 * np.abs(u_size - 0.5))  # 4.5-10%
    jump, dsig = np.where(u_jump < 0.012, jump_size, 0.0), volmult * s
    inc = day_drift + dsig * normal(za, zb) + jump
    c, cv = np.cumsum(inc, axis=2), np.cumsum(dsig**2, axis=2)
    start, total = anchors[:, local, None], (anchors[:, local + 1] - anchors[:, local])[:, :, None]
    spike = np.where(u_spike < 0.02, 2.0 + 100.0 * u_spike, 1.0) * np.where(jump != 0, 3.0 + 3.0 * u_vol, 1.0)
    out = {
        "logc": start + c - cv / cv[:, :, -1:] * (c[:, :, -1:] - total),  # bridge to the next anchor
        "jump": jump, "gap": 0.5 * dsig * (u_gap - 0.5), "dsig": dsig,
        "wick_h": -np.log(wick_h), "wick_l": -np.log(wick_l),
        "logv": log_vol[:, None, None] + np.log(relvol * spike) + 0.6 * (u_vol - 0.5),
    }
    days = slice(w_lo - k_lo * BLOCK, w_hi - k_lo * BLOCK + 1)
    return {name: np.broadcast_to(a, inc.shape).reshape(n, -1)[:, days] for name, a in out.items()}


def daily_bars(keys: np.ndarray, sessions: list[dt.date]) -> dict[str, np.ndarray]:
    """OHLCV (symbols, sessions) for ``sessions[1:]``; ``sessions[0]`` only lends its close."""
    w = _weekday(sessions)
    p = {k: v[:, w - w[0]] for k, v in _daily_paths(keys, int(w[0]), int(w[-1])).items()}
    closes = np.maximum(np.round(np.exp(p["logc"]), 2), 0.01)
    prev, close, p = closes[:, :-1], closes[:, 1:], {k: v[:, 1:] for k, v in p.items()}
    open_ = np.maximum(np.round(prev * np.exp(p["jump"] + p["gap"]), 2), 0.01)
    wide = np.where(p["jump"] != 0, 1.6, 1.0) * 0.45 * p["dsig"]
    top, bottom = np.maximum(open_, close), np.minimum(open_, close)
    high = np.maximum(np.round(top * np.exp(wide * p["wick_h"]), 2), top)
    low = np.minimum(np.maximum(np.round(bottom * np.exp(-wide * p["wick_l"]), 2), 0.01), bottom)
    volume = np.maximum(np.round(np.exp(p["logv"])), 100.0)
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume, "prev_close": prev,
            "jump": p["jump"], "dsig": p["dsig"]}


def _minute_bars(x: np.ndarray, wick: np.ndarray, uh: np.ndarray, ul: np.ndarray,
                 lo_cap: np.ndarray | float, hi_cap: np.ndarray | float) -> tuple[np.ndarray, ...]:
    """OHLC of bars between consecutive path points, wicks capped to [lo_cap, hi_cap]."""
    o, c = x[:, :-1], x[:, 1:]
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    high = np.maximum(np.round(np.minimum(top + wick * -np.log(uh), hi_cap), 2), top)
    low = np.minimum(np.round(np.maximum(bottom - wick * -np.log(ul), lo_cap), 2), bottom)
    return o, high, low, c


def _regular(bsd: np.ndarray, n_min: int, d: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Regular-session 1m OHLCV (symbols, minutes) that aggregate exactly to the daily bar."""
    n, (O, H, L, C, V) = len(bsd), (d[k] for k in ("open", "high", "low", "close", "volume"))
    u = uniforms(mix(bsd ^ _S["intra"]), 2)
    t_h, t_l = (1 + np.floor((n_min - 2) * (0.5 - 0.5 * np.cos(np.pi * v))).astype(np.int64) for v in u)
    t_l = np.where(t_l == t_h, np.where(t_h < n_min - 1, t_h + 1, t_h - 1), t_l)
    first_h = t_h < t_l
    zero, end = np.zeros(n, np.int64), np.full(n, n_min)
    knots = np.stack([zero, np.minimum(t_h, t_l), np.maximum(t_h, t_l), end], axis=1)
    vals = np.stack([O, np.where(first_h, H, L), np.where(first_h, L, H), C], 1)
    ub = uniforms(hash_at(bsd[:, None], np.arange(n_min)[None], "bar"), 5)
    t = np.arange(n_min + 1)
    curve = 1 + 1.5 * np.exp(-t[:-1] / 20) + 0.8 * np.exp(-(n_min - 1 - t[:-1]) / 25)
    walk = np.zeros((n, n_min + 1))
    np.cumsum(normal(ub[0], ub[1]) * curve, axis=1, out=walk[:, 1:])
    seg = (t[None] >= knots[:, 1:2]).astype(np.int64) + (t[None] >= knots[:, 2:3])
    ks, ke = np.take_along_axis(knots, seg, 1), np.take_along_axis(knots, np.minimum(seg + 1, 3), 1)
    vs, ve = np.take_along_axis(vals, seg, 1), np.take_along_axis(vals, np.minimum(seg + 1, 3), 1)
    frac = (t[None] - ks) / np.maximum(ke - ks, 1)
    wks, wke = np.take_along_axis(walk, ks, 1), np.take_along_axis(walk, ke, 1)
    scale = (0.4 * (H - L) / np.sqrt(n_min))[:, None]
    x = vs + frac * (ve - vs) + scale * (walk - wks - frac * (wke - wks))  # pinned between knots
    x = np.round(np.clip(x, L[:, None], H[:, None]), 2)
    np.put_along_axis(x, knots, vals, 1)  # open, close, high and low exactly where planned
    o, high, low, c = _minute_bars(x, 0.5 * scale, ub[2], ub[3], L[:, None], H[:, None])
    u_shape = 1 + 2.5 * np.exp(-t[:-1] / 18) + 1.6 * np.exp(-(n_min - 1 - t[:-1]) / 22)
    weights = u_shape * np.exp(ub[4] - 0.5)
    vol = np.floor(V[:, None] * weights / weights.sum(axis=1, keepdims=True))
    vol[:, -1] += V - vol.sum(axis=1)  # the remainder keeps the daily sum exact
    return o, high, low, c, vol


def _extended(bsd: np.ndarray, n_min: int, d: dict[str, np.ndarray], pre: bool) -> tuple[np.ndarray, ...]:
    """Sparse pre-market (prev close -> open) or post-market (from the close) 1m bars, traded mask."""
    n, gap_day = len(bsd), d["jump"] != 0
    up = uniforms(mix(bsd ^ _S["pre" if pre else "post"]), 2)
    ub = uniforms(hash_at(bsd[:, None], np.arange(n_min)[None], "pre" if pre else "post"), 6)
    i = np.arange(n_min)[None] / n_min
    busy = np.where(gap_day, 0.6 + 0.3 * up[0], 0.10 + 0.15 * up[0])[:, None]
    share = np.where(gap_day, 0.10 + 0.15 * up[1], 0.004 + 0.01 * up[1]) * (1.0 if pre else 0.5)
    ramp = (0.5 + i) if pre else (1.5 - i)  # busier towards the open, quieter after the close
    traded = ub[0] < busy * ramp
    walk = np.zeros((n, n_min + 1))
    np.cumsum(normal(ub[1], ub[2]), axis=1, out=walk[:, 1:])
    ref = d["prev_close"] if pre else d["close"]
    scale = (0.25 * d["dsig"] * ref / np.sqrt(n_min))[:, None]
    t = np.arange(n_min + 1)[None] / n_min
    if pre:  # news lands overnight: trading starts near the gapped level and drifts to the open
        begin = ref * np.exp(0.85 * d["jump"])
        path = begin[:, None] + (d["open"] - begin)[:, None] * t + scale * (walk - t * walk[:, -1:])
    else:
        path = ref[:, None] + scale * walk
    x = np.maximum(np.round(path, 2), 0.01)
    o, high, low, c = _minute_bars(x, 0.5 * scale, ub[3], ub[4], 0.01, np.inf)
    weights = traded * ramp * np.exp(ub[5] - 0.5)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    vol = np.maximum(np.round((share * d["volume"])[:, None] * weights), 1)
    return o, high, low, c, vol, traded


def _frame(symbols: list[str], rows: np.ndarray, ts_us: np.ndarray, cols: tuple) -> pl.DataFrame:
    return pl.DataFrame({
        "symbol": pl.Series(symbols, dtype=pl.String).gather(rows),
        "ts": pl.Series(ts_us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
        **dict(zip(("open", "high", "low", "close", "volume"), cols, strict=True)),
    })


def _us(t: dt.datetime) -> int:
    return int(t.timestamp()) * 1_000_000


class SyntheticSource(MarketDataSource):
    """Deterministic fake bars for any symbol (see the module docstring for the model)."""

    seed: int = 7
    extended_hours: bool = True  # pre- and post-market 1m bars

    def _fetch(self, symbols: list[str], interval: Interval, start: dt.date, end: dt.date) -> FetchResult:
        result = self._generate(symbols, interval, start, end)
        # Like a live feed, never serve a bar that has not finished yet (a run during today's session).
        now = dt.datetime.now(dt.timezone.utc)
        if result.bars.height and result.bars["ts"].max() + dt.timedelta(days=1) > now:
            length = pl.duration(minutes=interval.minutes) if interval.intraday else pl.duration(hours=7)
            result.bars = result.bars.filter(pl.col("ts") + length <= now)
        return result

    def _earnings(self, symbols: list[str], start: dt.date, end: dt.date) -> EarningsResult:
        keys = symbol_keys(symbols, self.seed)
        phase_u, timing_u = uniforms(mix(keys ^ _S["earn"]), 2)
        phase = np.floor(phase_u * EARNINGS_EVERY).astype(np.int64)
        w_lo, w_hi = _weekday([start])[0], _weekday([end])[0]
        first = (w_lo - phase) // EARNINGS_EVERY  # the report number at or before start, per symbol
        k = first[:, None] + np.arange((w_hi - w_lo) // EARNINGS_EVERY + 2)[None]
        weekday = phase[:, None] + k * EARNINGS_EVERY  # (symbols, reports)
        est_u, surprise_u = uniforms(hash_at(keys[:, None], k, "earn"), 2)
        home = np.exp(_params(keys)[0])[:, None]
        estimate = np.round(home * (0.005 + 0.02 * est_u), 2)  # a quarter's EPS: 0.5-2.5% of the price
        surprise = np.round(40.0 * (surprise_u - 0.4), 2)  # percent, beats more often than misses
        rows = np.repeat(np.arange(len(symbols)), k.shape[1])
        after = (timing_u >= 0.5)[rows]
        dates = np.busday_offset(EPOCH, weekday.ravel(), roll="forward").astype("datetime64[D]")
        clock = np.where(after, 16 * 60 + 5, 7 * 60)  # 16:05 or 07:00 New York
        events = pl.DataFrame({
            "symbol": pl.Series(symbols, dtype=pl.String).gather(rows),
            "report_date": pl.Series(dates).cast(pl.Date),
            "_minute": clock, "eps_estimate": estimate.ravel(), "_surprise": surprise.ravel(),
        })
        local = pl.col("report_date").cast(pl.Datetime("us")) + pl.duration(minutes=pl.col("_minute"))
        reported = pl.col("report_date") < calendar.today_ny()
        events = events.filter(pl.col("report_date").is_between(start, end)).with_columns(
            report_ts=local.dt.replace_time_zone(calendar.NY_TZ).dt.convert_time_zone("UTC"),
            surprise_pct=pl.when(reported).then(pl.col("_surprise")),
            reported_eps=pl.when(reported).then((pl.col("eps_estimate") * (1 + pl.col("_surprise") / 100)).round(2)),
        )
        return EarningsResult(events.drop("_minute", "_surprise"))

    def _generate(self, symbols: list[str], interval: Interval, start: dt.date, end: dt.date) -> FetchResult:
        sessions = calendar.sessions_in_range(start, end)
        if not sessions:
            return FetchResult.empty()
        keys = symbol_keys(symbols, self.seed)
        daily = daily_bars(keys, [calendar.previous_session(sessions[0]), *sessions])
        n = len(symbols)
        if interval is Interval.DAY:
            opens = np.array([_us(calendar.session_open(s)) for s in sessions], dtype=np.int64)
            rows = np.repeat(np.arange(n), len(sessions))
            cols = tuple(daily[k].ravel() for k in ("open", "high", "low", "close", "volume"))
            return FetchResult(_frame(symbols, rows, np.tile(opens, n), cols))
        parts = []
        weekdays = _weekday(sessions)
        for j, session in enumerate(sessions):
            times = calendar.session_times(session)
            d = {k: v[:, j] for k, v in daily.items()}
            bsd = hash_at(keys, np.full(n, weekdays[j]), "intra")
            n_reg = (_us(times.close) - _us(times.open)) // 60_000_000
            reg = _regular(bsd, n_reg, d)
            if interval is Interval.MINUTE_30:
                o, h, l, c, v = (a.reshape(n, n_reg // 30, 30) for a in reg)
                reg = (o[:, :, 0], h.max(2), l.min(2), c[:, :, -1], v.sum(2))
            ts = _us(times.open) + 60_000_000 * interval.minutes * np.arange(reg[0].shape[1])
            rows = np.repeat(np.arange(n), len(ts))
            parts.append(_frame(symbols, rows, np.tile(ts, n), tuple(a.ravel() for a in reg)))
            if interval is Interval.MINUTE_1 and self.extended_hours:
                for pre, t0, t1 in ((True, times.premarket_open, times.open),
                                    (False, times.close, times.postmarket_close)):
                    *bars, traded = _extended(bsd, (_us(t1) - _us(t0)) // 60_000_000, d, pre)
                    rows, minute = np.nonzero(traded)
                    ts = _us(t0) + 60_000_000 * minute
                    parts.append(_frame(symbols, rows, ts, tuple(a[traded] for a in bars)))
        return FetchResult(pl.concat(parts))
