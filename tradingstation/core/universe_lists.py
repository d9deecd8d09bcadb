"""Symbol lists a universe starts from: the bundled S&P 500 snapshot or a user's file.

The bundled ``data/sp500.csv`` is a snapshot of the S&P 500 constituents as best known at the
date on its first line (``# as_of=YYYY-MM-DD``), not a live feed: index changes after that date
are missing, and it should be refreshed from the index provider now and then. Every result
carries the as-of date so downstream data can say which list it came from.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from importlib import resources
from pathlib import Path

from tradingstation.core import schemas
from tradingstation.core.errors import InvalidSymbolError

_AS_OF = re.compile(r"^#\s*as_of\s*=\s*(\d{4}-\d{2}-\d{2})")


def load_sp500() -> tuple[list[str], dt.date]:
    """The bundled S&P 500 symbols (canonical form, e.g. BRK.B) and the date the list is as of."""
    text = resources.files("tradingstation").joinpath("data/sp500.csv").read_text(encoding="utf-8")
    first, _, body = text.partition("\n")
    match = _AS_OF.match(first)
    if not match:
        raise ValueError(f"bundled sp500.csv must start with '# as_of=YYYY-MM-DD', got {first!r}")
    rows = csv.DictReader(io.StringIO(body))
    symbols = [schemas.normalize_symbol(row["symbol"]) for row in rows]
    return list(dict.fromkeys(symbols)), dt.date.fromisoformat(match.group(1))


def load_symbol_file(path: str | Path) -> list[str]:
    """Symbols from a user's file: one per line, or a CSV with a ``symbol`` (or ``ticker``) column.

    Blank lines and lines starting with ``#`` are skipped; duplicates keep their first place.
    A bad ticker raises InvalidSymbolError naming the file and line, so typos never pass silently.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise FileNotFoundError(f"cannot read symbol file {path}: {exc}") from exc
    numbered = [(i, line.strip()) for i, line in enumerate(lines, start=1)]
    numbered = [(i, line) for i, line in numbered if line and not line.startswith("#")]
    if numbered and "," in numbered[0][1]:
        header = [h.strip().lower() for h in next(csv.reader([numbered[0][1]]))]
        column = next((header.index(c) for c in ("symbol", "ticker") if c in header), None)
        if column is None:
            raise InvalidSymbolError(f"{path}: CSV header {header} has no 'symbol' or 'ticker' column")
        numbered = [(i, (next(csv.reader([line])) + [""] * len(header))[column]) for i, line in numbered[1:]]
    symbols: list[str] = []
    for lineno, raw in numbered:
        try:
            symbols.append(schemas.normalize_symbol(raw))
        except InvalidSymbolError as exc:
            raise InvalidSymbolError(f"{path}, line {lineno}: {exc}") from exc
    return list(dict.fromkeys(symbols))
