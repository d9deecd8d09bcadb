"""What every benchmark section shares: best-of timing, figures against their baselines, the table.

A :class:`Figure` is one target of ``make bench``: what was measured, the named baseline it is
measured against (another program doing the same work, or a budget when the target is absolute),
their ratio, and PASS/FAIL against the target's limit. Sections yield plain lines and figures;
``benchmarks.run`` prints both as they come and closes with the table of all figures.

Timing rules: both sides best of ``REPEAT`` (>= 3) wall-clock runs; outputs are compared (an
``assert``) before anything is timed; a subprocess is timed from ``Popen`` to its exit.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

REPEAT = 3
REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's scripts: tradingstation
T = TypeVar("T")


def best_of(fn: Callable[[], T], repeat: int = REPEAT, setup: Callable[[], object] | None = None) -> tuple[float, T]:
    """Best wall-clock seconds of ``repeat`` calls (``setup`` before each, untimed), and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result  # type: ignore[return-value]


def best_of_pair(ours: Callable[[], object], theirs: Callable[[], object], repeat: int = REPEAT) -> tuple[float, float]:
    """Best seconds of each of two callables run alternately ``repeat`` times each, so a burst of
    load on the machine (or a cache warming up) hits both sides alike."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for side, fn in enumerate((ours, theirs)):
            start = time.perf_counter()
            fn()
            best[side] = min(best[side], time.perf_counter() - start)
    return best[0], best[1]


@dataclass(frozen=True)
class Figure:
    """One target: ``measured`` against ``baseline`` (same unit), PASS when the ratio is within ``limit``.

    ``limit`` None: reported, no target. ``higher_is_better``: a speed-up, PASS when ratio >= limit.
    ``passed``: the verdict of a yes/no target (the ratio is then shown for information), and
    ``shown`` what the measured column says instead of the number."""

    target: str  # e.g. "backfill overhead <= 2x"
    measured: float
    baseline: float
    baseline_name: str
    limit: float | None
    unit: str = "s"
    higher_is_better: bool = False
    note: str = ""
    passed: bool | None = None
    shown: str = ""

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.baseline / self.measured if self.measured else float("inf")
        return self.measured / self.baseline if self.baseline else float("inf")

    @property
    def verdict(self) -> str:
        if self.passed is not None:
            return "PASS" if self.passed else "FAIL"
        if self.limit is None:
            return "reported"
        good = self.ratio >= self.limit if self.higher_is_better else self.ratio <= self.limit
        return "PASS" if good else "FAIL"

    def value(self, amount: float) -> str:
        if self.unit == "s":
            return f"{amount:.2f} s" if amount < 100 else f"{amount:.0f} s"
        if self.unit == "GB":
            return f"{amount:.2f} GB"
        return f"{amount:g} {self.unit}".strip()

    @property
    def measured_text(self) -> str:
        return f"{self.shown}, {self.value(self.measured)}" if self.shown else self.value(self.measured)

    def line(self) -> str:
        note = f"; {self.note}" if self.note else ""
        return (f"{self.target}: {self.measured_text} vs {self.baseline_name} {self.value(self.baseline)} "
                f"= {self.ratio:.2f}x -> {self.verdict}{note}")


def table(figures: list[Figure]) -> list[str]:
    """The closing table: target | measured | baseline | ratio | PASS/FAIL."""
    rows = [("target", "measured", "baseline", "ratio", "result")]
    for f in figures:
        rows.append((f.target, f.measured_text, f"{f.value(f.baseline)} ({f.baseline_name})",
                     f"{f.ratio:.2f}x", f.verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return lines


def run_timed(command: list[str], env: Mapping[str, str] | None = None, cwd: Path = REPO,
              stdout: Path | None = None) -> float:
    """Wall-clock seconds of one subprocess (its output kept in ``stdout`` when given); its failure
    (non-zero exit) is an error with its output."""
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=dict(env) if env is not None else None, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if stdout is not None:
        stdout.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n{tail}")
    return elapsed


# A launcher this small holds ~10 MB: a child it starts inherits that high-water mark, not this
# process's (on Linux a child's ru_maxrss starts from its parent's RSS at fork/vfork + exec).
_LAUNCHER = (
    "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode, file=sys.stderr)"
)


def peak_rss_of(command: list[str], env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """(peak resident bytes, stdout) of ``command``: ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a
    small launcher process that starts it (see ``_LAUNCHER``)."""
    proc = subprocess.run([sys.executable, "-c", _LAUNCHER, *command], cwd=REPO, capture_output=True, text=True,
                          env=dict(env) if env is not None else None)
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    parts = last.split()
    if len(parts) != 2 or parts[1] != "0":
        raise RuntimeError(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return int(parts[0]) * 1024, proc.stdout  # ru_maxrss is in KiB on Linux


def own_peak_rss() -> int:
    """This process's peak resident bytes (VmHWM: reset at exec, so not inherited)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the project's settings (so a bench never touches a real lake or
    instance), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADINGSTATION_", "DAGSTER_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return {**env, **extra}
