"""Symbol lists a universe starts from: index members from ``pytickersymbols``, or a user's file.

Index lists (``INDEX_LISTS``: ``sp500``, ``nasdaq100``, ``dow``, ``sp600``) come from the
`pytickersymbols <https://pypi.org/project/pytickersymbols/>`_ package, a maintained snapshot of
the index constituents (built from Wikipedia) shipped as data inside the wheel: no network at run
time, and a newer package brings the index changes. ``list_source()`` names the version, which is
what a list is "as of" (the package records no date). Symbols are canonical (``BRK.B``).

Every symbol the package knows (any of its US indices) gets a row of ``SYMBOL_INFO``:

- ``sector``: one of the 11 GICS sectors. The package's ``industries`` mixes GICS sector names,
  Refinitiv-style sectors and industries, and Wikipedia phrases, unordered. The sector is the GICS
  name found among the labels of all the symbol's index entries; a few carry two (utilities also
  labelled Energy, REITs also Financials): ``SECTOR_PRECEDENCE`` picks the more specific, which
  gives the actual GICS sector for every such S&P 500 member of package 1.17.10 (16 of 503). With no
  GICS name, ``SECTOR_FALLBACK`` maps a few unambiguous labels (Semiconductors, Biotechnology, ...);
  else null (in package 1.17.10, 13 of the 1,120 US symbols have no GICS name, all NASDAQ 100
  members outside the S&P 500; the fallback leaves 2 null, PDD and ZS).
- ``industry``: indicative. Of the symbol's non-sector labels, the one most symbols share (a
  taxonomy name such as "Semiconductors" over a one-off Wikipedia phrase); ties go to the first.
- ``exchange``: NYSE or NASDAQ where the package's Google symbol names it (``NYSE:MMM``), else null
  (about two thirds of the S&P 500): TradingView's watchlist then takes the plain symbol.

The package data is a Python module parsed once (``functools.cache``); the loop over its ~1,100 US
records is parsing, not per-symbol computation.
"""

from __future__ import annotations

import csv
import functools
from collections import Counter
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import polars as pl

from tradingstation.core import schemas
from tradingstation.core.errors import InvalidSymbolError

# list_name -> the package's index name
INDEX_LISTS: dict[str, str] = {"sp500": "S&P 500", "nasdaq100": "NASDAQ 100", "dow": "DOW JONES", "sp600": "S&P 600"}
US_INDICES = ("S&P 500", "S&P 100", "NASDAQ 100", "DOW JONES", "S&P 600")  # sector lookup: all of them
PACKAGE = "pytickersymbols"

SYMBOL_INFO = pl.Schema(
    {"symbol": pl.String, "name": pl.String, "sector": pl.String, "industry": pl.String, "exchange": pl.String}
)
GICS_SECTORS = (
    "Communication Services", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials", "Health Care",
    "Industrials", "Information Technology", "Materials", "Real Estate", "Utilities",
)
# When a symbol carries two GICS names, the first of this order wins (the more specific sector).
SECTOR_PRECEDENCE = (
    "Real Estate", "Health Care", "Utilities", "Communication Services", "Consumer Discretionary", "Consumer Staples",
    "Information Technology", "Financials", "Materials", "Industrials", "Energy",
)
# Labels that name one GICS sector unambiguously, for symbols with no GICS name at all (lower case).
SECTOR_FALLBACK = {
    "technology": "Information Technology", "information technology": "Information Technology",
    "software": "Information Technology", "computer software": "Information Technology",
    "semiconductors": "Information Technology", "semiconductor": "Information Technology",
    "semiconductors & semiconductor equipment": "Information Technology",
    "healthcare": "Health Care", "biotechnology": "Health Care", "pharmaceutical": "Health Care",
    "pharmaceuticals": "Health Care", "financial services": "Financials", "banks": "Financials",
    "basic materials": "Materials", "consumer cyclicals": "Consumer Discretionary",
    "consumer non-cyclicals": "Consumer Staples", "beverages": "Consumer Staples",
    "e-commerce": "Consumer Discretionary", "real estate investment trust": "Real Estate",
}
# Sector-level labels (GICS, Refinitiv's economic sectors, Wikipedia's variants): never an industry.
SECTOR_LABELS = {s.lower() for s in GICS_SECTORS} | {
    "technology", "information technology", "healthcare", "financial services", "basic materials",
    "consumer cyclicals", "consumer non-cyclicals", "industrial goods",
}
EXCHANGES = ("NYSE", "NASDAQ")  # the Google symbol's prefixes a chart platform knows; OTC listings are skipped


def list_source() -> str:
    """Where the index lists come from, with the version: what a list is as of."""
    return f"{PACKAGE} {metadata.version(PACKAGE)}"


def _sector(labels: Iterable[str]) -> str | None:
    names = set(labels)
    for sector in SECTOR_PRECEDENCE:
        if sector in names:
            return sector
    return next((SECTOR_FALLBACK[n.lower()] for n in sorted(names) if n.lower() in SECTOR_FALLBACK), None)


def _exchange(entry: dict) -> str | None:
    for listing in entry.get("symbols") or []:
        prefix, sep, _ = str(listing.get("google") or "").partition(":")
        if sep and prefix in EXCHANGES and listing.get("currency", "USD") == "USD":
            return prefix
    return None


@functools.cache
def _entries() -> dict[str, list[tuple[str, dict]]]:
    """The package's US index entries: index name -> [(canonical symbol, entry)], in symbol order."""
    from pytickersymbols import PyTickerSymbols  # the package data: parsed once, on first use

    tickers = PyTickerSymbols()
    found: dict[str, list[tuple[str, dict]]] = {}
    for index in US_INDICES:
        rows = [(schemas.normalize_symbol(e["symbol"]), e) for e in tickers.get_stocks_by_index(index)]
        found[index] = sorted(rows, key=lambda row: row[0])
    return found


@functools.cache
def _symbol_info() -> pl.DataFrame:
    """One ``SYMBOL_INFO`` row per symbol in any US index of the package (the first entry's name)."""
    entries = [row for index in US_INDICES for row in _entries()[index]]
    labels: dict[str, set[str]] = {}
    for symbol, entry in entries:
        labels.setdefault(symbol, set()).update(entry.get("industries") or [])
    shared = Counter(label for found in labels.values() for label in found)
    rows: dict[str, dict[str, str | None]] = {}
    for symbol, entry in entries:
        if symbol in rows:
            rows[symbol]["exchange"] = rows[symbol]["exchange"] or _exchange(entry)
            continue
        industries = [i for i in sorted(labels[symbol]) if i.lower() not in SECTOR_LABELS]
        rows[symbol] = {
            "symbol": symbol,
            "name": entry.get("name"),
            "sector": _sector(labels[symbol]),
            "industry": max(industries, key=lambda i: shared[i]) if industries else None,  # first of the most shared
            "exchange": _exchange(entry),
        }
    return pl.DataFrame(list(rows.values()), schema=SYMBOL_INFO).sort("symbol")


def index_members(list_name: str) -> pl.DataFrame:
    """The members of ``list_name`` (a key of ``INDEX_LISTS``) as ``SYMBOL_INFO`` rows, by symbol."""
    if list_name not in INDEX_LISTS:
        raise ValueError(f"unknown index list {list_name!r}: use one of {', '.join(INDEX_LISTS)}")
    symbols = pl.DataFrame({"symbol": [s for s, _ in _entries()[INDEX_LISTS[list_name]]]}, schema={"symbol": pl.String})
    return symbols.unique(maintain_order=True).join(_symbol_info(), on="symbol", how="left").select(SYMBOL_INFO.names())


def symbol_info(symbols: Iterable[str]) -> pl.DataFrame:
    """``SYMBOL_INFO`` for ``symbols`` (any list), in their order; nulls where the package does not know one."""
    wanted = pl.DataFrame({"symbol": list(dict.fromkeys(symbols))}, schema={"symbol": pl.String})
    return wanted.join(_symbol_info(), on="symbol", how="left", maintain_order="left").select(SYMBOL_INFO.names())


def load_sp500() -> tuple[list[str], str]:
    """The S&P 500 symbols (canonical, sorted) and the list's source (``list_source()``)."""
    return index_members("sp500")["symbol"].to_list(), list_source()


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
