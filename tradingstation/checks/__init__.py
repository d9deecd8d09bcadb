"""Data-quality checks on the bar datasets.

``tradingstation.checks.bars`` holds the checks as pure polars functions (no Dagster);
``tradingstation.checks.definitions`` turns them into Dagster asset checks, ``ALL_CHECKS``
(also importable from here; loaded on first use so the pure functions never import Dagster).
"""

from __future__ import annotations

from typing import Any

from tradingstation.checks.bars import (
    Findings,
    bar_integrity,
    gap_window,
    missing_regular_bars,
    missing_sessions,
    price_volume_steps,
    universe_coverage,
)

__all__ = [
    "ALL_CHECKS",
    "Findings",
    "bar_integrity",
    "gap_window",
    "missing_regular_bars",
    "missing_sessions",
    "price_volume_steps",
    "universe_coverage",
]


def __getattr__(name: str) -> Any:
    if name in ("ALL_CHECKS", "BLOCKING_CHECKS"):
        from tradingstation.checks import definitions

        return getattr(definitions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
