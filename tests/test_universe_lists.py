"""Index lists from pytickersymbols (with sectors, industries, exchanges) and user symbol files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradingstation.core import schemas, universe_lists
from tradingstation.core.errors import InvalidSymbolError
from tradingstation.core.universe_lists import (
    GICS_SECTORS,
    index_members,
    load_sp500,
    load_symbol_file,
    symbol_info,
)


def test_sp500_from_the_package() -> None:
    symbols, source = load_sp500()
    assert 495 <= len(symbols) <= 510 and len(set(symbols)) == len(symbols)
    assert symbols == sorted(symbols) and all(schemas.normalize_symbol(s) == s for s in symbols)
    assert {"AAPL", "MSFT", "NVDA", "BRK.B", "BF.B", "GOOGL", "GOOG"} <= set(symbols)
    assert not any("-" in s for s in symbols)  # class shares in dot form
    assert source.startswith("pytickersymbols ") and source.split()[1][0].isdigit()  # the version is the as-of
    assert "ANSS" not in symbols  # the hand-written list still had ANSYS, acquired by Synopsys in July 2025


@pytest.mark.parametrize(("name", "low", "high", "members"), [
    ("sp500", 495, 510, {"AAPL", "JPM", "XOM"}),
    ("nasdaq100", 98, 105, {"AAPL", "MSFT", "AMZN"}),
    ("dow", 30, 30, {"AAPL", "JPM", "KO"}),
    ("sp600", 590, 610, set()),
])
def test_every_index_list_has_members_with_gics_sectors(name: str, low: int, high: int, members: set[str]) -> None:
    table = index_members(name)
    assert table.schema == universe_lists.SYMBOL_INFO and low <= table.height <= high
    assert members <= set(table["symbol"]) and table["symbol"].n_unique() == table.height
    assert set(table["sector"].drop_nulls()) <= set(GICS_SECTORS)
    assert table["sector"].null_count() <= 2  # nasdaq100: PDD and ZS carry no sector label the package maps
    assert set(table["exchange"].drop_nulls()) <= {"NYSE", "NASDAQ"}


def test_sp500_covers_all_eleven_sectors_and_known_members_are_right() -> None:
    table = index_members("sp500")
    assert set(table["sector"]) == set(GICS_SECTORS)  # none null
    known = dict(table.select("symbol", "sector").iter_rows())
    assert known["AAPL"] == known["NVDA"] == "Information Technology"
    assert known["JPM"] == "Financials" and known["XOM"] == "Energy" and known["MMM"] == "Industrials"
    # labelled with two GICS sectors in the package: the precedence picks the real one
    assert known["AES"] == "Utilities" and known["EQIX"] == "Real Estate" and known["MCO"] == "Financials"
    assert known["GEV"] == "Industrials" and known["GRMN"] == "Consumer Discretionary"
    exchange = dict(table.select("symbol", "exchange").iter_rows())
    assert exchange["MMM"] == "NYSE" and exchange["NVDA"] == "NASDAQ"


def test_unknown_index_list_is_named() -> None:
    with pytest.raises(ValueError, match="unknown index list 'russell2000'.*sp500, nasdaq100, dow, sp600"):
        index_members("russell2000")


def test_symbol_info_for_any_list_keeps_order_and_unknown_symbols() -> None:
    info = symbol_info(["ZZZZ", "NVDA", "ARM", "NVDA"])
    assert info["symbol"].to_list() == ["ZZZZ", "NVDA", "ARM"]
    assert info.row(0) == ("ZZZZ", None, None, None, None)  # synthetic or unknown: no sector, no exchange
    assert info["sector"].to_list()[1:] == ["Information Technology", "Information Technology"]  # ARM: fallback


def test_sector_precedence_and_fallback_rules() -> None:
    assert universe_lists._sector(["Energy", "Utilities", "Electric utilities"]) == "Utilities"
    assert universe_lists._sector(["Financials", "Real Estate"]) == "Real Estate"
    assert universe_lists._sector(["Biotechnology", "Pharmaceutical"]) == "Health Care"
    assert universe_lists._sector(["EDP Services", "Internet"]) is None


def test_symbol_file_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "watch.txt"
    path.write_text("# my list\naapl\n\n brk.b \nMSFT\nAAPL\n")
    assert load_symbol_file(path) == ["AAPL", "BRK.B", "MSFT"]


def test_symbol_file_csv_with_symbol_column(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("Name,Symbol,Weight\nApple,aapl,0.5\n\"Berkshire, B\",BRK.B,0.5\n")
    assert load_symbol_file(path) == ["AAPL", "BRK.B"]


@pytest.mark.parametrize(
    ("text", "line"),
    [("AAPL\nMSFT\nBAD TICKER\n", "line 3"), ("symbol,name\nAAPL,Apple\n../etc,x\n", "line 3"),
     ("# c\n\n$$$\n", "line 3")],
)
def test_bad_symbol_names_its_line(tmp_path: Path, text: str, line: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InvalidSymbolError, match=line):
        load_symbol_file(path)


def test_csv_without_symbol_column_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "nosym.csv"
    path.write_text("name,weight\nApple,1\n")
    with pytest.raises(InvalidSymbolError, match="no 'symbol'"):
        load_symbol_file(path)
