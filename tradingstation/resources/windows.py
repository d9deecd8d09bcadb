"""Session windows read through the lake IO manager, without widening Dagster's partition graph.

An asset of session D often reads history: the 200 daily bars before D, the 1-minute bars of the
five sessions before it. Declared as a Dagster partition mapping (``TimeWindowPartitionMapping``
with a negative ``start_offset``), that history is also a *downstream* edge: ``daily_bars[D]``
then feeds the assets of D+1 .. D+200, and a backfill Dagster computes from a selection ("Materialize
all" for five sessions in the UI) takes in every later session up to today, rewrites their signals
and dashboards, and splits into one run per group of assets whose targeted ranges differ.

So every edge of the session graph is the **same session** (Dagster's default, identity mapping),
and the history is a property of the input, not of the graph: :func:`window_in` puts the window
in the input's metadata (:data:`WINDOW_KEY`), and ``LakeIOManager.load_input`` loads
:func:`window_keys` instead of the run's own keys. A backfill of sessions S..E then targets
exactly S..E for every asset, in one run (every asset has the same single-run backfill policy),
and each step still reads the history it needs from the lake as it stands (the sessions the run
writes first included: a step runs after its upstream steps).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from tradingstation.core import calendar

WINDOW_KEY = "tradingstation/sessions_window"


def window_in(
    dataset: str,
    before: int,
    *,
    include_session: bool = True,
    session_optional: bool = False,
    history_optional: bool = False,
    **asset_in: Any,
) -> dg.AssetIn:
    """An input of the same session's ``dataset`` that loads the ``before`` sessions before each key too.

    ``include_session=False`` loads only the sessions before (yesterday's daily bars for a premarket
    scan); ``session_optional=True`` loads the session when it exists and says nothing when it does
    not yet (today's daily bar during the market session); ``history_optional=True`` says nothing
    (an info line, no warning) about sessions of the history the lake does not hold: a track record
    that grows with the lake, where a young lake is no fault.
    """
    if before < 0:
        raise ValueError(f"a session window looks back, not forward: before={before}")
    window = {"before": before, "include_session": include_session, "session_optional": session_optional,
              "history_optional": history_optional}
    metadata = {**asset_in.pop("metadata", {}), WINDOW_KEY: window}
    return dg.AssetIn(dataset, metadata=metadata, **asset_in)


def window_keys(keys: Sequence[str], window: Mapping[str, Any] | None) -> tuple[list[str], set[str]]:
    """The partition keys an input with ``window`` loads for a run of ``keys``, and those it may miss
    without a warning.

    Without a window: ``keys`` themselves. With one: the ``before`` sessions before the first key,
    then ``keys`` (a run's keys are consecutive sessions), without the last one when
    ``include_session`` is False (every key's window then ends with the session before it).
    """
    if not window or not keys:
        return list(keys), set()
    first = calendar.session(keys[0])
    before = int(window.get("before", 0))
    history = [d.isoformat() for d in calendar.sessions_before(first, before)] if before else []
    loaded = [*history, *keys]
    if not window.get("include_session", True):
        loaded = loaded[:-1]
    optional = set(keys) if window.get("session_optional", False) else set()
    if window.get("history_optional", False):
        optional |= set(history)
    return loaded, optional
