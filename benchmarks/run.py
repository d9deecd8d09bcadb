"""`make bench`: every figure beside its baseline, one section at a time, then the table of targets.

``python -m benchmarks.run [section ...]`` (default: all). A section's ``main()`` yields lines and
:class:`benchmarks.common.Figure` targets; each is printed as it comes, and the closing table lists
every target: target | measured | baseline | ratio | PASS/FAIL. Figures are wall-clock on whatever
else the machine is doing: noisy, each side best of 3.
"""

from __future__ import annotations

import importlib
import sys
import time

from benchmarks.common import Figure, table

SECTIONS = {
    "lake": "benchmarks.lake_bench",
    "backfill": "benchmarks.backfill_bench",
    "startup": "benchmarks.startup_bench",
    "screeners": "benchmarks.screeners_bench",
}


def main(argv: list[str]) -> int:
    chosen = argv or list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        print(f"unknown section {unknown[0]!r}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    figures: list[Figure] = []
    for name in chosen:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        for item in importlib.import_module(SECTIONS[name]).main():
            if isinstance(item, Figure):
                figures.append(item)
                item = item.line()
            print("  " + item, flush=True)
        print(f"   ({time.perf_counter() - start:.0f} s for the section)", flush=True)
    print("== targets")
    for line in table(figures):
        print("  " + line)
    failed = [f.target for f in figures if f.verdict == "FAIL"]
    print(f"  {len(figures) - len(failed)} of {len(figures)} PASS or reported" + (f"; FAIL: {len(failed)}" if failed else ""))
    return 0  # a FAIL is a finding to read, not a broken command


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
