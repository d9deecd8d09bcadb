"""The lake contracts of the analytics datasets: AVWAP anchors, the six screeners' signals, the dashboard.

Each contract is the screener's own (``screeners/``): the common signal schema plus its detail
columns. Importing this module registers them with ``tradingstation.core.schemas``.
"""

from __future__ import annotations

from types import ModuleType

import polars as pl

from screeners import (
    avwap_anchors,
    avwap_reclaim,
    breakout,
    dashboard,
    ema_pullback,
    exhaustion_reversal,
    gapgo,
    orb,
)
from tradingstation.core import schemas

SCREENERS: dict[str, ModuleType] = {
    "gapgo": gapgo,
    "orb": orb,
    "avwap_reclaim": avwap_reclaim,
    "breakout": breakout,
    "ema_pullback": ema_pullback,
    "exhaustion_reversal": exhaustion_reversal,
}


def signals_dataset(screener: str) -> str:
    return f"{screener}_signals"


for _name, _module in SCREENERS.items():
    schemas.register(
        schemas.Dataset(
            signals_dataset(_name),
            pl.Schema({**schemas.SIGNALS, **_module.DETAIL}),
            f"{_name} signals: the common signal columns and the screener's detail",
            ("symbol", "ts", "side"),
        )
    )

schemas.register(
    schemas.Dataset(
        "avwap_anchors",
        avwap_anchors.ANCHOR_SCHEMA,
        "Anchored-VWAP anchors per symbol, as of the session before the key",
        ("symbol", "anchor_date", "anchor_type"),
    )
)

schemas.register(
    schemas.Dataset(
        "master_dashboard",
        dashboard.DASHBOARD_SCHEMA,
        "The ranked trade plan of a session: one row per symbol and side",
        ("rank",),
    )
)
