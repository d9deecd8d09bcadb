"""Backfill overhead: a 250-session ``universe,daily_bars`` backfill through the CLI against the same
work without Dagster.

- **measured**: ``tradingstation materialize --start S --end E --select universe,daily_bars
  --no-history`` in a subprocess, on a fresh temporary SQLite ``DAGSTER_HOME`` and a fresh local
  lake each time: one run, with every asset check ``session_job`` runs on those two assets. Wall
  time of the command (interpreter start, imports and the instance included: what a user waits for).
- **baseline**: the same work in this process, without Dagster (imports done before timing): the
  universe as the ``universe`` asset computes it (its own pure functions ``candidates`` and
  ``liquidity_universe``, the same two fetches), written with ``Lake.write_sessions``; then
  ``daily_bars`` as its asset does it (each session's own universe read back from the lake, one fetch,
  ``validate_bars``, ``keep_allowed``), the bars and their quarantine written with ``write_sessions``.
  Not done by the baseline: the assets' guards (shrink, damaged partitions) and the checks — Dagster-
  side work the target counts as overhead.

Also reported: the same command on one session (the fixed cost of any CLI run: interpreter, imports,
instance, one run), and from it what each further session costs beside the baseline's per session.

Equality is asserted before timing, on a 20-session range (same code path, cheap), and again on the
outputs of every timed 250-session run: the universe, daily_bars and daily_bars_quarantine
partitions of the CLI's lake equal the baseline's. Target: CLI <= 2x baseline.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from polars.testing import assert_frame_equal

from benchmarks.common import BIN, REPEAT, Figure, best_of, clean_env, run_timed
from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake

END = "2025-11-24"
SESSIONS, CHECK_SESSIONS = 250, 20
LIMIT = 2.0
DATASETS = ("universe", "daily_bars", "daily_bars_quarantine")


def sessions_ending(end: str, count: int) -> list:
    return [*calendar.sessions_before(end, count - 1), calendar.session(end)]


def plain_backfill(root: str, sessions: list) -> None:
    """``universe`` then ``daily_bars`` for ``sessions``, as their assets compute them, without Dagster."""
    from tradingstation.assets.market_data import keep_allowed, keep_allowed_quarantine
    from tradingstation.assets.universe import UniverseConfig, candidates, liquidity_universe, with_list_info
    from tradingstation.maintenance import universe_pairs
    from tradingstation.quality.universe import session_universes
    from tradingstation.resources.config import make_source
    from tradingstation.resources.sources import Interval

    source, lake, config = make_source("synthetic", {}), Lake(root), UniverseConfig()
    symbols, list_name, as_of = candidates(config, source)
    symbols = list(dict.fromkeys([*symbols, *schemas.normalize_symbols(config.always_include)]))
    start = calendar.sessions_before(sessions[0], config.lookback_sessions)[0]
    fetched = source.fetch(symbols, Interval.DAY, start, calendar.previous_session(sessions[-1]))
    daily = schemas.validate_bars(fetched.bars, intraday=False).bars
    table = liquidity_universe(
        symbols, daily, sessions, min_price=config.min_price, min_avg_dollar_volume=config.min_avg_dollar_volume,
        lookback_sessions=config.lookback_sessions, failures=fetched.failures,
    )
    table = with_list_info(table, symbols, list_name, as_of)
    lake.write_sessions("universe", table, sessions)

    universes = session_universes(lake, sessions)
    allowed = universe_pairs(universes, sessions, [])
    wanted = universes.all_symbols()
    fetched = source.fetch(wanted, Interval.DAY, sessions[0], sessions[-1])
    validated = schemas.validate_bars(fetched.bars, intraday=False, sessions=sessions)
    quarantine = keep_allowed_quarantine(validated.quarantine, allowed, wanted)
    lake.write_sessions("daily_bars_quarantine", quarantine, sessions)
    lake.write_sessions("daily_bars", keep_allowed(validated.bars, allowed), sessions)


def cli_backfill(work: Path, sessions: list) -> tuple[float, str]:
    """Seconds of the CLI backfill on a fresh instance and lake under ``work``, and its run id."""
    home, root = work / "dagster_home", work / "lake"
    home.mkdir(parents=True)
    env = clean_env(DAGSTER_HOME=str(home), TRADINGSTATION_LAKE_ROOT=str(root))
    command = [str(BIN / "tradingstation"), "materialize", "--start", sessions[0].isoformat(),
               "--end", sessions[-1].isoformat(), "--select", "universe,daily_bars", "--no-history"]
    out = work / "stdout.txt"
    seconds = run_timed(command, env=env, stdout=out)
    found = re.search(r"^run (\S+) succeeded", out.read_text(), re.MULTILINE)
    assert found, f"no succeeded run in the CLI's output:\n{out.read_text()[-2000:]}"
    return seconds, found.group(1)


def assert_same_lake(ours: str, theirs: str, sessions: list) -> None:
    """Every partition of DATASETS in the lake ``theirs`` equals the one in ``ours``."""
    a, b = Lake(ours), Lake(theirs)
    for dataset in DATASETS:
        assert a.sessions(dataset) == b.sessions(dataset) == sessions, f"{dataset}: partitions differ"
        assert_frame_equal(a.read(dataset, sessions=sessions), b.read(dataset, sessions=sessions))


def run_events(home: Path, run_id: str) -> dict[str, int]:
    """Events the run wrote to the instance, by type (the count that costs SQLite commits)."""
    import os

    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    # the local instance's storage finds its files through DAGSTER_HOME, as Dagster's commands do
    saved, os.environ["DAGSTER_HOME"] = os.environ.get("DAGSTER_HOME"), str(home)
    try:
        instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))
    finally:
        os.environ.pop("DAGSTER_HOME") if saved is None else os.environ.__setitem__("DAGSTER_HOME", saved)
    with instance:
        counts: dict[str, int] = {}
        for record in instance.all_logs(run_id):
            kind = record.dagster_event.event_type_value if record.dagster_event else "log message"
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def main() -> Iterator:
    full, short = sessions_ending(END, SESSIONS), sessions_ending(END, CHECK_SESSIONS)
    import tradingstation.assets.universe  # noqa: F401  (the baseline's imports, before any timing)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plain_backfill(str(work / "plain-check"), short)  # equality first, on a short range
        cli_backfill(work / "cli-check", short)
        assert_same_lake(str(work / "plain-check"), str(work / "cli-check" / "lake"), short)
        yield (f"outputs equal (universe, daily_bars, daily_bars_quarantine) on {CHECK_SESSIONS} sessions "
               f"{short[0]} .. {short[-1]}; now {SESSIONS} sessions {full[0]} .. {full[-1]}, best of {REPEAT}")

        count = iter(range(100))
        plain_root = lambda: str(work / f"plain-{next(count)}")  # noqa: E731  a fresh lake per run
        roots: list[str] = []
        baseline, _ = best_of(lambda: plain_backfill(roots[-1], full), setup=lambda: roots.append(plain_root()))
        cli_times, last = [], None
        for i in range(REPEAT):
            seconds, run_id = cli_backfill(work / f"cli-{i}", full)
            assert_same_lake(roots[-1], str(work / f"cli-{i}" / "lake"), full)
            cli_times.append(seconds)
            last = (work / f"cli-{i}" / "dagster_home", run_id)
        # What a CLI run costs whatever its length (interpreter, imports, instance, one run), and
        # what each further session costs: the ratio's two parts.
        one = min(cli_backfill(work / f"one-{i}", full[-1:])[0] for i in range(REPEAT))
        per_session = (min(cli_times) - one) / (SESSIONS - 1)
        yield (f"the same command on 1 session: {one:.2f} s (best of {REPEAT}), the fixed cost of a CLI run; "
               f"each further session {1000 * per_session:.1f} ms; the baseline's whole run / {SESSIONS} sessions: "
               f"{1000 * baseline / SESSIONS:.1f} ms (its imports were done before timing)")
        events = run_events(*last)
        top = ", ".join(f"{kind} {n}" for kind, n in list(events.items())[:6])
        yield f"the CLI run wrote {sum(events.values()):,} events to the SQLite instance: {top}"
        yield f"CLI runs: {', '.join(f'{s:.1f} s' for s in cli_times)} (outputs equal to the baseline's each time)"
        yield Figure(f"backfill {SESSIONS} sessions universe,daily_bars via CLI (SQLite, checks) <= 2x",
                     min(cli_times), baseline, "same fetch+validate+writes, no Dagster", LIMIT)
