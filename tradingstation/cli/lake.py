"""`tradingstation lake ...`: the runbook's backfill_rebuilder operations.

verify [--deep] [--check-gaps] | detect-gaps | fill-gaps --symbol S | rebuild --dataset X --start --end
[--symbols ...] | cleanup [--dry-run] | backup [--target ROOT] [--label L] | restore --date L

``verify`` finds every kind of damage at its default depth (:mod:`tradingstation.maintenance.integrity`).
``detect-gaps`` and ``fill-gaps`` go on past damaged files and name each; ``fill-gaps`` rewrites
their sessions along with the gaps, as one run over the span (each partition for its own
session's universe, so the rewrite of sound partitions in between changes nothing).
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


def _found_gaps(args: argparse.Namespace) -> tuple[pl.DataFrame, list[dt.date]]:
    """The gap rows (of ``--symbol`` only, when given) and the sessions whose file is damaged, each
    damaged file named on its own line."""
    found = maintenance.find_gaps(Lake.from_env(), args.dataset, args.start, args.end)
    for issue in found.damaged:
        print(f"DAMAGED {issue.key}: {issue.problem}")
    gaps = found.gaps.filter(pl.col("symbol").is_in(args.symbol)) if args.symbol else found.gaps
    return gaps, found.damaged_dates


def cmd_detect_gaps(args: argparse.Namespace) -> int:
    gaps, damaged = _found_gaps(args)
    with pl.Config(tbl_rows=100):
        print(gaps if gaps.height else f"no gaps in {args.dataset}")
    return 1 if gaps.height or damaged else 0


def rebuild(dataset: str, first: dt.date, last: dt.date, log_level: str) -> tuple[int, bool]:
    """Re-materialize ``dataset`` for a session range as one run (a single-run backfill); returns the
    exit code and whether the run executed here (False: left in the instance's queue)."""
    from tradingstation.cli.runs import execute, print_materializations, queued

    print(f"rebuilding {dataset} for {first} .. {last} as one run")
    result = execute("session_job", first=first.isoformat(), last=last.isoformat(), assets=[dataset], log_level=log_level)
    print_materializations(result)
    print(f"run {result.run_id} {'queued' if queued(result) else 'succeeded' if result.success else 'FAILED'}")
    return (0 if result.success else 1), not queued(result)


def cmd_fill_gaps(args: argparse.Namespace) -> int:
    gaps, damaged = _found_gaps(args)
    sessions = sorted({*gaps["date"].to_list(), *damaged})
    if not sessions:
        print(f"no gaps in {args.dataset}" + (f" for {', '.join(args.symbol)}" if args.symbol else ""))
        return 0
    print(f"{gaps.height} missing (symbol, session) pair(s) and {len(damaged)} damaged file(s) over {len(sessions)} session(s)")
    # Partitions are rewritten whole, each for its own session's universe, so the fill is idempotent;
    # the bar assets replace a damaged partition rather than guard it.
    code, executed = rebuild(args.dataset, sessions[0], sessions[-1], args.log_level)
    if not executed:
        return code
    after = maintenance.find_gaps(Lake.from_env(), args.dataset, sessions[0], sessions[-1])
    left = after.gaps.filter(pl.col("symbol").is_in(args.symbol)) if args.symbol else after.gaps
    print(f"after the run: {left.height} gap(s), {len(after.damaged)} damaged file(s) left in {sessions[0]} .. {sessions[-1]}")
    return code


def cmd_rebuild(args: argparse.Namespace) -> int:
    first, last = session_range(args.start, args.end)
    code, executed = rebuild(args.dataset, first, last, args.log_level)
    if args.symbols and executed:
        bars = Lake.from_env().read(args.dataset, args.start, args.end, symbols=args.symbols, columns=["symbol"])
        counts = dict(bars.group_by("symbol").len().iter_rows())
        sessions = len(calendar.sessions_in_range(args.start, args.end))
        for symbol in args.symbols:
            print(f"{symbol}: present in {len({*bars.filter(pl.col('symbol') == symbol)['date']})} of {sessions} session(s)"
                  if counts.get(symbol) else f"{symbol}: no bars (not in the universe, or the source failed)")
    return code


def cmd_cleanup(args: argparse.Namespace) -> int:
    """Retention, then the Dagster instance ($DAGSTER_HOME) forgets what was deleted (dry run: says what it would)."""
    from tradingstation.assets.deleted_partitions import forget_deleted
    from tradingstation.cli.runs import instance
    from tradingstation.core.secrets import redact

    policy = maintenance.RetentionPolicy.from_env()
    report = maintenance.cleanup(Lake.from_env(), policy, dry_run=args.dry_run)
    code = _print(report)
    try:
        dagster_instance = instance()
    except Exception as exc:  # the deletions stand; say the catalog was not told, and fail
        print(f"ERROR Dagster catalog not told of the deletions: {redact(str(exc))}")
        return 1
    forgotten = forget_deleted(dagster_instance, report)
    print(forgotten.summary())
    return code or (0 if forgotten.ok else 1)


def cmd_backup(args: argparse.Namespace) -> int:
    return _print(maintenance.backup(Lake.from_env(), args.target, args.label))


def cmd_restore(args: argparse.Namespace) -> int:
    return _print(maintenance.restore(Lake.from_env(), args.source, args.date))


def add_commands(sub: argparse._SubParsersAction) -> None:
    lake = sub.add_parser("lake", help="lake data management: verify, gaps, rebuild, cleanup, backup, restore")
    ops = lake.add_subparsers(dest="operation", required=True)

    p = ops.add_parser("verify", help="every file read and checked: unreadable or garbled files, stray files, "
                       "interrupted writes, missing sessions, a missing bucket")
    p.add_argument("--datasets", nargs="*", type=dataset_arg)
    p.add_argument("--check-gaps", action="store_true", help="also per-symbol gaps of the bar datasets (warnings)")
    p.add_argument("--deep", action="store_true",
                   help="also the content contract: each file's sort order and, for bars, the bar contract")
    p.set_defaults(func=cmd_verify)

    for name, func, help_ in [
        ("detect-gaps", cmd_detect_gaps, "list (symbol, session) pairs missing from a bar dataset, and damaged files"),
        ("fill-gaps", cmd_fill_gaps, "re-fetch the sessions where a symbol has gaps or the file is damaged, as one run"),
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
                       "remove interrupted writes older than an hour (temp files, unfinished S3 uploads); "
                       "the Dagster catalog ($DAGSTER_HOME) forgets the deleted partitions")
    p.add_argument("--dry-run", action="store_true",
                   help="list what would go (partitions, temp files, unfinished uploads, catalog entries), "
                   "delete and forget nothing")
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
