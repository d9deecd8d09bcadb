"""The ``tradingstation`` command line: the operations runbook, through Dagster.

The top layer: it may import every other part of the project; nothing imports it, except each
screener's ``main()`` (``python -m screeners.gapgo``), which hands over to :mod:`.screen` from
inside the function. Modules: :mod:`.commands` (the parser and the session commands), :mod:`.runs`
(Dagster runs started from the command line), :mod:`.lake` and :mod:`.ops` (the ``lake`` and
``health``/``verify-deployment``/``smoke-test`` groups), :mod:`.screen` (the screener commands).
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """The ``tradingstation`` entry point (imported lazily: ``--help`` needs no Dagster)."""
    from tradingstation.cli.commands import main as run_main

    return run_main(argv)
