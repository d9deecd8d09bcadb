"""Shared command-line entry for ``python -m screeners.<name>``: flags from the parameters dataclass.

``run_screener(name, argv)`` runs a registered screener (``screeners.registry``) as its spec says:
one flag per field of its parameters dataclass, bars loaded per its inputs, its docstring as help.

Data comes from the lake when it holds the session (``$TRADINGSTATION_LAKE_ROOT``), otherwise
from the configured source (``$TRADINGSTATION_SOURCE``, synthetic by default), validated against
the bar contract exactly as the assets do. This is the only I/O in ``screeners/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence

import polars as pl

from screeners import registry
from tradingstation.cli.args import one_line_errors, param_arg, session_arg

BarKind = str  # 'daily' | 'intraday_1m' | 'intraday_30m'
_DATASETS = {"daily": "daily_bars", "intraday_1m": "intraday_1m", "intraday_30m": "intraday_30m"}
_INTERVALS = {"daily": "1d", "intraday_1m": "1m", "intraday_30m": "30m"}
_KINDS = {dataset: kind for kind, dataset in _DATASETS.items()}


def bar_kind(dataset: str) -> BarKind:
    """The bar kind a command loads for a bar dataset (``daily_bars`` -> ``daily``)."""
    if dataset not in _KINDS:
        raise ValueError(f"a command loads bars only ({', '.join(_KINDS)}), not {dataset!r}")
    return _KINDS[dataset]


def command_inputs(spec: registry.ScreenerSpec) -> dict[str, tuple[BarKind, int]]:
    """A screener's inputs as the command loads them: argument -> (bar kind, sessions back)."""
    return {i.argument: (bar_kind(i.dataset), i.sessions_back) for i in spec.inputs}


def symbols_arg(text: str) -> list[str]:
    """argparse type for a comma-separated ticker list; the error names the bad ticker."""
    from tradingstation.core import schemas

    try:
        return schemas.normalize_symbols(text)
    except schemas.InvalidSymbolError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_params(parser: argparse.ArgumentParser, params_cls: type) -> None:
    """One --flag per dataclass field (underscores become dashes), typed, defaults shown."""
    for field in dataclasses.fields(params_cls):
        default = field.default
        flag = "--" + field.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            kind = param_arg(field.name, default) if isinstance(default, (int, float)) else type(default)
            parser.add_argument(flag, type=kind, default=default, help=f"(default {default})")


def load_bars(kind: BarKind, date: dt.date, sessions_back: int, tickers: list[str] | None) -> pl.DataFrame:
    """Bars of ``kind`` for ``date`` and the ``sessions_back`` sessions before it."""
    from tradingstation.core import calendar, schemas
    from tradingstation.lake import Lake

    sessions = [*calendar.sessions_before(date, sessions_back), date] if sessions_back else [date]
    lake = Lake.from_env()
    stored = set(lake.sessions(_DATASETS[kind]))
    if all(s in stored for s in sessions):
        return lake.read(_DATASETS[kind], sessions=sessions, symbols=tickers)
    from tradingstation.resources.config import make_source

    source = make_source(os.environ.get("TRADINGSTATION_SOURCE", "synthetic"))
    symbols = tickers or source.known_symbols()
    if symbols is None:
        from tradingstation.core.universe_lists import load_sp500

        symbols = load_sp500()[0]
    fetched = source.fetch(symbols, _INTERVALS[kind], sessions[0], sessions[-1])
    for symbol, why in fetched.failures.items():
        print(f"warning: {symbol}: {why}", file=sys.stderr)
    return schemas.validate_bars(fetched.bars, intraday=kind != "daily", sessions=sessions).bars


def run(
    name: str,
    params_cls: type,
    screen: Callable[..., pl.DataFrame],
    inputs: dict[str, tuple[BarKind, int]],
    argv: Sequence[str] | None = None,
    description: str | None = None,
) -> int:
    """Parse flags, load ``inputs`` (argument name -> (bar kind, sessions back)), screen, print."""
    from tradingstation.core import calendar

    parser = argparse.ArgumentParser(prog=f"python -m screeners.{name}", description=description)
    parser.add_argument("--date", type=session_arg, help="session YYYY-MM-DD (default: the latest session)")
    parser.add_argument("--tickers", type=symbols_arg, help="comma-separated symbols")
    parser.add_argument("--verbose", action="store_true", help="print every column and the inputs' sizes")
    add_params(parser, params_cls)
    args = parser.parse_args(argv)
    date = calendar.session(args.date) if args.date else calendar.latest_closed_session()
    params = params_cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(params_cls)})
    frames = {arg: load_bars(kind, date, back, args.tickers) for arg, (kind, back) in inputs.items()}
    if args.verbose:
        for arg, frame in frames.items():
            print(f"{arg}: {frame.height:,} rows, {frame['symbol'].n_unique()} symbols", file=sys.stderr)
    signals = screen(**frames, params=params)
    signals = signals.filter(pl.col("date") == date)
    with pl.Config(tbl_rows=50, tbl_cols=-1 if args.verbose else 10, fmt_str_lengths=120, tbl_width_chars=200):
        print(signals if args.verbose else signals.select("symbol", "side", "score", "entry", "stop", "target", "reasons"))
    print(f"{signals.height} {name} signal(s) for {date}")
    return 0


def run_screener(name: str, argv: Sequence[str] | None = None) -> int:
    """``python -m screeners.<name>``: the registered screener ``name`` as a command."""
    spec = registry.spec(name)
    return one_line_errors(
        f"python -m screeners.{name}",
        lambda: run(spec.name, spec.params, spec.screen, command_inputs(spec), argv, spec.description),
    )


def run_anchors(argv: Sequence[str] | None = None) -> int:
    """``python -m screeners.avwap_anchors --lookback-days 30 [--ticker NVDA]``: print the anchors."""
    return one_line_errors("python -m screeners.avwap_anchors", lambda: _anchors(argv))


def _anchors(argv: Sequence[str] | None) -> int:
    from screeners import avwap_anchors
    from screeners.avwap_anchors import AnchorParams, find_anchors
    from tradingstation.core import calendar

    parser = argparse.ArgumentParser(prog="python -m screeners.avwap_anchors", description=avwap_anchors.__doc__)
    parser.add_argument("--date", type=session_arg, help="session YYYY-MM-DD (default: the latest session)")
    parser.add_argument("--ticker", type=symbols_arg, help="one symbol (or comma-separated)")
    parser.add_argument("--tickers", type=symbols_arg, help="comma-separated symbols")
    add_params(parser, AnchorParams)
    args = parser.parse_args(argv)
    date = calendar.session(args.date) if args.date else calendar.latest_closed_session()
    params = AnchorParams(**{f.name: getattr(args, f.name) for f in dataclasses.fields(AnchorParams)})
    tickers = [*(args.ticker or []), *(args.tickers or [])] or None
    daily = load_bars("daily", date, params.lookback_days + params.volume_avg_days, tickers)
    anchors = find_anchors(daily, params, as_of=date)
    with pl.Config(tbl_rows=100, tbl_cols=-1, tbl_width_chars=200):
        print(anchors)
    print(f"{anchors.height} anchor(s) for {date}")
    return 0
