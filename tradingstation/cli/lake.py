"""`tradingstation lake ...`: the runbook's backfill_rebuilder operations.

verify [--check-gaps] | detect-gaps | fill-gaps --symbol S | rebuild --dataset X --start --end
[--symbols ...] | cleanup [--dry-run] | backup [--target ROOT] [--label L] | restore --date L
"""

from __future__ import annotations

import argparse
import datetime as dt

import polars as pl

from tradingstation import maintenance
from tradingstation.cli.args import dataset_arg, session_arg, session_range
from tradingstation.cli.screen import symbols_arg
from tradingstation.core import calendar
from tradingstation.lake import Lake

BAR_DATASETS = ("daily_bars", "intraday_1m", "intraday_30m")


def _print(report) -> int:  # any maintenance report
    print(report.summary())
    return 0 if report.ok else 1


def cmd_verify(args: argparse.Namespace) -> int:
    return _print(maintenance.verify(Lake.from_env(), args.datasets, check_gaps=args.check_gaps, deep=args.deep))


def cmd_detect_gaps(args: argparse.Namespace) -> int:
    gaps = maintenance.detect_gaps(Lake.from_env(), args.dataset, args.start, args.end)
    if args.symbol:
        gaps = gaps.filter(pl.col("symbol").is_in(args.symbol))
    with pl.Config(tbl_rows=100):
        print(gaps if gaps.height else f"no gaps in {args.dataset}")
    return 1 if gaps.height else 0


def rebuild(dataset: str, first: dt.date, last: dt.date, log_level: str) -> int:
    """Re-materialize ``dataset`` for a session range as one run (a single-run backfill)."""
    from tradingstation.cli.runs import execute, print_materializations

    print(f"rebuilding {dataset} for {first} .. {last} as one run")
    result = execute("session_job", first=first.isoformat(), last=last.isoformat(), assets=[dataset], log_level=log_level)
    print_materializations(result)
    print(f"run {result.run_id} {'succeeded' if result.success else 'FAILED'}")
    return 0 if result.success else 1


def cmd_fill_gaps(args: argparse.Namespace) -> int:
    gaps = maintenance.detect_gaps(Lake.from_env(), args.dataset, args.start, args.end)
    if args.symbol:
        gaps = gaps.filter(pl.col("symbol").is_in(args.symbol))
    if not gaps.height:
        print(f"no gaps in {args.dataset}" + (f" for {', '.join(args.symbol)}" if args.symbol else ""))
        return 0
    missing = sorted(set(gaps["date"].to_list()))
    print(f"{gaps.height} missing (symbol, session) pair(s) over {len(missing)} session(s)")
    # Partitions are rewritten whole (every universe symbol), so the fill is idempotent.
    return rebuild(args.dataset, missing[0], missing[-1], args.log_level)


def cmd_rebuild(args: argparse.Namespace) -> int:
    first, last = session_range(args.start, args.end)
    code = rebuild(args.dataset, first, last, args.log_level)
    if args.symbols:
        bars = Lake.from_env().read(args.dataset, args.start, args.end, symbols=args.symbols, columns=["symbol"])
        counts = dict(bars.group_by("symbol").len().iter_rows())
        sessions = len(calendar.sessions_in_range(args.start, args.end))
        for symbol in args.symbols:
            print(f"{symbol}: present in {len({*bars.filter(pl.col('symbol') == symbol)['date']})} of {sessions} session(s)"
                  if counts.get(symbol) else f"{symbol}: no bars (not in the universe, or the source failed)")
    return code


def cmd_cleanup(args: argparse.Namespace) -> int:
    policy = maintenance.RetentionPolicy.from_env()
    return _print(maintenance.cleanup(Lake.from_env(), policy, dry_run=args.dry_run))


def cmd_backup(args: argparse.Namespace) -> int:
    return _print(maintenance.backup(Lake.from_env(), args.target, args.label))


def cmd_restore(args: argparse.Namespace) -> int:
    return _print(maintenance.restore(Lake.from_env(), args.source, args.date))


def add_commands(sub: argparse._SubParsersAction) -> None:
    lake = sub.add_parser("lake", help="lake data management: verify, gaps, rebuild, cleanup, backup, restore")
    ops = lake.add_subparsers(dest="operation", required=True)

    p = ops.add_parser("verify", help="every partition readable and of its contract [and no missing sessions]")
    p.add_argument("--datasets", nargs="*", type=dataset_arg)
    p.add_argument("--check-gaps", action="store_true")
    p.add_argument("--deep", action="store_true", help="also decompress every page")
    p.set_defaults(func=cmd_verify)

    for name, func, help_ in [
        ("detect-gaps", cmd_detect_gaps, "list (symbol, session) pairs missing from a bar dataset"),
        ("fill-gaps", cmd_fill_gaps, "re-fetch the sessions where a symbol has gaps, as one run"),
    ]:
        p = ops.add_parser(name, help=help_)
        p.add_argument("--dataset", default="daily_bars", choices=BAR_DATASETS)
        p.add_argument("--symbol", type=symbols_arg)
        p.add_argument("--start", type=session_arg)
        p.add_argument("--end", type=session_arg)
        p.add_argument("--log-level", default="WARNING")
        p.set_defaults(func=func)

    p = ops.add_parser("rebuild", help="re-materialize a dataset for a session range through Dagster (one run)")
    p.add_argument("--dataset", type=dataset_arg, required=True)
    p.add_argument("--start", type=session_arg, required=True)
    p.add_argument("--end", type=session_arg, required=True)
    p.add_argument("--symbols", type=symbols_arg, help="report these symbols' coverage afterwards")
    p.add_argument("--log-level", default="WARNING")
    p.set_defaults(func=cmd_rebuild)

    p = ops.add_parser("cleanup", help="apply the retention policy (TRADINGSTATION_RETENTION_* to change it) and "
                       "remove interrupted writes older than an hour (temp files, unfinished S3 uploads)")
    p.add_argument("--dry-run", action="store_true",
                   help="list what would go (partitions, temp files, unfinished uploads), delete nothing")
    p.set_defaults(func=cmd_cleanup)

    p = ops.add_parser("backup", help="snapshot the lake with a manifest of sizes and checksums "
                       "(signed when TRADINGSTATION_BACKUP_HMAC_KEY is set)")
    p.add_argument("--target", help="backup root (default $TRADINGSTATION_BACKUP_ROOT or ./data/backups)")
    p.add_argument("--label", help="snapshot label (default: today's date)")
    p.set_defaults(func=cmd_backup)

    p = ops.add_parser("restore", help="verify a backup's manifest (checksum; signature when "
                       "TRADINGSTATION_BACKUP_HMAC_KEY is set), its file list and every file's checksum, then restore it")
    p.add_argument("--date", required=True, help="the backup's label, e.g. 2025-11-28")
    p.add_argument("--source", help="backup root (default $TRADINGSTATION_BACKUP_ROOT or ./data/backups)")
    p.set_defaults(func=cmd_restore)
