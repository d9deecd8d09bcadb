"""The ``tradingstation`` command line: the operations runbook, through Dagster.

The top layer: it may import every other part of the project; nothing imports it, except each
screener's ``main()`` (``python -m screeners.gapgo``), which hands over to :mod:`.screen` from
inside the function. Modules: :mod:`.commands` (the parser and the session commands), :mod:`.runs`
(Dagster runs started from the command line), :mod:`.lake` and :mod:`.ops` (the ``lake`` and
``health``/``verify-deployment``/``smoke-test`` groups), :mod:`.screen` (the screener commands).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn


def main(argv: Sequence[str] | None = None) -> int:
    """The command line as a function (imported lazily: ``--help`` needs no Dagster)."""
    from tradingstation.cli.commands import main as run_main

    return run_main(argv)


def run() -> NoReturn:
    """The ``tradingstation`` console script: :func:`main`, then the exit without the interpreter's
    teardown.

    Once a command has done its work, Python's finalization of what it loaded (Dagster, polars,
    pandas, matplotlib and their objects) took another ~0.7 s before the process ended (measured
    from the last exit handler to the process's end). So, after a command returns: the exit
    handlers run (``atexit``: logging, temporary directories), the command's Dagster instance is
    disposed of (its SQLite connections closed, the write-ahead log checkpointed), the output is
    flushed, and the process leaves with the command's exit code (``os._exit``). An exception or a
    ``SystemExit`` (argparse's errors, ``--help``) leaves the ordinary way; a reader that closed the
    pipe (``tradingstation sessions ... | head``) ends the command quietly with 141.
    """
    import atexit
    import os
    import sys

    try:
        code = main()
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as a tool killed by SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush there
        code = 141  # 128 + SIGPIPE, what the shell reports for such a tool

    runs = sys.modules.get("tradingstation.cli.runs")
    if runs is not None:
        runs.dispose_instances()
    atexit._run_exitfuncs()  # what the interpreter would run first at exit
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``| head``): nothing more can be said
            pass
    os._exit(code if isinstance(code, int) else 1)
