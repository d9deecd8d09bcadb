"""The master dashboard: every screener's signals ranked into one trade plan per session.

Reads the six signal datasets for the session and the one before it (the 24-hour lookback
reaches back across the previous close), daily bars for the market regime (SPY against its
200-day SMA) and the charts, and writes the ranked plan as Parquet plus a self-contained HTML
page beside it in the lake.
"""


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
from screeners.registry import SCREENERS, signals_dataset
from tradingstation.core import calendar
from tradingstation.partitions import SESSION_PARTITIONS, sessions_window
from tradingstation.resources.lake_io import LakeResource

HTML_NAME = "dashboard.html"

SIGNAL_INS = {
    signals_dataset(name): dg.AssetIn(signals_dataset(name), partition_mapping=sessions_window(1))
    for name in SCREENERS
}


@dg.asset(
    ins={**SIGNAL_INS, "daily_bars": dg.AssetIn("daily_bars", partition_mapping=sessions_window(200))},
    partitions_def=SESSION_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="dashboard",
    kinds={"polars", "parquet", "html"},
    description=__doc__,
)
def master_dashboard(context: dg.AssetExecutionContext, lake: LakeResource, **inputs: pl.DataFrame) -> dg.Output:
    params = DashboardParams()
    daily = inputs.pop("daily_bars")
    signals = combine_signals(inputs.values())
    lake_store = lake.get()
    plans, pages = [], {}
    for key in context.partition_keys:  # one plan per session; each is vectorized over symbols
        day = calendar.session(key)
        plan = build_dashboard(signals, daily, calendar.session_close(day), day, params)
        history = daily.filter(pl.col("date") <= day)
        pages[key] = lake_store.write_artifact(
            "master_dashboard", day, HTML_NAME,
            render_html(plan, history, params, f"TradingStation dashboard {day}").encode(),
        )
        plans.append(plan)
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
            "top": dg.MetadataValue.md(markdown_preview(last)),
        },
    )
