"""`tradingstation health | verify-deployment | smoke-test`: the runbook's monitoring and deployment checks.

Each prints a verdict and exits non-zero when something is wrong. ``verify-deployment`` (the
runbook's verify_deployment.py) checks the configuration, credentials, lake access, instance and
calendar; the lake's stored files are ``tradingstation lake verify``'s business.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from tradingstation.cli.args import session_arg
from tradingstation.core import calendar
from tradingstation.lake import Lake
from tradingstation.ops import health

SMOKE_SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "META", "GOOGL", "TSLA", "JPM", "XOM", "UNH", "V", "HD",
                 "PG", "KO", "PEP", "MRK", "ABBV", "CVX", "COST", "WMT", "BAC", "NFLX", "AMD", "INTC", "CRM"]


def cmd_health(args: argparse.Namespace) -> int:
    from tradingstation.cli.runs import instance, latest_closed_session

    checks = args.check or ["storage", "data", "signals", "freshness"]
    checks += [c for c, wanted in (("api-usage", args.api_usage), ("storage-use", args.storage_usage)) if wanted]
    session = calendar.session(args.date) if args.date else latest_closed_session()
    source = None
    if "api" in checks:
        from tradingstation.resources.config import make_source

        source = make_source(os.environ.get("TRADINGSTATION_SOURCE", "synthetic"))
    report = health.health(Lake.from_env(), session, checks, source=source,
                           instance=instance() if "api-usage" in checks else None)
    print(f"health of session {session}:")
    print(report.summary())
    return 0 if report.ok else 1


def cmd_verify_deployment(args: argparse.Namespace) -> int:
    from tradingstation.cli.runs import instance

    instance()  # DAGSTER_HOME defaults like every other command
    report = health.verify_deployment()
    print(report.summary())
    return 0 if report.ok else 1


def cmd_smoke_test(args: argparse.Namespace) -> int:
    """A whole synthetic day end to end in a temporary lake and instance."""
    from tradingstation.cli import runs

    saved = {k: os.environ.get(k) for k in ("TRADINGSTATION_LAKE_ROOT", "DAGSTER_HOME", "TRADINGSTATION_SOURCE")}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tradingstation-smoke-") as tmp:
        os.environ.update(TRADINGSTATION_LAKE_ROOT=f"{tmp}/lake", DAGSTER_HOME=f"{tmp}/home", TRADINGSTATION_SOURCE="synthetic")
        try:
            day = calendar.session(args.date) if args.date else runs.latest_closed_session()
            config = {"ops": {"universe": {"config": {"list_name": "explicit", "symbols": SMOKE_SYMBOLS}}}}
            print(f"smoke test: session {day}, {len(SMOKE_SYMBOLS)} synthetic symbols, lake and instance in {tmp}")
            ok = runs.ensure_history(day, "WARNING", run_config=config)
            result = runs.execute("session_job", key=day.isoformat(), log_level="WARNING", run_config=config)
            failed_checks = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
            report = health.health(Lake.from_env(), day, ["storage", "data", "signals"])
            print(report.summary())
            ok = ok and result.success and report.ok
            if failed_checks:
                print(f"  note: checks that warned: {', '.join(sorted(set(failed_checks)))}")
        finally:
            for key, value in saved.items():
                os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    print(f"smoke test {'PASSED' if ok else 'FAILED'} in {time.perf_counter() - started:.1f}s")
    return 0 if ok else 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("health", help="is the data there, fresh, and the lake writable? (non-zero exit if not)")
    p.add_argument("--check", action="append", choices=["api", "data", "signals", "storage", "freshness"])
    p.add_argument("--api-usage", action="store_true", help="source fetches recorded in the last 24 h")
    p.add_argument("--storage-usage", action="store_true", help="bytes per dataset")
    p.add_argument("--date", type=session_arg, help="session to check (default: the latest closed session)")
    p.set_defaults(func=cmd_health)

    p = sub.add_parser(
        "verify-deployment", help="configuration, credentials, lake, instance and calendar before a deployment"
    )
    p.set_defaults(func=cmd_verify_deployment)

    p = sub.add_parser("smoke-test", help="a whole synthetic day end to end in a temporary lake and instance")
    p.add_argument("--date", type=session_arg, help="session to simulate (default: the latest closed session)")
    p.set_defaults(func=cmd_smoke_test)
