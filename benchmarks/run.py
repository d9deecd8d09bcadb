"""`make bench`: every figure, one section at a time (`python -m benchmarks.run [section ...]`)."""

from __future__ import annotations

import importlib
import sys
import time

SECTIONS = {"lake": "benchmarks.lake_bench", "screeners": "benchmarks.screeners_bench"}


def main(argv: list[str]) -> int:
    chosen = argv or list(SECTIONS)
    for name in chosen:
        if name not in SECTIONS:
            print(f"unknown section {name!r}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
            return 2
        print(f"== {name}")
        start = time.perf_counter()
        for line in importlib.import_module(SECTIONS[name]).main():
            print("  " + line, flush=True)
        print(f"   ({time.perf_counter() - start:.0f} s for the section)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
