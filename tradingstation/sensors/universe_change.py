"""``universe_change_sensor``: on a new ``universe`` materialization, compares the included symbols of
its session with the previous stored universe session in the lake. New symbols get their history:
ONE run of ``daily_bars`` over the 199 sessions before that session (a single-run backfill through
the ``dagster/asset_partition_range_start``/``_end`` tags), with a run key per (session, new-symbol
set) so it is requested once. Added and removed symbols are alerted (severity info). No new
symbols: a skip naming the session.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import dagster as dg
import polars as pl

from tradingstation.core import calendar
from tradingstation.lake import Lake
from tradingstation.ops.alerts import send_alert
from tradingstation.quality.universe import included_symbols
from tradingstation.resources.lake_io import LakeResource

HISTORY_SESSIONS = 199  # daily bars before its first session a new symbol needs (= the CLI's history)
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
MAX_LISTED = 50

daily_bars_history_job = dg.define_asset_job(
    "daily_bars_history_job",
    selection=dg.AssetSelection.assets("daily_bars"),  # session-partitioned: inferred from the asset
    description="daily_bars alone, for the history backfills the universe_change_sensor requests.",
)


# --- run failures ----------------------------------------------------------------------------


def _listed(symbols: list[str]) -> str:
    shown = ", ".join(symbols[:MAX_LISTED])
    return shown + (f" and {len(symbols) - MAX_LISTED} more" if len(symbols) > MAX_LISTED else "") if symbols else "none"


def _tag_list(symbols: list[str], limit: int = 250) -> str:
    text = ",".join(symbols)
    if len(text) <= limit:
        return text
    cut = text[: limit - 12].rsplit(",", 1)[0]
    return f"{cut},...(+{len(symbols) - len(cut.split(','))})"


def universe_change(lake_store: Lake, session: dt.date | str | None = None) -> dg.RunRequest | dg.SkipReason:
    """What a universe change at ``session`` (default: the latest stored) requires.

    Compares the included symbols with the previous stored universe session; alerts the added and
    removed symbols; returns a RunRequest of the new symbols' daily history or a SkipReason.
    """
    stored = lake_store.sessions("universe")
    if session is None:
        if not stored:
            return dg.SkipReason("the universe has never been materialized")
        day = stored[-1]
    else:
        day = calendar.session(session)
    if day not in stored:
        return dg.SkipReason(f"universe[{day}] is not in the lake ({lake_store.root})")
    earlier = [d for d in stored if d < day]
    if not earlier:
        return dg.SkipReason(f"universe[{day}] has no earlier stored universe session to compare with")
    previous = earlier[-1]
    frames = lake_store.read("universe", sessions=[previous, day], columns=["symbol", "included"])
    now_in = set(included_symbols(frames.filter(pl.col("date") == day)))
    before = set(included_symbols(frames.filter(pl.col("date") == previous)))
    added, removed = sorted(now_in - before), sorted(before - now_in)
    if added or removed:
        send_alert(
            f"universe changed on {day}",
            f"compared with {previous}: {len(added)} symbol(s) added, {len(removed)} removed",
            {"session": day.isoformat(), "previous_session": previous.isoformat(),
             "added": _listed(added), "removed": _listed(removed)},
            severity="info",
        )
    if not added:
        gone = f" ({len(removed)} removed: {_listed(removed)})" if removed else ""
        return dg.SkipReason(f"universe[{day}]: no new symbols since {previous}{gone}")
    history = calendar.sessions_before(day, HISTORY_SESSIONS)
    digest = hashlib.sha1(",".join(added).encode()).hexdigest()[:12]
    return dg.RunRequest(
        run_key=f"universe-history:{day}:{digest}",
        asset_selection=[dg.AssetKey("daily_bars")],
        tags={
            RANGE_START: history[0].isoformat(),
            RANGE_END: history[-1].isoformat(),
            "tradingstation/reason": "universe_change",
            "tradingstation/universe_session": day.isoformat(),
            "tradingstation/added_symbols": _tag_list(added),
        },
    )


@dg.asset_sensor(
    asset_key=dg.AssetKey("universe"),
    name="universe_change_sensor",
    job=daily_bars_history_job,
    minimum_interval_seconds=60,
    description=f"On a new universe materialization: alerts added/removed symbols and backfills, as one run, "
    f"the {HISTORY_SESSIONS} sessions of daily_bars before the session when symbols were added.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def universe_change_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry, lake: LakeResource):
    partition = asset_event.dagster_event.partition if asset_event.dagster_event else None
    result = universe_change(lake.get(), partition)
    if isinstance(result, dg.RunRequest):
        context.log.info(
            f"requesting daily_bars {result.tags[RANGE_START]}..{result.tags[RANGE_END]} "
            f"for {result.tags['tradingstation/added_symbols']}"
        )
    return result


# --- freshness -------------------------------------------------------------------------------
