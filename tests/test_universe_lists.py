"""The bundled S&P 500 snapshot and user symbol files."""

from __future__ import annotations

import csv
import datetime as dt
from importlib import resources
from pathlib import Path

import pytest

from tradingstation.core import schemas
from tradingstation.core.errors import InvalidSymbolError
from tradingstation.core.universe_lists import load_sp500, load_symbol_file

SECTORS = {
    "Communication Services", "Consumer Discretionary", "Consumer Staples", "Energy", "Financials",
    "Health Care",
    "Industrials", "Information Technology", "Materials", "Real Estate", "Utilities",
}


def test_sp500_snapshot() -> None:
    symbols, as_of = load_sp500()
    assert 495 <= len(symbols) <= 510 and len(set(symbols)) == len(symbols)
    assert all(schemas.normalize_symbol(s) == s for s in symbols)
    assert {"AAPL", "MSFT", "NVDA", "BRK.B", "BF.B", "GOOGL", "GOOG"} <= set(symbols)
    assert not any("-" in s for s in symbols)  # class shares in dot form
    assert dt.date(2024, 1, 1) <= as_of <= dt.date.today()


def test_sp500_rows_have_name_and_gics_sector() -> None:
    lines = resources.files("tradingstation").joinpath("data/sp500.csv").read_text().splitlines()
    assert lines[0].startswith("# as_of=")
    rows = list(csv.DictReader(lines[1:]))
    assert rows and all(r["name"].strip() for r in rows)
    assert {r["sector"] for r in rows} == SECTORS


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
