"""What a user waits for on the command line: a fresh ``make run``, a session with history, the CLI's imports.

- **fresh make run**: ``tradingstation materialize`` (what ``make run`` runs after installing) on an
  empty lake and an empty SQLite ``DAGSTER_HOME``, in a subprocess: the history backfills (199 daily
  sessions, 10 of 30-minute bars) and then every asset of the latest closed session. Best of 3,
  each on fresh folders. Target <= 15 s.
- **one session with history present**: the same command again on the lake and instance the fresh
  run left (every history session present: no backfill, one ``session_job`` run). Best of 3.
  Target <= 3 s.
- **lazy CLI**: ``tradingstation --help`` and ``tradingstation sessions`` in a fresh interpreter:
  PASS when ``dagster`` is not in ``sys.modules`` afterwards; their time in process (imports
  included) is shown beside the time of importing the NYSE calendar alone, the floor of any command
  that knows sessions.

These targets are absolute: the "baseline" column is the budget and the ratio measured / budget.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmarks.common import BIN, REPEAT, Figure, best_of, clean_env, run_timed

FRESH_BUDGET, SESSION_BUDGET = 15.0, 3.0

# Runs the CLI's entry point with argv, then reports which heavy packages it imported.
_IMPORTS = (
    "import contextlib, io, json, sys, time; start = time.perf_counter(); "
    "from tradingstation.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()): code = main(sys.argv[1:])\n"
    "print(json.dumps({'code': code, 'seconds': time.perf_counter() - start, "
    "'dagster': 'dagster' in sys.modules, 'pandas': 'pandas' in sys.modules, 'modules': len(sys.modules)}))"
)


def materialize(home: Path, lake: Path) -> tuple[float, str]:
    """Seconds of ``tradingstation materialize`` against ``home`` and ``lake``, and its output."""
    home.mkdir(parents=True, exist_ok=True)
    env = clean_env(DAGSTER_HOME=str(home), TRADINGSTATION_LAKE_ROOT=str(lake))
    out = home.parent / "stdout.txt"
    seconds = run_timed([str(BIN / "tradingstation"), "materialize"], env=env, stdout=out)
    text = out.read_text()
    assert re.search(r"^run \S+ succeeded", text, re.MULTILINE), f"the run did not succeed:\n{text[-2000:]}"
    return seconds, text


# The floor under any command that prints sessions: importing the NYSE calendar (exchange_calendars).
_CALENDAR = _IMPORTS.replace("from tradingstation.cli import main", "from tradingstation.core import calendar").replace(
    "code = main(sys.argv[1:])", "code = 0")


def cli_imports(argv: list[str], program: str = _IMPORTS) -> dict:
    """In a fresh interpreter: the exit code, seconds from the first import to the command's end
    (in process), and whether dagster and pandas were imported."""
    proc = subprocess.run([sys.executable, "-c", program, *argv], capture_output=True, text=True,
                          env=clean_env(), check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> Iterator:
    with tempfile.TemporaryDirectory() as tmp:
        fresh, texts = [], []
        for i in range(REPEAT):
            seconds, text = materialize(Path(tmp, f"fresh-{i}", "home"), Path(tmp, f"fresh-{i}", "lake"))
            fresh.append(seconds)
            texts.append(text)
        backfills = [line for line in texts[-1].splitlines() if line.startswith("backfilling")]
        yield f"fresh runs: {', '.join(f'{s:.1f} s' for s in fresh)}; " + "; ".join(backfills)
        yield Figure("fresh `make run` (materialize, empty lake + SQLite instance) <= 15 s", min(fresh),
                     FRESH_BUDGET, "budget", 1.0)

        last = Path(tmp, f"fresh-{REPEAT - 1}")
        again, text = best_of(lambda: materialize(last / "home", last / "lake")[1])
        assert "backfilling" not in text, "the history was not complete after the fresh run"
        yield Figure("one session with history present (materialize again) <= 3 s", again, SESSION_BUDGET,
                     "budget", 1.0)

    floor = min(cli_imports([], _CALENDAR)["seconds"] for _ in range(REPEAT))
    for argv in (["--help"], ["sessions", "--start", "2025-11-24"]):
        runs = [cli_imports(argv) for _ in range(REPEAT)]
        seconds, found = min(r["seconds"] for r in runs), runs[-1]
        yield (f"`tradingstation {' '.join(argv)}`: imports dagster: {'YES' if found['dagster'] else 'no'}, "
               f"pandas: {'yes' if found['pandas'] else 'no'}, {found['modules']} modules")
        yield Figure(f"`tradingstation {argv[0]}` without importing Dagster", seconds, floor,
                     "import of the calendar alone", None, passed=not found["dagster"],
                     shown="dagster imported" if found["dagster"] else "no dagster")
