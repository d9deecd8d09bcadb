"""A live progress display for runs launched from the command line: one line per step as it ends.

A step's mark says what it found, not only that it finished: ``✓`` a step that succeeded and whose
asset checks (if any) all passed; ``!`` one that succeeded while a WARN check failed (the count and
the first description follow); ``✗`` a failed step, or a failed ERROR-severity check; ``–`` a
check step that evaluated nothing (a freshness check inside a session run: *Skipped* in the UI).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import dagster as dg

_SHOWN = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}


def step_mark(succeeded: bool, planned: int, evaluations: list) -> tuple[str, str]:
    """The mark and the note of a finished step from its check evaluations (``AssetCheckEvaluation``)."""
    if not succeeded:
        return "✗", ""
    failed = [e for e in evaluations if not e.passed]
    errors = [e for e in failed if e.severity == dg.AssetCheckSeverity.ERROR]
    if failed:
        first = (failed[0].description or "").strip().splitlines()[0:1]
        kind = "ERROR" if errors else "WARN"
        note = f"{len(failed)} of {len(evaluations)} check evaluation(s) failed, {kind}" + (f": {first[0][:120]}" if first else "")
        return ("✗" if errors else "!"), note
    if planned and not evaluations:
        return "–", "not evaluated (skipped)"
    return "✓", ""


@contextmanager
def follow(instance: dg.DagsterInstance, run_id: str, out: TextIO | None = None, every: float = 0.5) -> Iterator[None]:
    """Print each step's start and end from the instance's event log while the run executes."""
    out = out or sys.stdout
    stop = threading.Event()
    cursor: list[str | None] = [None]  # where the last read ended: each poll reads only what is new
    started: dict[str, float] = {}
    planned: dict[str, int] = {}
    evaluations: dict[str, list] = {}

    def show() -> None:
        page = instance.get_records_for_run(run_id, cursor=cursor[0], of_type=_SHOWN)
        cursor[0] = page.cursor or cursor[0]
        for entry in (record.event_log_entry for record in page.records):
            if entry.dagster_event is None:
                continue
            step, kind = entry.dagster_event.step_key or "?", entry.dagster_event.event_type
            if kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
                planned[step] = planned.get(step, 0) + 1
            elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluations.setdefault(step, []).append(entry.dagster_event.event_specific_data)
            elif kind == dg.DagsterEventType.STEP_START:
                started[step] = entry.timestamp
                print(f"  … {step}", file=out, flush=True)
            else:
                took = entry.timestamp - started.get(step, entry.timestamp)
                succeeded = kind == dg.DagsterEventType.STEP_SUCCESS
                mark, note = step_mark(succeeded, planned.get(step, 0), evaluations.get(step, []))
                print(f"  {mark} {step} ({took:.1f}s){f' {note}' if note else ''}", file=out, flush=True)

    def loop() -> None:
        while not stop.wait(every):
            show()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        show()  # whatever ended after the last poll
