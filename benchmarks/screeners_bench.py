"""Analytics figures: AVWAP anchors + the six screeners on 500 / 2,000 / 8,000 symbols, against the
per-symbol pandas baseline; the indicators against a per-symbol TA-Lib loop.

Data (synthetic source, generated untimed): 200 daily sessions, the 1-minute session after them
(pre-market to post-market) and 38 sessions of regular 30-minute bars (494 per symbol) ending on
that session; the smaller sizes are the first symbols of the 8,000. The vectorized path runs
``find_anchors`` then gapgo, orb, avwap_reclaim, breakout, ema_pullback and exhaustion_reversal,
the way the signal assets call them (the daily screeners screen every session of the window).

- **time and memory**, per size: a fresh child process loads the inputs from Parquet (untimed),
  runs the path ``REPEAT`` times (asserting every repeat returns the same frames) and reports the
  best total. Its peak resident memory is ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` seen by a small
  launcher process that starts it (a child of this big process would inherit this process's
  high-water mark at fork + exec), inputs included. Targets at 8,000: <= 2.5 s, <= 2 GB.
- **pandas baseline** (``benchmarks.pandas_baseline``, one symbol at a time): on the first
  ``BASELINE_SYMBOLS`` symbols, its results first compared with the screeners' (same signals, prices
  to the cent, scores within rounding: an assert), then both timed best of ``REPEAT`` on that same
  subset: that ratio is measured. The 8,000-symbol baseline is that time EXTRAPOLATED linearly (the
  loop is per symbol), and the line says so.
- **TA-Lib loop**: SMA 20, EMA 21/50, RSI 14 and ATR 14 over the 8,000-symbol daily bars,
  ``screeners.indicators`` with ``.over("symbol")`` against a loop calling TA-Lib on each symbol's
  numpy slices (the columns converted once, outside the loop); equal (NaN where null, rtol 1e-8)
  before timing. Reported.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.common import REPEAT, Figure, best_of, peak_rss_of
from tradingstation.core import calendar, schemas
from tradingstation.resources.sources.synthetic_source import SyntheticSource

SYMBOLS = [f"S{i:04d}" for i in range(8000)]
SIZES = (500, 2000, 8000)
SESSION = "2025-11-25"  # the 1-minute session; the daily window is the 200 sessions before it
DAILY_SESSIONS, SESSIONS_30M = 200, 38
BASELINE_SYMBOLS = 200
TARGET_SECONDS, TARGET_GB = 2.5, 2.0
STEPS = ["anchors", "gapgo", "orb", "avwap_reclaim", "breakout", "ema_pullback", "exhaustion_reversal"]
FRAMES = ("daily", "minutes", "bars30")
SCORE_TOLERANCE = 0.0051  # the screeners round scores to 2 decimals, the baseline does not


def build(symbols: list[str], out: Path) -> dict[str, int]:
    """Write daily.parquet, minutes.parquet and bars30.parquet for ``symbols`` under ``out``, and
    the first ``n`` symbols' under ``out/<n>`` for each smaller size."""
    source = SyntheticSource()
    sessions = calendar.sessions_before(SESSION, DAILY_SESSIONS)
    first_30m = calendar.sessions_before(SESSION, SESSIONS_30M - 1)[0]

    def fetch(interval: str, start, end) -> pl.DataFrame:
        raw = source.fetch(symbols, interval, start, end).bars
        return schemas.validate_bars(raw, intraday=interval != "1d").bars

    frames = {"daily": fetch("1d", sessions[0], sessions[-1]), "minutes": fetch("1m", SESSION, SESSION),
              "bars30": fetch("30m", first_30m, SESSION)}
    for n in (*SIZES, BASELINE_SYMBOLS):
        folder = out / str(n)
        folder.mkdir(exist_ok=True)
        keep = pl.col("symbol").is_in(symbols[:n])
        for name, frame in frames.items():
            frame.filter(keep).write_parquet(folder / f"{name}.parquet")
    return {name: frame.height for name, frame in frames.items()}


def load(folder: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(folder / f"{name}.parquet") for name in FRAMES}


def vectorized_steps(daily: pl.DataFrame, minutes: pl.DataFrame, bars30: pl.DataFrame) -> dict[str, Callable]:
    """The polars path, one callable per step (avwap_reclaim uses the anchors step's result)."""
    from screeners import (
        avwap_anchors,
        avwap_reclaim,
        breakout,
        ema_pullback,
        exhaustion_reversal,
        gapgo,
        orb,
    )

    found: dict[str, pl.DataFrame] = {}

    def anchors() -> pl.DataFrame:
        found["anchors"] = avwap_anchors.find_anchors(daily)
        return found["anchors"]

    return {
        "anchors": anchors,
        "gapgo": lambda: gapgo.screen(daily, minutes),
        "orb": lambda: orb.screen(minutes),
        "avwap_reclaim": lambda: avwap_reclaim.screen(daily, found["anchors"]),
        "breakout": lambda: breakout.screen(daily),
        "ema_pullback": lambda: ema_pullback.screen(daily),
        "exhaustion_reversal": lambda: exhaustion_reversal.screen(bars30, daily),
    }


def baseline_steps(daily, minutes, bars30) -> dict[str, Callable]:
    """The same path with ``benchmarks.pandas_baseline`` on pandas frames."""
    from benchmarks import pandas_baseline as pb

    found = {}

    def anchors():
        found["anchors"] = pb.anchors(daily)
        return found["anchors"]

    return {
        "anchors": anchors,
        "gapgo": lambda: pb.gapgo(daily, minutes),
        "orb": lambda: pb.orb(minutes),
        "avwap_reclaim": lambda: pb.avwap_reclaim(daily, found["anchors"]),
        "breakout": lambda: pb.breakout(daily),
        "ema_pullback": lambda: pb.ema_pullback(daily),
        "exhaustion_reversal": lambda: pb.exhaustion_reversal(bars30, daily),
    }


def run_steps(steps: dict[str, Callable]) -> tuple[dict[str, float], dict[str, object]]:
    """Seconds per step and each step's result."""
    times, results = {}, {}
    for name, step in steps.items():
        start = time.perf_counter()
        results[name] = step()
        times[name] = time.perf_counter() - start
    return times, results


def timed_path(steps_of: Callable[[], dict[str, Callable]], cpu: list[float] | None = None,
               ) -> tuple[float, dict[str, float], dict]:
    """Best total of REPEAT runs of the path, each step's best, and the results (equal every run);
    ``cpu`` gets each run's CPU seconds (all threads), which say how much the machine's load cost."""
    runs, first = [], None
    for _ in range(REPEAT):
        started = time.process_time()
        times, results = run_steps(steps_of())
        if cpu is not None:
            cpu.append(time.process_time() - started)
        if first is None:
            first = results
        else:
            for name in STEPS:
                assert results[name].equals(first[name]), f"{name} returned different results on a repeat"
        runs.append(times)
    return min(sum(t.values()) for t in runs), {n: min(t[n] for t in runs) for n in STEPS}, first


def child(folder: str) -> None:
    """In a fresh process: load the inputs, time the vectorized path, print the times as JSON."""
    frames = load(Path(folder))
    cpu: list[float] = []
    total, per_step, _ = timed_path(lambda: vectorized_steps(**frames), cpu)
    print(json.dumps({"total": total, "steps": per_step, "cpu": min(cpu)}))


def measure_size(folder: Path) -> dict:
    """Times (from the child) and peak RSS (from its launcher) of the vectorized path on ``folder``."""
    peak, out = peak_rss_of([sys.executable, "-m", "benchmarks.screeners_bench", "--child", str(folder)])
    return json.loads(out.strip().splitlines()[-1]) | {"peak": peak}


def differences(name: str, expected: pl.DataFrame, got) -> str | None:
    """None when the pandas result ``got`` equals the screener's: anchors by key and AVWAP, signals by
    (date, symbol, side) with prices to the cent and scores within SCORE_TOLERANCE."""
    got_pl = pl.from_pandas(got) if len(got) else expected.clear()
    dates = [c for c in ("date", "anchor_date") if c in got_pl.columns]
    got_pl = got_pl.with_columns(pl.col(dates).cast(pl.Date))
    if name == "anchors":
        key, values = ["date", "symbol", "anchor_date", "anchor_type"], ["avwap"]
    else:
        key, values = ["date", "symbol", "side"], ["entry", "stop", "target", "score"]
    joined = expected.select(*key, *values).join(got_pl.select(*key, *values), on=key, how="full", coalesce=True,
                                                 suffix="_pandas")
    only = joined.filter(pl.col(values[0]).is_null() | pl.col(f"{values[0]}_pandas").is_null())
    if only.height:
        return f"{name}: signal sets differ ({expected.height} polars vs {len(got)} pandas):\n{only.head(5)}"
    scale = float(joined["avwap"].abs().max() or 1.0) if name == "anchors" else 1.0
    tolerance = {"avwap": 1e-9 * scale, "score": SCORE_TOLERANCE}
    far = pl.any_horizontal((pl.col(c) - pl.col(f"{c}_pandas")).abs() > tolerance.get(c, 0.005) for c in values)
    bad = joined.filter(far)
    return f"{name}: values differ:\n{bad.head(5)}" if bad.height else None


def measure_baseline(folder: Path) -> tuple[float, dict[str, float], float, dict[str, float], dict[str, int]]:
    """On the subset: assert the pandas baseline agrees with the screeners, then time both."""
    frames = load(folder)
    pandas_frames = {name: frame.to_pandas() for name, frame in frames.items()}  # conversion untimed
    _, expected = run_steps(vectorized_steps(**frames))
    _, got = run_steps(baseline_steps(**pandas_frames))
    problems = [p for name in STEPS if (p := differences(name, expected[name], got[name]))]
    assert not problems, "the pandas baseline disagrees with the screeners:\n" + "\n".join(problems)
    vec_total, vec_steps, _ = timed_path(lambda: vectorized_steps(**frames))
    base_total, base_steps, _ = timed_path(lambda: baseline_steps(**pandas_frames))
    return vec_total, vec_steps, base_total, base_steps, {name: expected[name].height for name in STEPS}


def indicator_figure(daily: pl.DataFrame) -> Iterator:
    """``screeners.indicators`` over every symbol against a per-symbol TA-Lib loop: equal, then timed."""
    import talib

    from screeners import indicators as ind
    from screeners.indicators import sorted_by

    bars = sorted_by(daily, "symbol", "date")
    exprs = {
        "sma20": ind.sma("close", 20), "ema21": ind.ema("close", 21), "ema50": ind.ema("close", 50),
        "rsi14": ind.rsi("close", 14), "atr14": ind.atr("high", "low", "close", 14),
    }

    def vectorized() -> pl.DataFrame:
        return bars.select(*(e.over("symbol").alias(n) for n, e in exprs.items()))

    columns = {c: bars[c].cast(pl.Float64).to_numpy() for c in ("high", "low", "close")}
    bounds = np.flatnonzero(np.r_[True, bars["symbol"].to_numpy()[1:] != bars["symbol"].to_numpy()[:-1], True])

    def talib_loop() -> dict[str, np.ndarray]:
        out = {n: np.empty(bars.height) for n in exprs}
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            h, lo, c = columns["high"][a:b], columns["low"][a:b], columns["close"][a:b]
            out["sma20"][a:b] = talib.SMA(c, 20)
            out["ema21"][a:b] = talib.EMA(c, 21)
            out["ema50"][a:b] = talib.EMA(c, 50)
            out["rsi14"][a:b] = talib.RSI(c, 14)
            out["atr14"][a:b] = talib.ATR(h, lo, c, 14)
        return out

    ours, theirs = vectorized(), talib_loop()
    for name in exprs:
        got = ours[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        assert np.array_equal(np.isnan(got), np.isnan(theirs[name])), f"{name}: null positions differ from TA-Lib"
        np.testing.assert_allclose(got, theirs[name], rtol=1e-8, err_msg=f"{name} differs from TA-Lib")
    seconds, _ = best_of(vectorized)
    base, _ = best_of(talib_loop)
    yield Figure(f"indicators (SMA20, EMA21/50, RSI14, ATR14), {bounds.size - 1:,} symbols x {DAILY_SESSIONS} "
                 "sessions (reported)", seconds, base, "per-symbol TA-Lib loop", None, note="equal to TA-Lib")


def main() -> Iterator:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        start = time.perf_counter()
        rows = build(SYMBOLS, data)
        yield (f"data (untimed, {time.perf_counter() - start:.0f} s to generate): {len(SYMBOLS):,} symbols; "
               f"daily {rows['daily']:,} rows ({DAILY_SESSIONS} sessions), 1m {rows['minutes']:,} rows (1 session), "
               f"30m {rows['bars30']:,} rows ({SESSIONS_30M} sessions)")
        vec_sub, vec_sub_steps, base_sub, base_steps, signals = measure_baseline(data / str(BASELINE_SYMBOLS))
        found = ", ".join(f"{name} {n}" for name, n in signals.items())
        yield (f"pandas baseline equals the screeners on the first {BASELINE_SYMBOLS} symbols (rows: {found}); "
               f"both timed best of {REPEAT} on that subset")
        sizes = {n: measure_size(data / str(n)) for n in SIZES}
        yield from indicator_figure(load(data / str(SIZES[-1]))["daily"])

    yield f"scaling, vectorized path, best of {REPEAT} in a fresh child each; peak RSS with its inputs loaded:"
    yield f"  {'symbols':>8} {'seconds':>8} {'per 1k sym':>10} {'CPU s':>7} {'peak RSS':>9}"
    for n, found_at in sizes.items():
        yield (f"  {n:>8,} {found_at['total']:>6.2f} s {found_at['total'] / n * 1000:>8.3f} s "
               f"{found_at['cpu']:>5.2f} s {found_at['peak'] / 1e9:>6.2f} GB")
    yield "  (CPU s: the least CPU time of a run, all threads; on 2 idle cores wall time can drop to about half)"
    scale = len(SYMBOLS) / BASELINE_SYMBOLS
    full = sizes[SIZES[-1]]
    yield f"per step at {SIZES[-1]:,} symbols, and on the {BASELINE_SYMBOLS}-symbol subset against pandas:"
    yield f"  {'step':20} {f'{SIZES[-1]:,} sym':>10} {f'{BASELINE_SYMBOLS} sym':>9} {'pandas':>8} {'ratio':>6}"
    for name in STEPS:
        v, b = vec_sub_steps[name], base_steps[name]
        yield f"  {name:20} {full['steps'][name]:8.3f} s {v:7.3f} s {b:6.2f} s {b / v:5.0f}x"
    yield Figure(f"anchors + 6 screeners, {SIZES[-1]:,} symbols <= 2.5 s", full["total"], TARGET_SECONDS,
                 "budget", 1.0)
    yield Figure(f"peak RSS, {SIZES[-1]:,} symbols (inputs included) <= 2 GB", full["peak"] / 1e9, TARGET_GB,
                 "budget", 1.0, unit="GB")
    yield Figure(f"speed-up vs per-symbol pandas, same {BASELINE_SYMBOLS} symbols (reported)", vec_sub, base_sub,
                 "pandas baseline", None, higher_is_better=True)
    extrapolated = base_sub * scale
    yield (f"pandas baseline EXTRAPOLATED linearly x{scale:.0f} from {BASELINE_SYMBOLS} to {len(SYMBOLS):,} "
           f"symbols: {extrapolated:.0f} s, i.e. {extrapolated / full['total']:.0f}x the vectorized "
           f"{full['total']:.2f} s (not measured at {len(SYMBOLS):,})")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        for item in main():
            print(item if isinstance(item, str) else item.line())
