"""``tradingstation export [--date D] [--out DIR]``: a stored plan as a TradingView watchlist and bracket orders.

Reads ``master_dashboard[D]`` from the lake (default: the latest session it holds) and writes
``watchlist.txt`` (TradingView's import format) and ``orders.csv`` (symbol, side, quantity, entry,
stop, target: the sized, live rows) into ``--out`` (default: the current folder), as
:mod:`screeners.exports` makes them; the ``master_dashboard`` asset writes the same two files
beside each partition. A lake without the plan is an error naming what to materialize.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from screeners import exports
from tradingstation.cli.args import session_arg
from tradingstation.core.errors import TradingStationError

if TYPE_CHECKING:
    from tradingstation.lake import Lake

COLUMNS = ["rank", "symbol", "side", "shares", "blocked_by", "status", "entry", "stop", "target"]


def add_commands(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("export", help="a stored plan as a TradingView watchlist and a bracket-order CSV: "
                                        "[--date D] [--out DIR]")
    cmd.add_argument("--date", type=session_arg, help="the plan's session (default: the latest master_dashboard)")
    cmd.add_argument("--out", default=".", help="folder for watchlist.txt and orders.csv (default: here)")
    cmd.set_defaults(func=cmd_export)


def read_plan(lake: Lake, day: dt.date) -> pl.DataFrame:
    """The plan's columns the exports need; ``exchange`` only where the partition has it (older ones do not)."""
    try:
        return lake.read("master_dashboard", sessions=[day], columns=[*COLUMNS, "exchange"])
    except pl.exceptions.ColumnNotFoundError:
        return lake.read("master_dashboard", sessions=[day], columns=COLUMNS)


def cmd_export(args: argparse.Namespace) -> int:
    from tradingstation.lake import Lake

    lake = Lake.from_env()
    stored = lake.sessions("master_dashboard")
    how = "materialize it, e.g. `tradingstation materialize --date D` (the session_job writes the plan)"
    if not stored:
        raise TradingStationError(f"the lake at {lake.root} holds no master_dashboard: {how}")
    day = args.date or stored[-1]
    if day not in stored:
        raise TradingStationError(
            f"no master_dashboard for {day}; the lake holds {stored[0]} .. {stored[-1]}: pick a --date there or {how}"
        )
    plan = read_plan(lake, day)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    watchlist, orders = out / exports.WATCHLIST_NAME, out / exports.ORDERS_NAME
    watchlist.write_text(exports.watchlist_text(plan), encoding="utf-8")
    orders.write_text(exports.orders_csv(plan), encoding="utf-8")
    placed = exports.bracket_orders(plan).height
    print(f"plan of {day}: {plan.height} row(s)")
    print(f"wrote {watchlist} ({plan['symbol'].n_unique()} symbol(s), TradingView watchlist import)")
    print(f"wrote {orders} ({placed} bracket order(s): the sized, live rows)")
    return 0
