"""The command line answers `--help`, `sessions` and a bad flag without importing Dagster.

Importing Dagster takes most of a second or two; only the commands that start runs or read the
definitions need it, and they import it inside the function. Each case runs in a fresh interpreter
(this test process has Dagster loaded already) and reports the modules it ended with.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Runs the entry point with its output captured, then prints one JSON line: the exit status, what
# the command printed, and the sorted names of the modules imported.
PROBE = """
import contextlib, io, json, sys
from tradingstation.cli import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "out": out.getvalue(), "err": err.getvalue(), "modules": sorted(sys.modules)}))
"""


def run_cli(*argv: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_help_imports_no_dagster() -> None:
    result = run_cli("--help")
    assert result["rc"] == 0 and result["out"].startswith("usage: tradingstation")
    assert "dagster" not in result["modules"]


def test_sessions_imports_no_dagster() -> None:
    result = run_cli("sessions", "--start", "2025-11-24", "--end", "2025-11-28")
    assert result["rc"] == 0
    assert "2025-11-28  open 09:30 close 13:00 ET  early close" in result["out"]
    assert "dagster" not in result["modules"]


BAD_FLAGS = [
    (["materialize", "--date", "notadate"], "'notadate' is not a date in YYYY-MM-DD form"),
    (["run", "--mode", "weekly"], "invalid choice: 'weekly'"),
]


@pytest.mark.parametrize(("argv", "says"), BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_a_bad_flag_fails_in_one_line_without_dagster(argv: list[str], says: str) -> None:
    result = run_cli(*argv)
    lines = result["err"].splitlines()
    assert result["rc"] == 2
    assert [line for line in lines if "error" in line] == lines[-1:]  # argparse's usage, then one error line
    assert says in lines[-1] and "Traceback" not in result["err"]
    assert "dagster" not in result["modules"]
