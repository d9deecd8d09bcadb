"""``tradingstation dashboard`` / ``python -m screeners.dashboard``: the ranked plan from the lake.

Every screener of ``screeners.registry`` contributes: its signals come from the lake where it holds
the dashboard's session, else the screener runs on bars loaded as its command loads them (its
spec's inputs, :mod:`tradingstation.cli.screen`); the plan itself is the pure
:func:`screeners.dashboard.build_dashboard`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl

import screeners.dashboard as plan
from screeners import registry
from screeners.dashboard import (
    CHART_SESSIONS,
    DashboardParams,
    build_dashboard,
    combine_signals,
    market_regime,
)
from tradingstation.cli import screen as cli
from tradingstation.cli.args import one_line_errors, session_arg
from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def _from_lake(name: str, window: list[dt.date], date: dt.date) -> pl.DataFrame | None:
    """``<name>_signals`` from the lake when it holds the dashboard date, else None."""
    dataset = registry.signals_dataset(name)
    try:
        lake = Lake.from_env()
        stored = set(lake.sessions(dataset))
        if date not in stored:
            return None
        return lake.read(dataset, sessions=[d for d in window if d in stored])
    except Exception as exc:  # unknown dataset, unreachable lake: run the screener instead
        _warn(f"{dataset} not read from the lake ({exc})")
        return None


def _run_screeners(names: list[str], date: dt.date, extra: int, tickers: list[str] | None) -> dict:
    """Run ``names`` on bars loaded once per kind (the deepest history any of them needs)."""
    inputs = {name: cli.command_inputs(registry.spec(name)) for name in names}
    backs: dict[str, int] = {"daily": CHART_SESSIONS + extra}
    for kind, back in (wanted for n in names for wanted in inputs[n].values()):
        backs[kind] = max(backs.get(kind, 0), back + extra)
    bars, out = {}, {}
    for kind, back in sorted(backs.items()):
        try:
            bars[kind] = cli.load_bars(kind, date, back, tickers)
        except Exception as exc:
            _warn(f"cannot load {kind} bars: {exc}")
    for name in names:
        try:
            frames = {arg: bars[kind] for arg, (kind, _) in inputs[name].items()}
            out[name] = registry.spec(name).screen(**frames)
        except Exception as exc:  # a module not written yet, missing bars, a failing screener
            _warn(f"screener {name} skipped: {exc!r}")
    return {"daily": bars.get("daily", pl.DataFrame(schema=schemas.DAILY_BARS)), "signals": out,
            "minute": bars.get("intraday_1m")}


def _status_inputs(window: list[dt.date], date: dt.date, minute: pl.DataFrame | None) -> dict:
    """The 1-minute bars (rows' status), the previous session's scorecard (plan score) and the session's
    earnings (next report), from the lake where it holds them; a screener run here brings its own
    1-minute bars."""
    found: dict = {"minute_bars": minute, "scorecard": None, "earnings": None}
    try:
        lake = Lake.from_env()
        if minute is None and (stored := [d for d in window if lake.exists("intraday_1m", d)]):
            found["minute_bars"] = lake.read("intraday_1m", sessions=stored)
        previous = calendar.previous_session(date)
        if lake.exists("screener_scorecard", previous):
            found["scorecard"] = lake.read("screener_scorecard", sessions=[previous])
        if lake.exists("earnings", date):  # each row's next report
            found["earnings"] = lake.read("earnings", sessions=[date])
    except Exception as exc:  # an unreachable lake: statuses from what the run has, screener scores
        _warn(f"status and track record not read from the lake ({exc})")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screeners.dashboard`` / ``tradingstation dashboard``: print (and page) the plan."""
    return one_line_errors("python -m screeners.dashboard", lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m screeners.dashboard", description=plan.__doc__)
    parser.add_argument("--date", type=session_arg, help="session YYYY-MM-DD (default: the latest session)")
    parser.add_argument("--tickers", type=cli.symbols_arg, help="comma-separated symbols")
    parser.add_argument("--verbose", action="store_true", help="every column and per-screener counts")
    parser.add_argument("--html", help="also write the dashboard as one HTML page here")
    cli.add_params(parser, DashboardParams)
    args = parser.parse_args(argv)
    date = calendar.session(args.date) if args.date else calendar.latest_closed_session()
    params = DashboardParams(**{f.name: getattr(args, f.name) for f in dataclasses.fields(DashboardParams)})
    as_of = min(calendar.session_close(date), dt.datetime.now(dt.timezone.utc))  # the close, or now
    start = as_of - dt.timedelta(hours=params.hours_lookback)
    window = calendar.sessions_in_range(start.date(), date) or [date]
    names = list(registry.SCREENERS)
    stored = {n: f for n in names if (f := _from_lake(n, window, date)) is not None}
    ran = _run_screeners([n for n in names if n not in stored], date, len(window) - 1, args.tickers)
    frames, daily = {**stored, **ran["signals"]}, ran["daily"]
    try:  # the regime symbol with enough history for its SMA, whatever the tickers
        spy = cli.load_bars("daily", date, params.regime_sma, [params.regime_symbol])
        daily = pl.concat([daily.filter(pl.col("symbol") != params.regime_symbol), spy], how="vertical")
    except Exception as exc:
        _warn(f"regime symbol {params.regime_symbol}: {exc}")
    signals = combine_signals(frames.values())
    status = _status_inputs(window, date, ran["minute"])
    dash = build_dashboard(signals, daily, as_of, date, params, **status)
    cols = ["rank", "symbol", "side", "plan_score", "composite_score", "confluence", "screeners", "entry", "stop",
            "target", "reward_risk", "shares", "blocked_by", "status", "conflict", "against_regime"]
    with pl.Config(tbl_rows=200, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=250):
        print(dash.drop("reasons") if args.verbose else dash.select(cols))
    if args.verbose:
        for r in dash.iter_rows(named=True):
            print(f"{r['rank']:>3} {r['symbol']} {r['side']}: {r['reasons']}")
        recent = signals.filter(pl.col("ts").is_between(start, as_of))
        for name in names:
            where = "lake" if name in stored else "ran" if name in frames else "skipped"
            print(f"{name}: {recent.filter(pl.col('screener') == name).height} signal(s) ({where})")
    regime = market_regime(daily, date, params.regime_symbol, params.regime_sma)
    print(f"{dash.height} dashboard row(s) for {date}, regime {regime} ({params.regime_symbol})")
    if args.html:
        from screeners.dashboard_html import render_html  # imports this module

        Path(args.html).write_text(render_html(dash, daily, params, f"TradingStation dashboard {date}",
                                               minute_bars=status["minute_bars"]))  # pre-market levels, 1m charts
        print(f"wrote {args.html}")
    return 0
