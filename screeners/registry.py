"""The screener registry: one ``ScreenerSpec`` per screener, in one ordered ``SCREENERS`` mapping.

A spec says everything the rest of the project needs to run a screener: its name, the session it
belongs to (premarket / market / postmarket), the datasets it reads and how many sessions back, its
parameters dataclass (the runbook defaults, which are also the command's flags), its detail
columns and its screen function. Everything else is derived from it:

- the lake contract ``<name>_signals`` (the common signal columns plus the detail columns),
  registered with ``tradingstation.core.schemas`` when this module is imported;
- the signal asset (``tradingstation.assets.signals.signal_asset``): its inputs and partition
  mappings, its description (the module docstring), and, for a daily-bar screener of the market
  session, today's bar so far from ``intraday_1m``;
- the command ``python -m screeners.<name>`` (``tradingstation.cli.screen.run_screener``): flags
  from the parameters dataclass, bars loaded per ``inputs``;
- the dashboard's inputs (``tradingstation.assets.dashboard`` and ``tradingstation.cli.dashboard``).

Adding a seventh screener is one new module plus one registry entry:

1. write ``screeners/<name>.py``: a frozen ``<Name>Params`` dataclass with the runbook defaults, a
   ``DETAIL`` dict of its extra columns, a pure ``screen(<inputs>..., params=<Name>Params())``
   finishing with ``common.finish(df, "<name>", DETAIL)``, a docstring stating the rules, and
   ``main(argv)`` that calls ``run_screener("<name>", argv)`` from inside the function (plus
   ``if __name__ == "__main__": raise SystemExit(main())``);
2. append its entry below, e.g. ``register(ScreenerSpec(name="<name>", session="postmarket",
   params=<Name>Params, detail=DETAIL, screen=screen, inputs=(ScreenerInput("daily",
   "daily_bars", 60),), description=<module>.__doc__ or ""))``.

The asset, the command, the lake contract and the dashboard then pick it up
(``tests/test_screener_registry.py`` shows it with a toy screener); only the session schedules
(``tradingstation/schedules.py``) still name their assets by hand, so add ``<name>_signals`` to
its session's list there.

``avwap_anchors`` is not a screener (it finds anchors, it signals nothing): its contract is
registered here, its asset and command are written by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

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
    outcomes,
    scorecard,
)
from tradingstation.core import schemas

Session = Literal["premarket", "market", "postmarket"]
SIGNAL_SORT = ("symbol", "ts", "side")  # the lake sorts signal files by these


@dataclass(frozen=True)
class ScreenerInput:
    """One frame a screen function takes: ``argument=`` from ``dataset``, ``sessions_back`` sessions deep.

    The command and the dashboard load ``sessions_back`` sessions before the date plus the date
    itself. The asset reads the same window through its partition mapping, without the session
    itself when ``include_session`` is False (inputs that must end the session before, such as
    yesterday's daily bars for a premarket scan; the screener ignores a bar dated on the session).
    """

    argument: str  # the screen function's parameter
    dataset: str  # the lake dataset, which is also the upstream asset
    sessions_back: int = 0
    include_session: bool = True


@dataclass(frozen=True)
class ScreenerSpec:
    """One screener. ``screen(**{input.argument: frame}, params=params())`` -> signals + ``detail``.

    ``asset_screen``/``asset_inputs``: the asset's wiring when it differs from the command's (AVWAP
    reclaim reads the stored ``avwap_anchors`` where its command finds anchors itself); by default
    the asset calls ``screen`` with ``inputs``.
    """

    name: str
    session: Session
    params: type  # a frozen dataclass: the runbook defaults, one command flag per field
    detail: Mapping[str, pl.DataType] = field(hash=False)
    screen: Callable[..., pl.DataFrame]
    inputs: tuple[ScreenerInput, ...]
    description: str  # the module docstring: the rules, for the command's --help and the asset
    asset_screen: Callable[..., pl.DataFrame] | None = None
    asset_inputs: tuple[ScreenerInput, ...] | None = None

    @property
    def dataset(self) -> str:
        return signals_dataset(self.name)

    @property
    def schema(self) -> pl.Schema:
        return pl.Schema({**schemas.SIGNALS, **self.detail})

    @property
    def asset_wiring(self) -> tuple[Callable[..., pl.DataFrame], tuple[ScreenerInput, ...]]:
        """The asset's screen function and inputs."""
        return self.asset_screen or self.screen, self.asset_inputs or self.inputs

    @property
    def needs_today_bar(self) -> bool:
        """A market-session screener on daily bars runs before today's daily bar exists: its asset
        adds today's bar so far from ``intraday_1m`` (and so depends on it)."""
        return self.session == "market" and any(i.dataset == "daily_bars" for i in self.asset_wiring[1])


SCREENERS: dict[str, ScreenerSpec] = {}


def signals_dataset(screener: str) -> str:
    return f"{screener}_signals"


def signals_contract(spec: ScreenerSpec) -> schemas.Dataset:
    description = f"{spec.name} signals: the common signal columns and the screener's detail"
    return schemas.Dataset(spec.dataset, spec.schema, description, SIGNAL_SORT)


def register(spec: ScreenerSpec) -> ScreenerSpec:
    """Add ``spec`` to ``SCREENERS`` (after the others) and its signal contract to the dataset registry."""
    if spec.name in SCREENERS and SCREENERS[spec.name] != spec:
        raise ValueError(f"screener {spec.name!r} is already registered with another spec")
    schemas.register(signals_contract(spec))
    SCREENERS[spec.name] = spec
    return spec


def spec(name: str) -> ScreenerSpec:
    """The registered spec of ``name``; KeyError naming the known screeners."""
    try:
        return SCREENERS[name]
    except KeyError:
        raise KeyError(f"unknown screener {name!r}; known: {', '.join(SCREENERS)}") from None


def in_session(session: Session) -> list[ScreenerSpec]:
    return [s for s in SCREENERS.values() if s.session == session]


register(
    ScreenerSpec(
        name="gapgo",
        session="premarket",
        params=gapgo.GapgoParams,
        detail=gapgo.DETAIL,
        screen=gapgo.screen,
        inputs=(
            ScreenerInput("daily", "daily_bars", 25, include_session=False),
            ScreenerInput("intraday_1m", "intraday_1m"),
        ),
        description=gapgo.__doc__ or "",
    )
)
register(
    ScreenerSpec(
        name="orb",
        session="market",
        params=orb.OrbParams,
        detail=orb.DETAIL,
        screen=orb.screen,
        # the sessions before D give ORB its time-of-day relative volume
        inputs=(ScreenerInput("intraday_1m", "intraday_1m", orb.OrbParams.rvol_sessions),),
        description=orb.__doc__ or "",
    )
)
# the anchors' lookback plus their volume average, at the default parameters
_RECLAIM_SESSIONS = (
    avwap_reclaim.AvwapReclaimParams().lookback_days + avwap_anchors.AnchorParams().volume_avg_days
)
_RECLAIM_DAILY = ScreenerInput("daily", "daily_bars", _RECLAIM_SESSIONS)
register(
    ScreenerSpec(
        name="avwap_reclaim",
        session="market",
        params=avwap_reclaim.AvwapReclaimParams,
        detail=avwap_reclaim.DETAIL,
        screen=avwap_reclaim.screen_daily,  # finds the anchors as of the date itself
        inputs=(_RECLAIM_DAILY,),
        description=avwap_reclaim.__doc__ or "",
        asset_screen=avwap_reclaim.screen,  # the asset reads the premarket's stored anchors
        asset_inputs=(_RECLAIM_DAILY, ScreenerInput("anchors", "avwap_anchors")),
    )
)
register(
    ScreenerSpec(
        name="breakout",
        session="market",
        params=breakout.BreakoutParams,
        detail=breakout.DETAIL,
        screen=breakout.screen,
        inputs=(ScreenerInput("daily", "daily_bars", 60),),
        description=breakout.__doc__ or "",
    )
)
register(
    ScreenerSpec(
        name="ema_pullback",
        session="market",
        params=ema_pullback.EmaPullbackParams,
        detail=ema_pullback.DETAIL,
        screen=ema_pullback.screen,
        inputs=(ScreenerInput("daily", "daily_bars", 120),),
        description=ema_pullback.__doc__ or "",
    )
)
register(
    ScreenerSpec(
        name="exhaustion_reversal",
        session="postmarket",
        params=exhaustion_reversal.ExhaustionReversalParams,
        detail=exhaustion_reversal.DETAIL,
        screen=exhaustion_reversal.screen,
        inputs=(
            ScreenerInput("intraday_30m", "intraday_30m", 10),
            ScreenerInput("daily", "daily_bars", 30, include_session=False),
        ),
        description=exhaustion_reversal.__doc__ or "",
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

schemas.register(
    schemas.Dataset(
        "signal_outcomes",
        outcomes.OUTCOMES_SCHEMA,
        "What happened to each signal (first-touch rule), keyed by the session its outcome became final",
        ("screener", "symbol", "ts"),
    )
)

schemas.register(
    schemas.Dataset(
        "screener_scorecard",
        scorecard.SCORECARD_SCHEMA,
        "Each screener's track record per score bucket and regime over the sessions ending with the key",
        ("screener", "score_bucket", "regime"),
    )
)
