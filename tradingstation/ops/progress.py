"""A live progress display for runs launched from the command line: one line per step as it ends."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import dagster as dg

_SHOWN = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}


@contextmanager
def follow(instance: dg.DagsterInstance, run_id: str, out: TextIO | None = None, every: float = 0.5) -> Iterator[None]:
    """Print each step's start and end from the instance's event log while the run executes."""
    out = out or sys.stdout
    stop = threading.Event()
    shown = [0]  # entries already printed; the log only grows, in order
    started: dict[str, float] = {}

    def show() -> None:
        entries = instance.all_logs(run_id, of_type=_SHOWN)
        for entry in entries[shown[0]:]:
            shown[0] += 1
            if entry.dagster_event is None:
                continue
            step, kind = entry.dagster_event.step_key or "?", entry.dagster_event.event_type
            if kind == dg.DagsterEventType.STEP_START:
                started[step] = entry.timestamp
                print(f"  … {step}", file=out, flush=True)
            else:
                took = entry.timestamp - started.get(step, entry.timestamp)
                mark = "✓" if kind == dg.DagsterEventType.STEP_SUCCESS else "✗"
                print(f"  {mark} {step} ({took:.1f}s)", file=out, flush=True)

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
