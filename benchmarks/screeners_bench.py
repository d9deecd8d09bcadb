"""Analytics figures: AVWAP anchors + the six screeners on 8,000 symbols, vectorized vs per symbol.

Data (synthetic source, generated untimed): 200 daily sessions, the 1-minute session after them
(pre-market to post-market) and 38 sessions of regular 30-minute bars (494 per symbol) ending on
that session. The vectorized path runs ``find_anchors`` then gapgo, orb, avwap_reclaim, breakout,
ema_pullback and exhaustion_reversal, the way the signal assets call them (the daily screeners
screen every session of the window). It runs in a fresh child process that loads the inputs from
parquet; its peak resident memory is read from ``/proc/self/status`` (``VmHWM``), and each step's
own peak from a further child that runs only that step. Not ``ru_maxrss``: on Linux a child
started from this big parent (fork/vfork + exec) inherits the parent's high-water mark, so
``RUSAGE_CHILDREN`` reports the data generator's peak, not the screens'. The time is the best of
2 runs. The baseline
(``benchmarks.pandas_baseline``, one symbol at a time with pandas) runs on a subset of symbols and
is extrapolated linearly to 8,000.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from tradingstation.core import calendar, schemas
from tradingstation.resources.sources.synthetic_source import SyntheticSource

SYMBOLS = [f"S{i:04d}" for i in range(8000)]
SESSION = "2025-11-25"  # the 1-minute session; the daily window is the 200 sessions before it
DAILY_SESSIONS, SESSIONS_30M = 200, 38
BASELINE_SYMBOLS = 400
REPEAT = 2
TARGET_SECONDS, TARGET_GB, TARGET_RATIO = 3.0, 2.0, 20.0
STEPS = ["anchors", "gapgo", "orb", "avwap_reclaim", "breakout", "ema_pullback", "exhaustion_reversal"]
REPO = Path(__file__).resolve().parent.parent


def build(symbols: list[str], out: Path) -> dict[str, int]:
    """Write daily.parquet, minutes.parquet and bars30.parquet for ``symbols`` under ``out``."""
    source = SyntheticSource()
    sessions = calendar.sessions_before(SESSION, DAILY_SESSIONS)
    first_30m = calendar.sessions_before(SESSION, SESSIONS_30M - 1)[0]

    def fetch(interval: str, start, end) -> pl.DataFrame:
        raw = source.fetch(symbols, interval, start, end).bars
        return schemas.validate_bars(raw, intraday=interval != "1d").bars

    daily = fetch("1d", sessions[0], sessions[-1])
    minutes = fetch("1m", SESSION, SESSION)
    bars30 = fetch("30m", first_30m, SESSION)
    frames = {"daily": daily, "minutes": minutes, "bars30": bars30}
    for name, frame in frames.items():
        frame.write_parquet(out / f"{name}.parquet")
    return {name: frame.height for name, frame in frames.items()}


def load(folder: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(folder / f"{name}.parquet") for name in ("daily", "minutes", "bars30")}


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


def memory() -> dict[str, int]:
    """Resident and peak resident bytes of this process (Linux ``/proc``)."""
    status = Path("/proc/self/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    return {key: int(fields[key].split()[0]) * 1024 for key in ("VmRSS", "VmHWM")}


def run_steps(steps: dict[str, Callable]) -> tuple[dict[str, float], dict[str, object]]:
    """Seconds per step and each step's result."""
    times, results = {}, {}
    for name, step in steps.items():
        start = time.perf_counter()
        results[name] = step()
        times[name] = time.perf_counter() - start
    return times, results


def child(folder: str, only: str | None = None) -> None:
    """In a fresh process: load the inputs, run the vectorized path REPEAT times (or once just the
    step ``only``, after the anchors it may need), print times and memory as JSON."""
    frames = load(Path(folder))
    loaded = memory()
    steps = vectorized_steps(**frames)
    if only:
        steps = {name: step for name, step in steps.items() if name in ("anchors", only)}
    runs = [run_steps(steps)[0] for _ in range(1 if only else REPEAT)]
    print(json.dumps({"runs": runs, "loaded": loaded, "peak": memory()["VmHWM"]}))


def measure_vectorized(folder: Path, only: str | None = None) -> dict:
    command = [sys.executable, "-m", "benchmarks.screeners_bench", "--child", str(folder)]
    proc = subprocess.run(command + ([only] if only else []), cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"vectorized child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def row_keys(df, columns: list[str]) -> set[tuple]:
    """The rows' identifying columns (dates as pl.Date), from a polars or a pandas frame."""
    frame = df if isinstance(df, pl.DataFrame) else pl.from_pandas(df)
    if frame.is_empty():
        return set()
    dates = [c for c in columns if "date" in c]
    return set(frame.select(columns).with_columns(pl.col(dates).cast(pl.Date)).iter_rows())


def measure_baseline(folder: Path) -> tuple[dict[str, float], list[str]]:
    """Time the pandas baseline on the subset, and check it finds what the screeners find there."""
    frames = load(folder)
    pandas_frames = {name: frame.to_pandas() for name, frame in frames.items()}  # conversion untimed
    times, expected = run_steps(baseline_steps(**pandas_frames))
    _, got = run_steps(vectorized_steps(**frames))
    key = {name: ["date", "symbol", "side"] for name in STEPS} | {
        "anchors": ["date", "symbol", "anchor_date", "anchor_type"]
    }
    differ = [name for name in STEPS if row_keys(got[name], key[name]) != row_keys(expected[name], key[name])]
    return times, differ


def fmt_gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.2f} GB"


def main() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        full, subset = Path(tmp, "full"), Path(tmp, "subset")
        full.mkdir(), subset.mkdir()
        start = time.perf_counter()
        rows = build(SYMBOLS, full)
        build(SYMBOLS[:BASELINE_SYMBOLS], subset)
        generated = time.perf_counter() - start
        vec = measure_vectorized(full)
        step_peak = {name: measure_vectorized(full, only=name)["peak"] for name in STEPS}
        base_times, differ = measure_baseline(subset)

    vec_total = min(sum(run.values()) for run in vec["runs"])
    vec_step = {name: min(run[name] for run in vec["runs"]) for name in STEPS}
    peak, loaded = vec["peak"], vec["loaded"]["VmRSS"]
    scale = len(SYMBOLS) / BASELINE_SYMBOLS
    base_total = sum(base_times.values())
    extrapolated = base_total * scale
    ratio = extrapolated / vec_total

    def verdict(good: bool) -> str:
        return "met" if good else "MISSED"

    agree = "yes (anchors, and the (date, symbol, side) signal sets)"
    agree = f"NO, differs in {differ}" if differ else agree
    lines = [
        f"data (untimed, {generated:.0f} s to generate): {len(SYMBOLS):,} symbols; "
        f"daily {rows['daily']:,} rows ({DAILY_SESSIONS} sessions), 1m {rows['minutes']:,} rows (1 session), "
        f"30m {rows['bars30']:,} rows ({SESSIONS_30M} sessions)",
        f"vectorized (polars) anchors + 6 screeners, {len(SYMBOLS):,} symbols: {vec_total:.2f} s "
        f"(best of {REPEAT}; target < {TARGET_SECONDS:.0f} s: {verdict(vec_total < TARGET_SECONDS)})",
        f"  peak memory (peak RSS of a fresh child process, inputs included): {fmt_gb(peak)} "
        f"(target < {TARGET_GB:.0f} GB: {verdict(peak < TARGET_GB * 1e9)}); the inputs hold "
        f"{fmt_gb(loaded)} after loading, so the screens add at most {fmt_gb(peak - loaded)}",
        f"pandas per-symbol baseline: {base_total:.1f} s on {BASELINE_SYMBOLS} symbols, EXTRAPOLATED "
        f"linearly x{scale:.0f} to {len(SYMBOLS):,} symbols: {extrapolated:.0f} s",
        f"speed-up vectorized vs baseline: {ratio:.0f}x "
        f"(target >= {TARGET_RATIO:.0f}x: {verdict(ratio >= TARGET_RATIO)})",
        f"baseline agrees with the screeners on the {BASELINE_SYMBOLS}-symbol subset: {agree}",
        "per step (peak RSS: the step alone in a fresh child, inputs included; avwap_reclaim's includes "
        "the anchors it needs):",
        f"  {'step':20} {'vectorized':>10} {'peak RSS':>9} {'baseline ' + str(BASELINE_SYMBOLS):>13} "
        f"{'extrapolated':>12} {'ratio':>6}",
    ]
    for name in STEPS:
        v, b = vec_step[name], base_times[name]
        lines.append(
            f"  {name:20} {v:8.2f} s {step_peak[name] / 1e9:6.2f} GB {b:11.1f} s {b * scale:10.0f} s "
            f"{b * scale / v:5.0f}x"
        )
    if vec_total >= TARGET_SECONDS:
        ranked = sorted(vec_step, key=vec_step.get, reverse=True)[:3]
        slowest = ", ".join(f"{name} {vec_step[name]:.2f} s" for name in ranked)
        lines.append(f"time target missed; slowest steps: {slowest}")
    if peak >= TARGET_GB * 1e9:
        top = max(step_peak, key=step_peak.get)
        top_peak = fmt_gb(step_peak[top])
        lines.append(f"memory target missed; highest step peak: {top} {top_peak} (inputs included)")
    return lines


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "--child":
        child(*sys.argv[2:])
    else:
        print("\n".join(main()))
