"""Hand-built trade plans (``master_dashboard`` rows) for the export, sector and alert tests."""

from __future__ import annotations

import datetime as dt

import polars as pl

from screeners.dashboard import DASHBOARD_SCHEMA
from tradingstation.core import calendar

DAY = dt.date(2025, 11, 25)

DEFAULTS = {
    "date": DAY, "side": "long", "plan_score": 7.0, "score_basis": "own score", "composite_score": 7.0,
    "confluence": 1, "screeners": "breakout", "conflict": False, "entry": 50.0, "stop": 48.0, "target": 54.0,
    "reward_risk": 2.0, "risk_per_share": 2.0, "shares": 100, "position_value": 5_000.0, "sized_by": "risk",
    "blocked_by": None, "regime": "bull", "against_regime": False, "reasons": "breakout: base broken",
    "latest_signal_ts": calendar.session_open(DAY), "status": "pending", "status_ts": None,
}


def plan(*rows: dict) -> pl.DataFrame:
    """A plan with the full schema: each row is DEFAULTS updated by its dict; ``rank`` by position
    unless given. Columns the schema has beyond DEFAULTS (sector, chart_url, ...) default to null."""
    filled = [{c: {**DEFAULTS, "rank": i, **row}.get(c) for c in DASHBOARD_SCHEMA} for i, row in enumerate(rows, 1)]
    return pl.DataFrame(filled, schema=DASHBOARD_SCHEMA)
