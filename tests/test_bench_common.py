"""The benchmark's own machinery: verdicts, the closing table, peak memory of a child, the equality gate.

No timing here: these check that ``make bench`` judges and measures what it says it does.
"""

from __future__ import annotations

import datetime as dt
import sys

import polars as pl
import pytest

from benchmarks.common import Figure, peak_rss_of, table
from benchmarks.screeners_bench import differences


def test_a_ratio_within_the_limit_passes_and_one_above_fails() -> None:
    assert Figure("reads <= 1.2x", 1.1, 1.0, "polars", 1.2).verdict == "PASS"
    assert Figure("reads <= 1.2x", 1.3, 1.0, "polars", 1.2).verdict == "FAIL"
    assert Figure("budget", 15.5, 15.0, "budget", 1.0).verdict == "FAIL"
    assert Figure("reported", 9.0, 1.0, "x", None).verdict == "reported"


def test_a_speed_up_is_baseline_over_measured() -> None:
    fast = Figure("speed-up", 0.5, 50.0, "pandas", 20.0, higher_is_better=True)
    assert fast.ratio == pytest.approx(100.0) and fast.verdict == "PASS"
    assert Figure("speed-up", 5.0, 50.0, "pandas", 20.0, higher_is_better=True).verdict == "FAIL"


def test_a_yes_no_target_is_judged_by_its_answer_not_its_ratio() -> None:
    imported = Figure("--help without dagster", 0.5, 1.0, "calendar", None, passed=False, shown="dagster imported")
    assert imported.verdict == "FAIL" and "dagster imported, 0.50 s" in imported.line()


def test_the_table_lists_every_figure_with_its_baseline_ratio_and_verdict() -> None:
    rows = table([Figure("a <= 2x", 3.0, 1.0, "plain", 2.0), Figure("b <= 2 GB", 1.5, 2.0, "budget", 1.0, unit="GB")])
    assert [cell.strip() for cell in rows[0].split(" | ")] == ["target", "measured", "baseline", "ratio", "result"]
    assert rows[2].startswith("a <= 2x") and "1.00 s (plain)" in rows[2] and rows[2].endswith("FAIL")
    assert "1.50 GB" in rows[3] and "0.75x" in rows[3] and rows[3].endswith("PASS")


def test_peak_rss_is_the_childs_own_not_inherited_from_this_process() -> None:
    ballast = bytearray(400 * 2**20)  # this process holds 400 MB more than the child will
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])  # touched, so resident
    small, _ = peak_rss_of([sys.executable, "-c", "pass"])
    big, out = peak_rss_of([sys.executable, "-c", "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); print('ok')"])
    assert small < 200 * 2**20  # a bare interpreter, not this process's 400 MB
    assert big - small > 250 * 2**20 and out.strip() == "ok"
    del ballast


def test_a_failing_child_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="failed"):
        peak_rss_of([sys.executable, "-c", "raise SystemExit(3)"])


def test_the_equality_gate_catches_a_different_signal_set_or_price() -> None:
    signals = pl.DataFrame({
        "date": [dt.date(2025, 11, 25)] * 2, "symbol": ["A", "B"], "side": ["long", "short"],
        "entry": [10.0, 20.0], "stop": [9.0, 21.0], "target": [12.0, 18.0], "score": [7.25, 6.5],
    })
    same = signals.with_columns(score=pl.col("score") + 0.004).to_pandas()  # within the rounding allowance
    assert differences("breakout", signals, same) is None
    assert "signal sets differ" in differences("breakout", signals, signals.head(1).to_pandas())
    moved = signals.with_columns(stop=pl.col("stop") + 0.01).to_pandas()
    assert "values differ" in differences("breakout", signals, moved)
