"""What the Dagster catalog shows of every asset besides its computation, declared in one place.

:func:`with_declarations` is applied once, by ``tradingstation.definitions``, to every asset:

- ``dagster/column_schema``: the dataset's columns and types from the one schema registry
  (:data:`tradingstation.core.schemas.DATASETS`, the analytics contracts of ``screeners.registry``
  included), converted by :func:`column_schema`; an asset without a dataset (``lake_maintenance``)
  has none;
- owner ``team:trading``; a tag per session mode that materializes it (``premarket``, ``market``,
  ``postmarket``, ``maintenance``: from the schedules' asset lists); the ``kinds`` stay on the assets;
- a link to the README section that explains it, after the asset's own short description;
- Dagster's native freshness policy, per session mode (:func:`freshness_policy`).

Native freshness, and what it can and cannot say. Dagster 1.13's ``FreshnessPolicy`` (evaluated
by the daemon's freshness loop, every 30 s, in ``dagster-daemon run`` and ``dagster dev``; the
instance setting ``freshness: enabled`` is on by default) judges an asset by its *latest
materialization* only, on a calendar without exchange holidays: a cron policy is ``FAIL`` when
nothing materialized within ``lower_bound_delta`` before its last deadline tick. A weekday
deadline that expects a run on every weekday would fail on every holiday, so each policy here is
chosen to be **never FAIL when the schedules ran** (weekends, holidays, early closes included),
which ``tests/test_catalog.py`` checks over 2025 and January 2026 of the NYSE calendar:

- assets materialized by several runs of a session get a Tuesday-to-Friday deadline (New York
  time) *between* those runs, with a 24-hour window: the runs before the deadline satisfy a
  session day, the previous session's runs after it satisfy a holiday, and Monday (whose 24 hours
  would reach only into Sunday) has no deadline of its own. Premarket-only assets: 08:30 (runs at
  07:00, 08:00 | 09:00, 09:20); assets of the market session: 10:00 (runs from 09:30 | to the
  close); ``daily_bars``: 12:00 (the previous session's bar at 07:00 | the session's after the
  close);
- assets materialized once a session (the postmarket assets, ``lake_maintenance``) cannot have a
  24-hour window that is right both on a holiday and on the session after it, so they get a time
  window as long as the longest legitimate pause (Thursday 13:15 to Monday 16:15 around an early
  close and a long weekend): :data:`ONCE_A_SESSION_FAIL_WINDOW`.

So a native ``FAIL`` always means "nothing ran for longer than the schedules ever pause"; it is an
outage alarm, not a per-session verdict: a single missed session followed by a good one, or a
backfill of old sessions (a recent materialization), still reads ``PASS``. The per-session
verdict — is today's partition there, are its bars recent — is the session-aware freshness checks'
(``tradingstation.checks.freshness``) and the ``freshness_sensor``'s.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import dagster as dg
import polars as pl
from dagster._core.definitions.freshness import CronFreshnessPolicy, TimeWindowFreshnessPolicy

from tradingstation import schedules
from tradingstation.core import calendar, schemas
from tradingstation.core.errors import UnknownDatasetError

OWNERS = ["team:trading"]
README = Path(__file__).resolve().parents[2] / "README.md"

# --- column schemas -------------------------------------------------------------------------

COLUMN_DESCRIPTIONS = {
    "date": "the session (YYYY-MM-DD, New York); in the lake the hive key date=..., returned by every read",
    "symbol": "ticker, canonical form (BRK.B)",
    "ts": "UTC instant: a bar's start, a signal's bar",
    "open": "price, USD",
    "high": "price, USD",
    "low": "price, USD",
    "close": "price, USD",
    "volume": "shares",
    "session": "pre | regular | post",
    "side": "long | short",
    "score": "0-10",
    "reasons": "why, as a sentence",
}


def column_type(dtype: pl.DataType) -> str:
    """A readable type name: ``datetime[us, UTC]``, ``float64``, ``list[string]``..."""
    if isinstance(dtype, pl.Datetime):
        return f"datetime[{dtype.time_unit}, {dtype.time_zone}]" if dtype.time_zone else f"datetime[{dtype.time_unit}]"
    if isinstance(dtype, pl.List):
        return f"list[{column_type(dtype.inner)}]"
    return str(dtype).lower()


def column_schema(schema: pl.Schema | Mapping[str, pl.DataType]) -> dg.TableSchema:
    """The Dagster table schema of a polars schema, columns in order, with the common columns explained."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=column_type(dtype), description=COLUMN_DESCRIPTIONS.get(name))
            for name, dtype in schema.items()
        ]
    )


def dataset_schema(asset: str) -> dg.TableSchema | None:
    """The column schema of the dataset named like ``asset``; None for an asset that stores none."""
    try:
        return column_schema(schemas.dataset(asset).schema)
    except UnknownDatasetError:
        return None


# --- session modes and README links ----------------------------------------------------------


def session_modes() -> dict[str, list[str]]:
    """Asset -> the session modes whose schedules materialize it (the schedules' own lists)."""
    modes: dict[str, list[str]] = {}
    for mode, assets in schedules.SESSION_ASSETS.items():
        for asset in assets:
            modes.setdefault(asset, []).append(mode)
    return modes


def readme_anchor(section: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^a-z0-9 _-]", "", section.lower()).replace(" ", "-")


def readme_link(section: str) -> str:
    """A Markdown link to a README section (a file:// link to this checkout's README when it has one)."""
    target = f"{README.as_uri() if README.is_file() else 'README.md'}#{readme_anchor(section)}"
    return f"[README: {section}]({target})"


README_SECTIONS = {"market_data": "Datasets", "signals": "Screeners and the trade plan",
                   "dashboard": "Screeners and the trade plan", "scorecard": "Screeners and the trade plan",
                   "maintenance": "Operations"}


# --- native freshness policies ---------------------------------------------------------------

WINDOW = dt.timedelta(hours=24)  # a cron policy's lower bound: its deadlines are 24 h apart (Tue-Fri)
PREMARKET_DEADLINE = "30 8 * * 2-5"  # between the 07:00/08:00 and the 09:00/09:20 premarket runs
MARKET_DEADLINE = "0 10 * * 2-5"  # between the first market runs (09:30, ORB 09:45) and the rest
DAILY_BARS_DEADLINE = "0 12 * * 2-5"  # between yesterday's bar (07:00) and today's (after the close)
# The longest pause between two once-a-session runs is Thursday 13:15 (early close) to Monday 16:15
# (2025-07-03 .. 07-07: 4 days 3 hours); six hours more for a slow run.
ONCE_A_SESSION_FAIL_WINDOW = dt.timedelta(days=4, hours=9)


def _cron(deadline: str) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.cron(deadline_cron=deadline, lower_bound_delta=WINDOW, timezone=calendar.NY_TZ)


def freshness_policy(modes: Iterable[str]) -> dg.FreshnessPolicy:
    """The native policy of an asset materialized in ``modes`` (see the module docstring)."""
    found = set(modes)
    if "market" in found:
        return _cron(MARKET_DEADLINE)
    if found == {"premarket"}:
        return _cron(PREMARKET_DEADLINE)
    if found == {"premarket", "postmarket"}:
        return _cron(DAILY_BARS_DEADLINE)
    return dg.FreshnessPolicy.time_window(fail_window=ONCE_A_SESSION_FAIL_WINDOW)


def describe_policy(policy: dg.FreshnessPolicy) -> str:
    """One line a person reads: when the native policy fails."""
    if isinstance(policy, CronFreshnessPolicy):
        minute, hour, *_ = policy.deadline_cron.split()
        hours = int(policy.lower_bound_delta.total_seconds() // 3600)
        return f"FAIL when not materialized in the {hours} h before {int(hour):02d}:{int(minute):02d} ET, Tue-Fri"
    assert isinstance(policy, TimeWindowFreshnessPolicy)
    window = policy.fail_window.to_timedelta()
    return f"FAIL when not materialized for {window.days} d {window.seconds // 3600} h"


# --- applied to every asset ------------------------------------------------------------------


def two_lines(text: str | None) -> str:
    """The UI's description: the leading paragraphs of ``text`` that fit in two lines (at least the
    first line). An asset that passes its module docstring keeps it in the code, not in the UI."""
    kept: list[str] = []
    for paragraph in (text or "").strip().split("\n\n"):
        lines = [line.strip() for line in paragraph.strip().splitlines() if line.strip()]
        if not lines:
            continue
        if not kept:
            kept.append(" ".join(lines) if len(lines) <= 2 else lines[0])
            if len(lines) > 1:
                break
        elif len(kept) + len(lines) <= 2:
            kept.append(" ".join(lines))
        else:
            break
    return "\n\n".join(kept)


def _declared(spec: dg.AssetSpec, modes: Mapping[str, list[str]]) -> dg.AssetSpec:
    name = spec.key.path[-1]
    asset_modes = modes.get(name, [])
    # No schedule materializes it: no deadline to hold it to, so no native policy (and no tag).
    policy = freshness_policy(asset_modes) if asset_modes else None
    metadata: dict[str, object] = {}
    if policy is not None:
        metadata["freshness_policy"] = dg.MetadataValue.text(describe_policy(policy))
    table = dataset_schema(name)
    if table is not None:
        metadata["dagster/column_schema"] = table
    description = two_lines(spec.description)
    section = README_SECTIONS.get(spec.group_name or "", "Operations")
    description = f"{description}\n\n{readme_link(section)}" if description else readme_link(section)
    declared = spec.replace_attributes(description=description)
    if policy is not None:
        declared = declared.replace_attributes(freshness_policy=policy)
    return declared.merge_attributes(metadata=metadata, owners=OWNERS, tags={mode: "" for mode in asset_modes})


def with_declarations(assets: Iterable[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """``assets`` with their column schema, owners, session tags, README link and freshness policy."""
    modes = session_modes()
    return list(dg.map_asset_specs(lambda spec: _declared(spec, modes), list(assets)))
