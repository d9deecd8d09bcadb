"""The ``tradingstation`` console script (``tradingstation.cli:run``): the command's exit code and
whole output, exit handlers run, the instance's SQLite files closed, a closed pipe quiet — though
it leaves without the interpreter's teardown."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

# The console script's body, with an exit handler registered first (it must still run).
SCRIPT = """
import atexit, sys
atexit.register(lambda: print("exit handler ran", flush=True))
sys.argv = ["tradingstation", *sys.argv[1:]]
from tradingstation.cli import run
run()
"""


def _run(*argv: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:  # noqa: ANN003
    return subprocess.run([sys.executable, "-c", SCRIPT, *argv], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, **kwargs)


def test_the_exit_code_and_every_line_come_out() -> None:
    done = _run("sessions", "--start", "2025-01-02", "--end", "2025-12-31")
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert lines[0].startswith("2025-01-02") and lines[-2].startswith("2025-12-31"), lines[-3:]
    assert lines[-1] == "exit handler ran" and len(lines) == 251  # 250 sessions, then the handler


def test_a_failing_command_keeps_its_exit_code(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "daily_bars" / "date=2025-11-24").mkdir(parents=True)
    (lake / "daily_bars" / "date=2025-11-24" / "part-0.parquet").write_bytes(b"not parquet")
    done = _run("lake", "verify", env={"TRADINGSTATION_LAKE_ROOT": str(lake), "DAGSTER_HOME": str(tmp_path / "home")})
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "unreadable Parquet file" in done.stdout and done.stdout.rstrip().endswith("exit handler ran")


def test_a_run_leaves_its_sqlite_files_closed(tmp_path: Path) -> None:
    """The instance is disposed of before the fast exit: no write-ahead log is left to replay."""
    env = {"DAGSTER_HOME": str(tmp_path / "home"), "TRADINGSTATION_LAKE_ROOT": str(tmp_path / "lake")}
    done = _run("materialize", "--date", "2025-11-24", "--select", "universe", "--no-history", env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    runs = tmp_path / "home" / "history" / "runs"
    assert not list(runs.glob("*.db-wal")), sorted(p.name for p in runs.iterdir())
    assert not (tmp_path / "home" / "history" / "runs.db-wal").exists()
    with sqlite3.connect(runs / "index.db") as conn:
        assert conn.execute("select count(*) from event_logs").fetchone()[0] > 0


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, "sessions", "--start", "2000-01-03", "--end", "2025-12-31"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().startswith("2000-01-03")
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.wait(timeout=120) == 141 and "Traceback" not in err, err


def test_a_broken_pipe_that_is_not_the_output_s_is_an_error() -> None:
    """A socket's broken pipe (an alert webhook, S3) must not pass for a reader that went away."""
    script = SCRIPT.replace(
        "from tradingstation.cli import run",
        "import tradingstation.cli.commands as commands\n"
        "def failing(argv=None):\n"
        "    raise BrokenPipeError(32, 'Broken pipe (the webhook)')\n"
        "commands.main = failing\n"
        "from tradingstation.cli import run",
    )
    done = subprocess.run([sys.executable, "-c", script, "sessions"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "BrokenPipeError" in done.stderr and "the webhook" in done.stderr, done
