"""The `tradingstation` command line: the operations runbook, through Dagster."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Sequence

# Nothing imported here loads Dagster (runs and ops.logs import it inside their functions), so
# --help, `sessions` and a bad flag answer without it: tests/test_cli_imports.py.
from tradingstation.cli.args import number_arg, session_arg, session_range
from tradingstation.cli.runs import (
    ensure_history,
    execute,
    instance,
    latest_closed_session,
    preflight,
    print_failures,
    print_materializations,
    queued,
)
from tradingstation.cli.screen import symbols_arg
from tradingstation.core import calendar, schemas
from tradingstation.core.errors import TradingStationError
from tradingstation.core.secrets import redact
from tradingstation.ops import logs
from tradingstation.quality import replacement


def cmd_materialize(args: argparse.Namespace) -> int:
    if args.start or args.end:
        if not (args.start and args.end):
            raise TradingStationError("--start and --end go together")
        first, last = session_range(args.start, args.end)
        run = {"first": first.isoformat(), "last": last.isoformat()}
        label, history_day = f"sessions {first} .. {last}", first
    else:
        day = calendar.session(args.date) if args.date else latest_closed_session()
        run, label, history_day = {"key": day.isoformat()}, f"session {day}", day
    instance()  # DAGSTER_HOME before anything touches Dagster
    selection = [a.strip() for a in args.select.split(",")] if args.select else None
    check_job_and_selection(args.job, selection)  # before any work: a bad name backfills nothing
    preflight()
    print(f"materializing {args.job} for {label} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    started = time.perf_counter()
    if args.history and not ensure_history(history_day, args.log_level):
        return 1
    tags = {replacement.ALLOW_SHRINK_TAG: "true"} if args.allow_shrink else None
    result = execute(args.job, assets=selection, log_level=args.log_level, tags=tags, **run)
    elapsed = time.perf_counter() - started
    print_materializations(result)
    print_failures(result)
    status = "queued" if queued(result) else "succeeded" if result.success else "FAILED"
    print(f"run {result.run_id} {status} in {elapsed:.1f}s")
    return 0 if result.success else 1


def check_job_and_selection(job: str, selection: list[str] | None) -> None:
    """A job the definitions hold and assets it contains, or one line naming what exists."""
    from tradingstation.definitions import defs

    jobs = sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    if job not in jobs:
        raise TradingStationError(f"unknown job {job!r}; jobs: {', '.join(jobs)}")
    if selection:
        known = {k.to_user_string() for k in defs.resolve_job_def(job).asset_layer.executable_asset_keys}
        unknown = [a for a in selection if a not in known]
        if unknown:
            raise TradingStationError(f"{job} has no asset(s) {', '.join(unknown)}; it has {', '.join(sorted(known))}")


def now() -> dt.datetime:
    """The wall clock in UTC: what `run` judges the session's time by (tests put theirs here)."""
    return dt.datetime.now(dt.timezone.utc)


def schedule_verdict(mode: str, day: dt.date, instant: dt.datetime) -> tuple[str | None, list]:
    """What ``mode``'s schedule does for session ``day`` at ``instant``: (its skip reason, []) or
    (None, the run requests it makes then). A later session is judged as of its own midnight."""
    import dagster as dg

    from tradingstation import schedules

    plan = {"premarket": schedules.premarket_requests, "market": schedules.market_requests,
            "postmarket": schedules.postmarket_requests, "daily": schedules.maintenance_requests}[mode]
    answers = list(plan(max(instant, dt.datetime.combine(day, dt.time(), tzinfo=calendar.NY))))
    skipped = [a.skip_message or "skipped" for a in answers if isinstance(a, dg.SkipReason)]
    return (skipped[0], []) if skipped else (None, answers)


# Modes with nothing to do before their window: no regular bars before the open, no whole day
# before the close. They skip (exit 0, nothing written) as their schedule does, unless the session
# named with --date has closed. premarket and daily run whenever asked: a late premarket run
# still finds its pre-market bars, and maintenance judges the lake as it is.
WAITS_FOR_ITS_WINDOW = ("market", "postmarket")


def cmd_run(args: argparse.Namespace) -> int:
    """The runbook's orchestrator: one session mode through the same assets as its schedule."""
    from tradingstation import schedules

    instant = now()
    today = instant.astimezone(calendar.NY).date()
    if not args.date and not calendar.is_session(today):  # the schedules' own reason: a weekend, a holiday
        print(f"{args.mode}: nothing to do: {schedule_verdict(args.mode, today, instant)[0]}")
        return 0
    day = calendar.session(args.date or today)
    plan: list[tuple[str, dt.date, list[str]]] = {
        "premarket": [("daily", calendar.previous_session(day), ["daily_bars"]),
                      ("premarket", day, schedules.PREMARKET_ASSETS)],
        "market": [("market", day, [*schedules.MARKET_ASSETS, "orb_signals"])],
        "postmarket": [("postmarket", day, schedules.POSTMARKET_ASSETS)],
        "daily": [("maintenance", day, ["lake_maintenance"])],
    }[args.mode]
    closed = bool(args.date) and day <= calendar.latest_closed_session(instant)
    scheduled_tags: dict[str, str] = {}
    if args.mode in WAITS_FOR_ITS_WINDOW and not closed:
        reason, requests = schedule_verdict(args.mode, day, instant)
        if reason:
            print(f"{args.mode} for {day}: nothing to do yet: {reason} (a closed session runs with --date)")
            return 0
        (request,) = requests  # what the schedule runs now (ORB once its range has closed), tagged as it tags it
        plan[-1] = (plan[-1][0], day, [key.to_user_string() for key in request.asset_selection])
        scheduled_tags = dict(request.tags)
    instance()
    preflight()
    config = None
    if args.tickers:  # the runbook's --tickers: this session's universe is exactly these symbols
        config = {"ops": {"universe": {"config": {"list_name": "explicit", "symbols": args.tickers}}}}
        if args.mode != "premarket":
            plan.insert(0, ("universe", day, ["universe"]))
    started, failed = time.perf_counter(), []
    for label, session, assets in plan:
        print(f"{args.mode}: {label} for {session} ({', '.join(assets)})")
        use = config if "universe" in assets else None
        tags = scheduled_tags if label == args.mode else None
        result = execute("session_job", key=session.isoformat(), assets=assets, log_level=args.log_level,
                         run_config=use, tags=tags)
        print_materializations(result)
        print_failures(result)
        if not result.success:
            failed.append(f"{label} {session} (run {result.run_id})")
        elif label == "maintenance" and not queued(result) and (unhealthy := maintenance_problems(result)):
            print("\n".join(f"  {line}" for line in unhealthy))
            failed.append(f"the lake is UNHEALTHY (run {result.run_id})")
    verdict = "FAILED: " + "; ".join(failed) if failed else "queued" if queued(result) else "succeeded"
    print(f"{args.mode} for {day} {verdict} in {time.perf_counter() - started:.1f}s")
    return 1 if failed else 0


def maintenance_problems(result) -> list[str]:
    """The maintenance run's verdict on the lake (``lake_maintenance``'s ``healthy`` metadata): []
    when healthy, else the lines of its verify and health reports that say why."""
    for event in result.get_asset_materialization_events():
        meta = event.event_specific_data.materialization.metadata
        if event.asset_key.to_user_string() != "lake_maintenance":
            continue
        if "healthy" not in meta:
            return ["lake_maintenance recorded no health verdict"]
        if meta["healthy"].value:
            return []
        reports = [str(meta[k].value).strip("`\n ") for k in ("verify", "health") if k in meta]
        lines = [line for text in reports for line in text.splitlines() if line.strip()]
        if "gaps" in meta and meta["gaps"].value:
            symbols = meta["gap_symbols"].value if "gap_symbols" in meta else []
            lines.append(f"daily_bars: {meta['gaps'].value} gap(s), symbols {', '.join(map(str, symbols))}")
        return lines or ["unhealthy"]
    return ["lake_maintenance was not materialized"]


def cmd_dashboard(args: argparse.Namespace, extra: list[str]) -> int:
    """The runbook's `master_dashboard.py`: the ranked plan from the lake's signals (or fresh screens)."""
    from tradingstation.cli import dashboard

    return dashboard.main(extra)


def cmd_sessions(args: argparse.Namespace) -> int:
    start = calendar.to_date(args.start)
    end = calendar.to_date(args.end) if args.end else start + dt.timedelta(days=14)
    for day in calendar.sessions_in_range(start, end):
        t = calendar.session_times(day)
        early = "  early close" if t.is_early_close else ""
        ny = calendar.NY
        print(f"{day}  open {t.open.astimezone(ny):%H:%M} close {t.close.astimezone(ny):%H:%M} ET{early}")
    return 0


def cmd_read(args: argparse.Namespace) -> int:
    import polars as pl

    from tradingstation.lake import Lake

    df = Lake.from_env().read(args.dataset, args.start, args.end or args.start, symbols=args.symbols)
    with pl.Config(tbl_rows=args.rows, tbl_cols=12):
        print(df)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradingstation", description=__doc__)
    parser.add_argument("--log-format", choices=["text", "json"], help="log lines as text (default) or JSON")
    sub = parser.add_subparsers(dest="command", required=True)

    mat = sub.add_parser("materialize", help="materialize a job's assets for a session or a range, through Dagster")
    mat.add_argument("--date", type=session_arg, help="session YYYY-MM-DD (default: the latest closed session)")
    mat.add_argument("--start", type=session_arg, help="first session of a range (one run, like a single-run backfill)")
    mat.add_argument("--end", type=session_arg, help="last session of a range")
    mat.add_argument("--job", default="session_job", help="job name (default session_job)")
    mat.add_argument("--select", help="comma-separated asset names to run instead of the whole job")
    mat.add_argument("--log-level", default="WARNING", help="Dagster console log level (default WARNING)")
    mat.add_argument(
        "--history", action=argparse.BooleanOptionalAction, default=True,
        help="first backfill the bar history the screeners read, if missing (daily 199 sessions, 1-minute 5, 30-minute 10)",
    )
    mat.add_argument(
        "--allow-shrink", action="store_true",
        help="replace stored partitions even with under half their symbols, or after most symbols failed",
    )
    mat.set_defaults(func=cmd_materialize)

    ses = sub.add_parser("sessions", help="list NYSE sessions with their open and close")
    ses.add_argument("--start", default=calendar.today_ny().isoformat())
    ses.add_argument("--end")
    ses.set_defaults(func=cmd_sessions)

    run = sub.add_parser("run", help="run one session mode now: premarket, market, postmarket or daily (maintenance)")
    run.add_argument("--mode", required=True, choices=["premarket", "market", "postmarket", "daily"])
    run.add_argument("--date", type=session_arg, help="session YYYY-MM-DD (default: today, which must be a session)")
    run.add_argument("--tickers", type=symbols_arg, help="comma-separated symbols: the session's universe")
    run.add_argument("--log-level", default="WARNING", help="Dagster console log level (default WARNING)")
    run.set_defaults(func=cmd_run)

    dash = sub.add_parser(
        "dashboard", add_help=False,
        help="the ranked trade plan: --hours-lookback 24 [--verbose] [--date D] [--html PATH] (see --help)",
    )
    dash.set_defaults(func=cmd_dashboard, passthrough=True)

    import screeners.registry  # noqa: F401  (registers the signal datasets for `read`)
    from tradingstation.cli import (
        lake as lake_commands,  # subcommand groups: they import runs, never this module
    )
    from tradingstation.cli import ops as ops_commands

    lake_commands.add_commands(sub)
    ops_commands.add_commands(sub)
    from tradingstation.cli import scorecard as scorecard_commands  # issue #10: the track record

    scorecard_commands.add_commands(sub)
    from tradingstation.cli import export as export_commands  # issue #10: watchlist and bracket orders

    export_commands.add_commands(sub)

    rd = sub.add_parser("read", help="print a dataset from the lake")
    rd.add_argument("dataset", choices=sorted(schemas.DATASETS))
    rd.add_argument("--start", type=session_arg, required=True)
    rd.add_argument("--end", type=session_arg)
    rd.add_argument("--symbols", type=symbols_arg)
    rd.add_argument("--rows", type=number_arg(int, minimum=1, maximum=1_000_000), default=20)
    rd.set_defaults(func=cmd_read)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (argparse's own 2 for a bad flag, 0 for --help)."""
    try:
        args, extra = build_parser().parse_known_args(argv)
    except SystemExit as exc:  # argparse printed its one line (or the help) already
        return int(exc.code or 0)
    if args.log_format:
        os.environ[logs.ENV_FORMAT] = args.log_format  # Dagster runs started below log the same way
    logs.configure(args.log_format)
    try:
        if getattr(args, "passthrough", False):
            return args.func(args, extra)
        if extra:
            print(f"tradingstation: error: unrecognized arguments: {' '.join(extra)}", file=sys.stderr)
            return 2
        return args.func(args)
    except (TradingStationError, FileNotFoundError, ValueError) as exc:
        print(f"tradingstation: error: {redact(str(exc))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
