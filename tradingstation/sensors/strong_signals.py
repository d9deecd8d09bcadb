"""``strong_signal_alert``: every 2 minutes from 04:00 ET to the close of a session, the plan rows
at or above a plan score are alerted, each once.

It reads today's ``master_dashboard`` partition from the lake (the plan the schedules refresh:
every market tick; premarket only where a premarket run materializes it) and alerts the rows that
are strong and tradable: ``plan_score >= TRADINGSTATION_ALERT_MIN_PLAN_SCORE`` (default 8), sized
within the risk limits (``shares > 0``, no ``blocked_by``) and still live (status pending,
triggered or no_bars: a stopped or finished trade is no news). Each goes through
:func:`tradingstation.ops.alerts.send_alert` (log line, webhook / Slack, e-mail, Telegram; redacted
there) with symbol, side, entry, stop, target, shares, the plan score and the reasons sentence.

Deduplication: a row is identified by (session, symbol, side, screeners): the cursor remembers
the keys sent, so the next tick sends nothing for them; a further screener agreeing later makes a
new set of screeners, hence one new alert. Keys of sessions older than ``CURSOR_KEEP_DAYS`` are
forgotten. Outside 04:00 ET - close, on a non-session, or with no plan yet, the tick is skipped
with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping

import dagster as dg
import polars as pl

from screeners.exports import ORDERABLE as LIVE  # statuses worth an alert, as worth an order (null too)
from tradingstation.core import calendar
from tradingstation.lake import Lake
from tradingstation.ops.alerts import send_alert
from tradingstation.quality import freshness
from tradingstation.resources.lake_io import LakeResource

ENV_MIN_PLAN_SCORE = "TRADINGSTATION_ALERT_MIN_PLAN_SCORE"
DEFAULT_MIN_PLAN_SCORE = 8.0
INTERVAL_SECONDS = 120
CURSOR_KEEP_DAYS = 14
PREMARKET_START = dt.time(4, 0)  # New York time: the pre-market's first bars
PLAN_COLUMNS = ["symbol", "side", "plan_score", "screeners", "entry", "stop", "target", "shares", "blocked_by",
                "reward_risk", "status", "reasons", "sector", "chart_url"]


def min_plan_score(env: Mapping[str, str] | None = None) -> float:
    """The configured threshold (``TRADINGSTATION_ALERT_MIN_PLAN_SCORE``), default 8."""
    raw = (os.environ if env is None else env).get(ENV_MIN_PLAN_SCORE, "").strip()
    if not raw:
        return DEFAULT_MIN_PLAN_SCORE
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{ENV_MIN_PLAN_SCORE}={raw!r} is not a number (a plan score, 0-10)") from None
    if not 0.0 <= value <= 10.0:
        raise ValueError(f"{ENV_MIN_PLAN_SCORE}={raw!r} is outside the plan score's 0-10")
    return value


def strong_rows(plan: pl.DataFrame, min_score: float) -> pl.DataFrame:
    """The plan's rows worth an alert, best first, with their dedup ``key``."""
    status = pl.col("status")
    strong = plan.filter(
        (pl.col("plan_score") >= min_score) & pl.col("plan_score").is_not_nan()
        & (pl.col("shares") > 0) & pl.col("blocked_by").is_null()
        & (status.is_null() | status.is_in(LIVE))
    )
    key = pl.concat_str(pl.col("date").cast(pl.String), "symbol", "side", "screeners", separator=":")
    return strong.sort("plan_score", descending=True).with_columns(key=key)


def _load_cursor(cursor: str | None) -> set[str]:
    try:
        value = json.loads(cursor) if cursor else {}
    except ValueError:
        return set()
    return {str(v) for v in value.get("sent", [])} if isinstance(value, dict) else set()


def _prune(sent: set[str], today: dt.date) -> set[str]:
    oldest = (today - dt.timedelta(days=CURSOR_KEEP_DAYS)).isoformat()
    return {key for key in sent if key[:10] >= oldest}  # keys start with the session, YYYY-MM-DD


def _alert(row: dict) -> None:
    shares = f"{row['shares']:,}"
    title = (f"{row['symbol']} {row['side']} (plan {row['plan_score']:.1f}): entry {row['entry']:.2f}, "
             f"stop {row['stop']:.2f}, target {row['target']:.2f}, {shares} shares")
    fields = {
        "symbol": row["symbol"], "side": row["side"], "entry": f"{row['entry']:.2f}", "stop": f"{row['stop']:.2f}",
        "target": f"{row['target']:.2f}", "shares": shares, "plan_score": f"{row['plan_score']:.2f}",
        "reward_risk": row.get("reward_risk"), "screeners": row["screeners"], "status": row.get("status"),
        "sector": row.get("sector"), "session": str(row["date"]), "chart": row.get("chart_url"),
    }
    send_alert(title, row["reasons"] or "", fields, severity="info")


def strong_signals_tick(lake_store: Lake, instant: dt.datetime, cursor: str | None,
                        min_score: float | None = None) -> dg.SensorResult:
    """One evaluation at ``instant``: alerts the strong rows not alerted yet, returns the skip and cursor."""
    sent = _load_cursor(cursor)
    day = instant.astimezone(calendar.NY).date()
    threshold = min_plan_score() if min_score is None else min_score

    def skip(message: str) -> dg.SensorResult:
        return dg.SensorResult(skip_reason=dg.SkipReason(message), cursor=json.dumps({"sent": sorted(_prune(sent, day))}))

    if not calendar.is_session(day):
        return skip(f"{day} is not an NYSE session")
    start = dt.datetime.combine(day, PREMARKET_START, tzinfo=calendar.NY)
    close = calendar.session_close(day)
    if not start <= instant < close:
        return skip(f"outside {PREMARKET_START:%H:%M} ET - the close ({close.astimezone(calendar.NY):%H:%M} ET) of {day}")
    if not lake_store.exists("master_dashboard", day):
        return skip(f"no master_dashboard for {day} yet")
    try:
        plan = lake_store.read("master_dashboard", sessions=[day], columns=PLAN_COLUMNS)
    except pl.exceptions.ColumnNotFoundError as exc:  # a partition of an older version: the next refresh has them
        return skip(f"the master_dashboard of {day} lacks a column the alert needs: {str(exc).splitlines()[0]}")
    rows = strong_rows(plan, threshold)
    new = rows.filter(~pl.col("key").is_in(sorted(sent)))
    for row in new.iter_rows(named=True):  # one alert per new row: a handful a session at most
        _alert(row)
        sent.add(row["key"])
    if new.height:
        message = f"alerted {new.height} row(s) with plan score >= {threshold:g}: " + ", ".join(
            f"{s} {d}" for s, d in zip(new["symbol"], new["side"]))
    else:
        message = (f"no new row with plan score >= {threshold:g} in the plan of {day} "
                   f"({rows.height} already alerted, {plan.height} row(s) in the plan)")
    return skip(message)


@dg.sensor(
    name="strong_signal_alert",
    minimum_interval_seconds=INTERVAL_SECONDS,
    description="Every 2 minutes, 04:00 ET to the close: alerts (once each) today's plan rows with a plan score "
    f"of at least ${ENV_MIN_PLAN_SCORE} (default {DEFAULT_MIN_PLAN_SCORE:g}), sized and live, through the "
    "configured alert channels (webhook, e-mail, Telegram).",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def strong_signal_alert(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
    return strong_signals_tick(lake.get(), freshness.now(), context.cursor)
