"""Dagster asset checks: thin adapters that turn the findings of :mod:`tradingstation.quality`
into check results (``bars``: integrity, gaps, steps, coverage per session; ``freshness``: the
session-aware freshness rules)."""

from __future__ import annotations

from tradingstation.checks.bars import ALL_CHECKS, BLOCKING_CHECKS
from tradingstation.checks.freshness import FRESHNESS_CHECKS

__all__ = ["ALL_CHECKS", "BLOCKING_CHECKS", "FRESHNESS_CHECKS"]
