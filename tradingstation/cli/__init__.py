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
    from the last exit handler to the process's end). So, after :func:`main` returns (argument
    errors and ``--help`` included: it returns their codes): the command's Dagster instance is
    disposed of (its SQLite connections closed, the write-ahead log checkpointed), the exit handlers
    run (``atexit``: logging, temporary directories), the output is flushed, and the process leaves
    with the command's exit code (``os._exit``). The ordinary exit stays for an exception, and for a
    process that still has a non-daemon thread (the interpreter would wait for it). When the reader
    of the output goes away (``tradingstation sessions ... | head``), the command ends quietly with
    141, as a tool killed by SIGPIPE; a broken pipe elsewhere (a socket) is the error it is.
    """
    import atexit
    import os
    import sys
    import threading

    try:
        code = main()
    except BrokenPipeError:
        if _stdout_open():
            raise  # not our output's reader: a real failure, with its traceback
        code = 141
    code = 0 if code is None else code if isinstance(code, int) else 1
    runs = sys.modules.get("tradingstation.cli.runs")
    try:
        if runs is not None:
            runs.dispose_instances()
    except Exception as exc:  # noqa: BLE001 - the work is done; say so, and exit with its code
        print(f"warning: the Dagster instance was not closed cleanly: {exc}", file=sys.stderr)
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)  # a thread still working: the ordinary exit waits for it
    atexit._run_exitfuncs()  # what the interpreter would run first at exit
    if not _stdout_open() and code == 0:
        code = 141  # the reader left before the last lines: the output is not whole
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def _stdout_open() -> bool:
    """Whether standard output still has a reader (flushed if so). A pipe whose reader has gone
    polls as an error; the output is then pointed at /dev/null, so nothing later fails on it."""
    import os
    import select
    import sys

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        gone = any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
        if not gone:
            sys.stdout.flush()
    except BrokenPipeError:
        gone = True
    except (OSError, ValueError):  # closed or detached (an embedding program): nothing to say there
        return False
    if gone:
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    return not gone
