"""Sectors from the universe to the plan: the universe's columns, the plan's, the sector summary,
and the master_dashboard asset writing them (with its exports) for a hand-built session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from screeners import sectors
from screeners.dashboard import DashboardParams, build_dashboard
from screeners.registry import SCREENERS, signals_dataset
from tradingstation.assets.dashboard import master_dashboard
from tradingstation.assets.universe import (
    UniverseConfig,
    add_sector_columns,
    candidates,
    universe,
    with_list_info,
)
from tradingstation.core import calendar, schemas
from tradingstation.definitions import ALL_ASSETS
from tradingstation.lake import Lake
from tradingstation.maintenance import verify
from tradingstation.resources.lake_io import LakeIOManager, LakeResource
from tradingstation.resources.sources.synthetic_source import SyntheticSource
from tradingstation.schedules import AS_OF_TAG

from lake_data import daily_frame
from plan_frames import DAY, plan


def resources(root: Path) -> dict:
    lake = LakeResource(root=str(root))
    return {"lake": lake, "io_manager": LakeIOManager(lake=lake), "source": SyntheticSource()}


def test_the_universe_carries_sector_industry_and_exchange(tmp_path: Path) -> None:
    config = {"ops": {"universe": {"config": {"list_name": "explicit", "symbols": ["AAPL", "JPM", "SYNTHX"]}}}}
    result = dg.materialize([universe], partition_key=DAY.isoformat(), resources=resources(tmp_path),
                            run_config=config)
    assert result.success
    table = Lake(str(tmp_path)).read("universe", DAY, DAY)
    assert table.schema == schemas.UNIVERSE
    got = {r["symbol"]: (r["sector"], r["exchange"]) for r in table.iter_rows(named=True)}
    assert got["AAPL"] == ("Information Technology", "NASDAQ") and got["JPM"][0] == "Financials"
    assert got["SYNTHX"] == (None, None)  # the synthetic source serves it; the package does not know it
    assert got["SPY"] == (None, None)  # an ETF: no constituent of any index
    meta = result.asset_materializations_for_node("universe")[-1].metadata
    assert meta["sectors"].value == {"Financials": 1, "Information Technology": 1, "unknown": 2}


def test_index_lists_are_universe_options_and_a_wrong_name_lists_them() -> None:
    symbols, name, as_of = candidates(UniverseConfig(list_name="dow"), SyntheticSource())
    assert name == "dow" and len(symbols) == 30 and as_of is None and "AAPL" in symbols
    assert len(candidates(UniverseConfig(list_name="nasdaq100"), SyntheticSource())[0]) >= 98
    with pytest.raises(ValueError, match="use auto, sp500, nasdaq100, dow, sp600, file, explicit"):
        candidates(UniverseConfig(list_name="sp400"), SyntheticSource())


def test_with_sectors_joins_by_symbol_and_tolerates_no_or_old_universes() -> None:
    rows = plan(dict(symbol="AAPL"), dict(symbol="SYN1", side="short"))
    universe_rows = pl.DataFrame({"symbol": ["AAPL", "SYN1", "AAPL"], "sector": ["Information Technology", None, "x"],
                                  "industry": ["Technology Equipment", None, "x"], "exchange": ["NASDAQ", None, "x"]})
    joined = sectors.with_sectors(rows, universe_rows)
    assert joined.height == 2 and joined["symbol"].to_list() == ["AAPL", "SYN1"]  # one row per symbol used
    assert joined.select(sectors.INFO_COLUMNS).rows() == [
        ("Information Technology", "Technology Equipment", "NASDAQ"), (None, None, None)]
    assert sectors.with_sectors(rows, None).select(sectors.INFO_COLUMNS).null_count().row(0) == (2, 2, 2)
    old = pl.DataFrame({"symbol": ["AAPL"], "included": [True]})  # a universe from before the sector columns
    assert sectors.with_sectors(rows, old)["sector"].to_list() == [None, None]


def test_sector_summary_counts_long_and_short_rows_most_first() -> None:
    rows = plan(
        dict(symbol="AAPL", sector="Information Technology"), dict(symbol="NVDA", sector="Information Technology"),
        dict(symbol="MSFT", side="short", sector="Information Technology"), dict(symbol="XOM", sector="Energy"),
        dict(symbol="CVX", side="short", sector="Energy"), dict(symbol="SYN1", side="short"),
    )
    summary = sectors.sector_summary(rows)
    assert summary.schema == sectors.SUMMARY_SCHEMA
    assert summary.rows() == [("Information Technology", 2, 1, 3), ("Energy", 1, 1, 2), ("unknown", 0, 1, 1)]
    assert sectors.markdown_table(summary).splitlines() == [
        "| sector | long | short | rows |", "|---|---|---|---|", "| Information Technology | 2 | 1 | 3 |",
        "| Energy | 1 | 1 | 2 |", "| unknown | 0 | 1 | 1 |"]
    assert sectors.markdown_table(sectors.sector_summary(rows.clear())) == "no plan rows"


def test_the_html_section_escapes_sector_names() -> None:
    page = sectors.html_section(plan(dict(symbol="A", sector="R&D <b>")))
    assert "<td>R&amp;D &lt;b&gt;</td>" in page and "R&D <b>" not in page
    assert "no plan rows" in sectors.html_section(plan().clear())


def test_build_dashboard_puts_sector_exchange_and_chart_link_on_each_row() -> None:
    closes = [100.0 + i * 0.1 for i in range(200)]
    dates = [*calendar.sessions_before(DAY, 199), DAY]
    daily = pl.DataFrame({"date": dates, "symbol": "SPY", "ts": [calendar.session_open(d) for d in dates],
                          "open": closes, "high": closes, "low": closes, "close": closes, "volume": 10**6},
                         schema=schemas.DAILY_BARS)
    as_of = calendar.session_close(DAY)
    signals = pl.DataFrame([dict(date=DAY, ts=as_of - dt.timedelta(hours=1), symbol=s, screener="breakout",
                                 side="long", score=6.0, entry=50.0, stop=48.0, target=54.0, reasons="base")
                            for s in ("AAPL", "SYN1")], schema=schemas.SIGNALS)
    known = with_list_info(pl.DataFrame({"date": [DAY, DAY], "symbol": ["AAPL", "SYN1"], "included": True,
                                         "reason": "", "last_close": 50.0, "avg_dollar_volume": 1e8}),
                           ["AAPL", "SYN1"], "explicit", None)
    out = build_dashboard(signals, daily, as_of, DAY, DashboardParams(), universe=known)
    rows = {r["symbol"]: r for r in out.iter_rows(named=True)}
    assert rows["AAPL"]["sector"] == "Information Technology" and rows["AAPL"]["exchange"] == "NASDAQ"
    assert rows["AAPL"]["chart_url"] == "https://www.tradingview.com/chart/?symbol=NASDAQ%3AAAPL"
    assert rows["SYN1"]["sector"] is None and rows["SYN1"]["chart_url"].endswith("?symbol=SYN1")
    no_universe = build_dashboard(signals, daily, as_of, DAY, DashboardParams())
    assert no_universe["sector"].null_count() == 2 and no_universe["chart_url"].null_count() == 0


def test_the_dashboard_asset_writes_sectors_exports_and_its_summary(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    sessions = [*calendar.sessions_before(DAY, 4), DAY]
    lake.write_sessions("daily_bars", daily_frame([d.isoformat() for d in sessions], ["AAPL", "SYN1"]), sessions)
    for name in SCREENERS:
        lake.write(signals_dataset(name), DAY, schemas.empty(schemas.dataset(signals_dataset(name)).schema))
    dataset = schemas.dataset(signals_dataset("breakout"))
    ts = calendar.session_open(DAY) + dt.timedelta(minutes=30)
    signals = pl.DataFrame([dict(date=DAY, ts=ts, symbol="AAPL", screener="breakout", side="long", score=6.0,
                                 entry=30.0, stop=29.0, target=33.0, reasons="base broken"),
                            dict(date=DAY, ts=ts, symbol="SYN1", screener="breakout", side="short", score=5.0,
                                 entry=15.0, stop=15.5, target=14.0, reasons="base lost")], schema=schemas.SIGNALS)
    lake.write(dataset.name, DAY, signals.with_columns(
        pl.lit(None, t).alias(c) for c, t in dataset.schema.items() if c not in schemas.SIGNALS))
    lake.write("universe", DAY, with_list_info(
        pl.DataFrame({"date": [DAY, DAY], "symbol": ["AAPL", "SYN1"], "included": True, "reason": "",
                      "last_close": 20.0, "avg_dollar_volume": 1e8}), ["AAPL", "SYN1"], "explicit", None))
    as_of = calendar.session_open(DAY) + dt.timedelta(hours=1)
    result = dg.materialize(ALL_ASSETS, partition_key=DAY.isoformat(), resources=resources(tmp_path),
                            selection=[master_dashboard], tags={AS_OF_TAG: as_of.isoformat()})
    assert result.success
    stored = lake.read("master_dashboard", DAY, DAY)
    assert dict(stored.select("symbol", "sector").iter_rows()) == {"AAPL": "Information Technology", "SYN1": None}
    folder = tmp_path / "master_dashboard" / f"date={DAY}"
    assert (folder / "watchlist.txt").read_text() == "###Long,NASDAQ:AAPL,###Short,SYN1"
    meta = result.asset_materializations_for_node("master_dashboard")[-1].metadata
    assert meta["sectors"].value.splitlines()[2:] == ["| Information Technology | 1 | 0 | 1 |", "| unknown | 0 | 1 | 1 |"]
    orders = (folder / "orders.csv").read_text().splitlines()
    assert orders == ["symbol,side,quantity,entry,stop,target",
                      "AAPL,buy,833,30.00,29.00,33.00",  # $25,000: the largest position (25% of the account)
                      "SYN1,sell,1666,15.00,15.50,14.00"]  # $1,000 at risk (1%) / $0.50 a share, pending
    assert meta["orders"].value == 2
    assert "Plan by sector" in (folder / "dashboard.html").read_text()


def test_universe_partitions_written_before_sectors_get_the_columns(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    old = pl.DataFrame({"symbol": ["AAPL", "SYN1"], "included": [True, False], "reason": ["", "no daily bars"],
                        "last_close": [230.0, None], "avg_dollar_volume": [1e10, None], "list_name": "sp500",
                        "list_as_of": dt.date(2025, 6, 30)})
    folder = tmp_path / "universe" / f"date={DAY}"
    folder.mkdir(parents=True)
    old.write_parquet(folder / "part-0.parquet")  # as the asset wrote it before the sector columns
    lake.write("universe", calendar.next_session(DAY), with_list_info(
        old.drop("list_name", "list_as_of").with_columns(date=pl.lit(calendar.next_session(DAY))),
        ["AAPL", "SYN1"], "sp500", None))
    missing = "wrong schema: missing column(s) ['sector', 'industry', 'exchange']"
    assert [e.problem for e in verify(lake).errors] == [missing]
    with pytest.raises(pl.exceptions.ColumnNotFoundError):
        lake.read("universe")
    assert add_sector_columns(lake) == [DAY]  # the newer partition is left alone
    assert verify(lake).errors == [] and add_sector_columns(lake) == []
    fixed = lake.read("universe", DAY, DAY)
    assert fixed.select("symbol", "included", "reason", "list_as_of", "sector", "exchange").rows() == [
        ("AAPL", True, "", dt.date(2025, 6, 30), "Information Technology", "NASDAQ"),
        ("SYN1", False, "no daily bars", dt.date(2025, 6, 30), None, None)]  # membership as it was
