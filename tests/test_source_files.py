"""FilesSource against the real fixtures in tests/data/real, and against broken files."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from tradingstation.core import schemas
from tradingstation.resources.sources import files_source
from tradingstation.resources.sources.files_source import FilesSource, symbol_from_stem

from conftest import REAL_DATA as REAL

ALL = (dt.date(1995, 1, 1), dt.date(2021, 12, 31))
OHLC = ["open", "high", "low", "close"]
AGG = [pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
       pl.col("volume").sum()]


@pytest.fixture(scope="module")
def real() -> FilesSource:
    return FilesSource(path=str(REAL))


@pytest.mark.parametrize(
    ("name", "symbol", "interval", "rows"),
    [
        ("yahoofinance-AAPL-20040819-20180120.csv", "AAPL", "1d", 3379),
        ("yahoofinance-GOOG-20040819-20180120.csv", "GOOG", "1d", 3379),
        ("yahoofinance-INTC-19950101-20040412.csv", "INTC", "1d", 2335),
        ("yahoofinance-SPY-20080101-20180101.csv", "SPY", "1d", 2519),
        # The README table says 91; the file holds 92 data rows (2020-09-01 .. 2021-01-12).
        ("yahoofinance-SPY-20200901-20210113.csv", "SPY", "1d", 92),
        ("SP500_NOV2019_IDayRVol.csv", "SPX", "1m", 1563),
        ("SP500_NOV2019_Hist.csv", "SPX", "1d", 20),
    ],
)
def test_every_real_file_loads_whole(name: str, symbol: str, interval: str, rows: int) -> None:
    source = FilesSource(path=str(REAL / name))
    assert source.known_symbols() == [symbol]
    result = source.fetch([symbol], interval, *ALL)
    assert result.failures == {}
    assert result.bars.height == rows
    assert result.bars["ts"].is_unique().all()


def test_directory_merges_files_per_symbol(real: FilesSource) -> None:
    assert real.known_symbols() == ["AAPL", "GOOG", "INTC", "SPX", "SPY"]
    assert real.fetch(["SPY"], "1d", *ALL).bars.height == 2519 + 92


def test_month_day_year_dates_and_daily_ts_is_the_open(real: FilesSource) -> None:
    bars = real.fetch(["SPX"], "1d", dt.date(2019, 11, 1), dt.date(2019, 11, 30)).bars
    assert bars.height == 20
    first = bars.row(0, named=True)
    thanksgiving_eve = bars.filter(pl.col("close") == 3153.63).row(0, named=True)
    assert first["ts"] == dt.datetime(2019, 11, 1, 13, 30, tzinfo=dt.UTC)  # 09:30 EDT
    assert [first[c] for c in OHLC] == [3050.72, 3066.95, 3050.72, 3066.91]
    assert thanksgiving_eve["ts"] == dt.datetime(2019, 11, 27, 14, 30, tzinfo=dt.UTC)  # 09:30 EST


def test_intraday_file_is_1m_in_utc(real: FilesSource) -> None:
    bars = real.fetch(["SPX"], "1m", dt.date(2019, 11, 5), dt.date(2019, 11, 8)).bars
    assert bars.height == 1563
    assert bars["ts"][0] == dt.datetime(2019, 11, 5, 14, 30, tzinfo=dt.UTC)  # 09:30 ET
    assert bars["ts"][-1] == dt.datetime(2019, 11, 8, 20, 59, tzinfo=dt.UTC)  # 15:59 ET
    # Date,Open,Close,High,Low order: the second column is the open, the third the close.
    assert bars.row(0)[2:] == (3080.8, 3081.47, 3080.3, 3080.49, 2209795.0)
    one_day = real.fetch(["SPX"], "1m", dt.date(2019, 11, 6), dt.date(2019, 11, 6)).bars
    assert one_day["ts"].dt.date().unique().to_list() == [dt.date(2019, 11, 6)]


def test_daily_ts_follows_dst(real: FilesSource) -> None:
    bars = real.fetch(["AAPL"], "1d", dt.date(2017, 1, 3), dt.date(2017, 7, 3)).bars
    hours = dict(zip(bars["ts"].dt.date().to_list(), bars["ts"].dt.hour().to_list(), strict=True))
    assert hours[dt.date(2017, 1, 3)] == 14 and hours[dt.date(2017, 7, 3)] == 13


def test_30m_resample_agrees_with_1m(real: FilesSource) -> None:
    one = real.fetch(["SPX"], "1m", dt.date(2019, 11, 5), dt.date(2019, 11, 8)).bars
    thirty = real.fetch(["SPX"], "30m", dt.date(2019, 11, 5), dt.date(2019, 11, 8)).bars
    assert thirty.height == 4 * 13
    ny = thirty["ts"].dt.convert_time_zone("America/New_York")
    assert ny.dt.minute().is_in([0, 30]).all() and (ny.dt.time().min() == dt.time(9, 30))
    # Expected, computed another way: bucket = minutes since 09:30 // 30.
    local = pl.col("ts").dt.convert_time_zone("America/New_York")
    mins = (local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute() - 570) // 30
    expected = (
        one.filter(local.dt.hour() < 16)  # the file's 16:00 closing prints are post-market
        .with_columns(day=local.dt.date(), bucket=mins).group_by("day", "bucket", maintain_order=True)
        .agg(AGG)
    )
    assert thirty.select(*OHLC, "volume").equals(expected.select(*OHLC, "volume"))


def test_column_order_case_and_adj_close_do_not_matter(tmp_path: Path) -> None:
    original = pl.read_csv(REAL / "yahoofinance-AAPL-20040819-20180120.csv", infer_schema=False)
    shuffled = original.select("Volume", "Close", "Adj Close", "Low", "Open", "High", "Date").rename(
        {"Volume": "VOLUME", "Close": "close", "Low": "LOW", "High": "hIgh", "Date": " date "}
    )
    shuffled.write_csv(tmp_path / "aapl.csv")
    typed = original.with_columns(pl.col("Date").str.to_date(), pl.exclude("Date").cast(pl.Float64))
    typed = typed.select("Date", "Open", "High", "Low", "Close", "Volume")
    typed.write_parquet(tmp_path / "yahoo_MSFT_2004.parquet")
    base = FilesSource(path=str(REAL / "yahoofinance-AAPL-20040819-20180120.csv"))
    base = base.fetch(["AAPL"], "1d", *ALL).bars
    moved = FilesSource(path=str(tmp_path)).fetch(["AAPL", "MSFT"], "1d", *ALL)
    assert moved.failures == {}
    aapl, msft = (moved.bars.filter(pl.col("symbol") == s).drop("symbol") for s in ("AAPL", "MSFT"))
    assert aapl.equals(base.drop("symbol")) and msft.equals(base.drop("symbol"))


def test_symbol_column_wins_and_offsets_are_honoured(tmp_path: Path) -> None:
    (tmp_path / "mixed.csv").write_text(
        "Ticker,Timestamp,Open,High,Low,Close,Volume\n"
        "msft,2024-07-01T09:30:00-04:00,10,11,9,10.5,100\n"
        "msft,2024-07-01T09:31:00-04:00,10.5,11,10,10.8,50\n"
        "aapl,2024-07-01 13:30:00+00:00,20,21,19,20.5,70\n"
        "aapl,2024-07-01 13:31:00+00:00,20,21,19,20.5,70\n"
    )
    source = FilesSource(path=str(tmp_path))
    assert source.known_symbols() == ["AAPL", "MSFT"]
    bars = source.fetch(["AAPL", "MSFT"], "1m", dt.date(2024, 7, 1), dt.date(2024, 7, 1)).bars
    assert bars["ts"].dt.hour().to_list() == [13, 13, 13, 13]
    assert bars["ts"].dt.minute().to_list() == [30, 31, 30, 31]


def test_malformed_files_fail_their_symbol_only(tmp_path: Path) -> None:
    shutil.copy(REAL / "yahoofinance-GOOG-20040819-20180120.csv", tmp_path)
    (tmp_path / "NOHIGH.csv").write_text("Date,Open,Low,Close,Volume\n2020-01-02,1,1,1,5\n")
    (tmp_path / "BADDATE.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,1,1,5\n31.12.2020,1,2,1,1,5\n"
    )
    result = FilesSource(path=str(tmp_path)).fetch(["GOOG", "NOHIGH", "BADDATE", "TSLA"], "1d", *ALL)
    assert result.bars["symbol"].unique().to_list() == ["GOOG"] and result.bars.height == 3379
    assert "NOHIGH.csv" in result.failures["NOHIGH"] and "['high']" in result.failures["NOHIGH"]
    assert "BADDATE.csv" in result.failures["BADDATE"] and "31.12.2020" in result.failures["BADDATE"]
    assert result.failures["TSLA"] == f"no file for TSLA in {tmp_path}"


def test_missing_interval_is_a_failure_naming_what_exists(real: FilesSource) -> None:
    result = real.fetch(["AAPL"], "1m", dt.date(2017, 1, 3), dt.date(2017, 1, 3))
    assert result.bars.is_empty()
    assert "no 1m file for AAPL" in result.failures["AAPL"] and "1d" in result.failures["AAPL"]


@pytest.mark.parametrize(
    ("stem", "symbol"),
    [("yahoofinance-AAPL-20040819-20180120", "AAPL"), ("SP500_NOV2019_IDayRVol", "SPX"),
     ("SP500_NOV2019_Hist", "SPX"),
     ("msft", "MSFT"), ("BRK.B", "BRK.B"), ("stooq_nvda_1m", "NVDA"), ("20240101_AMD", "AMD")],
)
def test_symbol_from_file_name(stem: str, symbol: str) -> None:
    assert symbol_from_stem(stem) == symbol


def test_symbols_config_overrides_the_file_name(tmp_path: Path) -> None:
    shutil.copy(REAL / "SP500_NOV2019_Hist.csv", tmp_path)
    source = FilesSource(path=str(tmp_path), symbols={"SP500_NOV2019_Hist": "^GSPC"})
    assert source.known_symbols() == ["^GSPC"]


def test_files_are_parsed_once_per_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = files_source._parse_file
    monkeypatch.setattr(files_source, "_parse_file", lambda *a: calls.append(a[0]) or original(*a))
    source = FilesSource(path=str(REAL))
    source.fetch(["AAPL"], "1d", *ALL)
    source.fetch(["SPX"], "1m", *ALL)
    source.known_symbols()
    assert len(calls) == 7


def test_default_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADINGSTATION_FILES_PATH", str(REAL))
    assert FilesSource().resolved_path == REAL
    monkeypatch.delenv("TRADINGSTATION_FILES_PATH")
    assert FilesSource().resolved_path == Path("data/files")


def test_real_bars_against_the_bar_contract(real: FilesSource) -> None:
    symbols = real.known_symbols()
    daily = schemas.validate_bars(real.fetch(symbols, "1d", *ALL).bars, intraday=False)
    # Two Yahoo SPY rows really have open < low (a vendor error); the contract must catch exactly them.
    bad = daily.quarantine.select("symbol", "date", "open", "low", "reason")
    assert bad["symbol"].to_list() == ["SPY", "SPY"]
    assert bad["date"].to_list() == [dt.date(2015, 3, 5), dt.date(2015, 3, 30)]
    assert (bad["open"] < bad["low"]).all() and bad["reason"].str.starts_with("OHLC out of order").all()
    assert daily.bars.height == 3379 * 2 + 2335 + 2519 + 92 + 20 - 2
    for interval in ("1m", "30m"):
        intraday = schemas.validate_bars(real.fetch(["SPX"], interval, *ALL).bars, intraday=True)
        assert intraday.quarantine.is_empty()
        # The 1m file ends Nov 5-7 with a 16:00 ET closing print: a (valid) post-market bar.
        post = intraday.bars.filter(pl.col("session") != "regular")
        assert post["ts"].dt.convert_time_zone("America/New_York").dt.time().to_list() == (
            [dt.time(16, 0)] * 3 if interval == "1m" else []
        )


def test_a_daily_only_folder_asked_for_minutes_is_absence_not_a_broken_source(real: FilesSource) -> None:
    """The failed-fetch guard counts errors of the source, not what a fixed catalog does not hold."""
    result = real.fetch(["AAPL", "GOOG", "NOPE"], "1m", dt.date(2017, 1, 3), dt.date(2017, 1, 3))
    assert set(result.failures) == {"AAPL", "GOOG", "NOPE"} and result.absent == {"AAPL", "GOOG", "NOPE"}
    assert result.errors == {}
