"""The master dashboard: every screener's signals ranked into one trade plan per session.

Reads the six signal datasets for the session and the one before it (the 24-hour lookback
reaches back across the previous close), daily bars for the market regime (SPY against its
200-day SMA) and the charts, and writes the ranked plan as Parquet plus a self-contained HTML
page beside it in the lake.

It runs during the market session too (every market-schedule tick), as of the run's time: the
``tradingstation/as_of`` tag of a scheduled run, else the wall clock, never after the close. The
signals are read from the lake as far as it holds them (a screener that has not run yet today adds
nothing, it does not fail the plan); the 1-minute bars of the session and the one before give each
row its live status (and daily setups today's bar so far); the plan score reads the previous
session's ``screener_scorecard`` (the track record known before the session began); the session's
``earnings`` each row's next report, its ``avwap_anchors`` the AVWAPs on the row's chart (both as far
as the lake holds them: without them no earnings column, anchors found from the daily bars).

Every edge in Dagster's graph is the same session (:mod:`tradingstation.resources.windows`: a
backfill then touches only the sessions selected); the daily bars' window (the 199 sessions
before D and D itself, when it exists: the 200 the regime's SMA needs, and all that daily
retention keeps) is loaded by the IO manager, the rest is read from the lake here. The UI shows a
two-line description, the plan's top rows (``top``) and a link the browser opens
(``dashboard_url``: ``file://`` for a local lake, the object's https address at the S3 endpoint).
"""

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import polars as pl

from screeners.dashboard import (
    DashboardParams,
    build_dashboard,
    combine_signals,
    markdown_preview,
    market_regime,
)
from screeners.dashboard_html import render_html
from screeners.exports import ORDERS_NAME, WATCHLIST_NAME, bracket_orders, orders_csv, watchlist_text
from screeners.outcomes import intraday_screeners
from screeners.registry import SCREENERS, signals_dataset
from screeners.scorecard import markdown_table as scorecard_markdown
from screeners.sectors import INFO_COLUMNS, sector_summary
from screeners.sectors import markdown_table as sectors_markdown
from tradingstation.core import calendar
from tradingstation.lake import Lake
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.resources.lake_io import LakeResource, record_partitions
from tradingstation.resources.windows import window_in
from tradingstation.schedules import AS_OF_TAG  # a scheduled run's instant (ISO 8601): the plan is as of then

HTML_NAME = "dashboard.html"
INTRADAY = intraday_screeners(SCREENERS.values())
MINUTE_COLUMNS = ["symbol", "ts", "open", "high", "low", "close", "volume", "session"]

# Read in the asset, as far as the lake holds them (the session and the one before; the scorecard
# of the session before): lineage only, same-session edges, no input that must exist.
READS = [
    *(dg.AssetDep(signals_dataset(name)) for name in SCREENERS),
    dg.AssetDep("intraday_1m"),
    dg.AssetDep("screener_scorecard"),
    dg.AssetDep("universe"),  # each row's sector, industry and exchange
    dg.AssetDep("earnings"),  # each row's next report
    dg.AssetDep("avwap_anchors"),  # the AVWAPs the charts draw
]
# The regime's SMA needs regime_sma daily bars up to D; daily retention keeps exactly that many.
DAILY_WINDOW = DashboardParams().regime_sma - 1
DESCRIPTION = (
    "The session's trade plan: every screener's signals ranked, sized and charted (Parquet + an HTML page).\n\n"
    f"Every market tick and after the close; reads the signals of the session and the one before, {DAILY_WINDOW + 1} "
    "daily bars, the previous scorecard."
)


def browser_url(uri: str, endpoint_url: str | None, region: str | None) -> str:
    """A URL a browser opens for a lake file: ``file://`` locally; for ``s3://bucket/key`` the object's
    https address at the lake's endpoint (path style), or AWS's. No signature: metadata outlives any
    presigned URL and must hold no credential, so a private bucket answers 403 (README, *The Dagster UI*)."""
    if not uri.startswith("s3://"):
        return "file://" + quote(str(Path(uri).resolve()), safe="/=")  # keeps date=YYYY-MM-DD readable
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if endpoint_url:
        return f"{endpoint_url.rstrip('/')}/{bucket}/{quote(key)}"
    return f"https://{bucket}.s3.{region or 'us-east-1'}.amazonaws.com/{quote(key)}"


CHART_ROWS_ENV = "TRADINGSTATION_CHART_ROWS"  # how many of the plan's best rows the page charts


def dashboard_params(env: Mapping[str, str] = os.environ) -> DashboardParams:
    """The runbook's plan parameters; ``TRADINGSTATION_CHART_ROWS`` (0 to ``top_n``) sets how many rows
    get charts (about 0.06 s of CPU a chart once the first of its kind has built the figure)."""
    params = DashboardParams()
    raw = env.get(CHART_ROWS_ENV, "").strip()
    if not raw:
        return params
    if not raw.isdigit() or int(raw) > params.top_n:
        raise ValueError(f"{CHART_ROWS_ENV}={raw!r}: a whole number from 0 to {params.top_n}")
    return dataclasses.replace(params, chart_rows=int(raw))


def plan_time(day: dt.date, tag: str | None) -> dt.datetime:
    """The plan's as-of instant: the run's tag, else now; never after the session's close."""
    close = calendar.session_close(day)
    when = dt.datetime.fromisoformat(tag) if tag else dt.datetime.now(dt.timezone.utc)
    if when.tzinfo is None:
        raise ValueError(f"{AS_OF_TAG}={tag!r} must carry a UTC offset")
    return min(when.astimezone(dt.timezone.utc), close)


def plan_inputs(lake_store: Lake, day: dt.date) -> dict[str, pl.DataFrame | None]:
    """What the lake holds for the plan of ``day``: signals, 1-minute bars, the previous scorecard."""
    window = [calendar.previous_session(day), day]
    signals = combine_signals(lake_store.read(signals_dataset(n), sessions=window) for n in SCREENERS)
    symbols = signals["symbol"].unique().to_list()
    minutes = lake_store.read("intraday_1m", sessions=window, symbols=symbols, columns=MINUTE_COLUMNS) if symbols else None
    card = lake_store.read("screener_scorecard", sessions=window[:1])
    return {"signals": signals, "minute_bars": minutes, "scorecard": card if card.height else None}


def session_frame(lake_store: Lake, dataset: str, day: dt.date) -> pl.DataFrame | None:
    """``dataset``'s partition of ``day`` when the lake holds it (earnings, anchors), else None."""
    return lake_store.read(dataset, sessions=[day]) if lake_store.exists(dataset, day) else None


def plan_universe(lake_store: Lake, day: dt.date) -> pl.DataFrame | None:
    """The session's universe (symbol, sector, industry, exchange) for the plan's sector columns; None
    when the lake has none, or only a partition written before the universe carried sectors."""
    try:
        found = lake_store.read("universe", sessions=[day], columns=["symbol", *INFO_COLUMNS])
    except pl.exceptions.ColumnNotFoundError:
        return None
    return found if found.height else None


def write_exports(lake_store: Lake, day: dt.date, plan: pl.DataFrame) -> dict[str, str]:
    """The TradingView watchlist and the bracket-order CSV beside the partition (screeners.exports)."""
    return {
        WATCHLIST_NAME: lake_store.write_artifact("master_dashboard", day, WATCHLIST_NAME, watchlist_text(plan).encode()),
        ORDERS_NAME: lake_store.write_artifact("master_dashboard", day, ORDERS_NAME, orders_csv(plan).encode()),
    }


@dg.asset(
    ins={"daily_bars": window_in("daily_bars", DAILY_WINDOW, session_optional=True)},
    deps=READS,
    partitions_def=SESSION_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="dashboard",
    kinds={"polars", "parquet", "html"},
    description=DESCRIPTION,
)
def master_dashboard(context: dg.AssetExecutionContext, lake: LakeResource, daily_bars: pl.DataFrame) -> dg.Output:
    params = dashboard_params()
    daily = daily_bars
    lake_store = lake.get()
    tag = context.run.tags.get(AS_OF_TAG) if len(context.partition_keys) == 1 else None
    plans, pages, cards, own = [], {}, {}, {}
    for key in context.partition_keys:  # one plan per session; each is vectorized over symbols
        day = calendar.session(key)
        found = plan_inputs(lake_store, day)
        cards[key] = found["scorecard"]
        plan = build_dashboard(found["signals"], daily, plan_time(day, tag), day, params,
                               minute_bars=found["minute_bars"], scorecard=found["scorecard"], intraday=INTRADAY,
                               universe=plan_universe(lake_store, day),
                               earnings=session_frame(lake_store, "earnings", day))
        files = write_exports(lake_store, day, plan)
        history = daily.filter(pl.col("date") <= day)
        pages[key] = lake_store.write_artifact(
            "master_dashboard", day, HTML_NAME,
            render_html(plan, history, params, f"TradingStation dashboard {day}", scorecard=found["scorecard"],
                        minute_bars=found["minute_bars"], anchors=session_frame(lake_store, "avwap_anchors", day)).encode(),
        )
        plans.append(plan)
        own[key] = {  # each session's page on its own partition, whatever the range (lake_io.record_partitions)
            "html": dg.MetadataValue.path(pages[key]),
            "dashboard_url": dg.MetadataValue.url(browser_url(pages[key], lake.endpoint_url, lake.region)),
            "top": dg.MetadataValue.md(markdown_preview(plan)),
        }
    record_partitions(context, own)
    plan = pl.concat(plans, how="vertical_relaxed")
    last = plan.filter(pl.col("date") == plan["date"].max()) if plan.height else plan
    last_day = calendar.session(context.partition_keys[-1])
    return dg.Output(
        plan,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(plan.height),
            "regime": dg.MetadataValue.text(market_regime(daily, last_day, params.regime_symbol, params.regime_sma)),
            "against_regime": dg.MetadataValue.int(int(last["against_regime"].sum()) if last.height else 0),
            "html": dg.MetadataValue.path(pages[context.partition_keys[-1]]),
            "dashboard_url": dg.MetadataValue.url(
                browser_url(pages[context.partition_keys[-1]], lake.endpoint_url, lake.region)
            ),
            "top": dg.MetadataValue.md(markdown_preview(last)),
            "by_status": dg.MetadataValue.json(dict(last.group_by("status").len().sort("status").iter_rows())
                                               if last.height else {}),
            "conflicts": dg.MetadataValue.int(int(last["conflict"].sum()) if last.height else 0),
            "sectors": dg.MetadataValue.md(sectors_markdown(sector_summary(last))),
            "orders": dg.MetadataValue.int(bracket_orders(last).height),  # rows of orders.csv
            "watchlist": dg.MetadataValue.path(files[WATCHLIST_NAME]),
            "orders_csv": dg.MetadataValue.path(files[ORDERS_NAME]),
            "scorecard": dg.MetadataValue.md(
                scorecard_markdown(cards[context.partition_keys[-1]])
                if cards[context.partition_keys[-1]] is not None
                else "no scorecard of the previous session yet: plan scores are the screeners' own scores"
            ),
        },
    )
