"""Plan exports: the TradingView watchlist, the bracket-order CSV, chart links; beside the partition and by the CLI."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from screeners import exports
from screeners.dashboard import DASHBOARD_SCHEMA
from tradingstation.assets.dashboard import write_exports
from tradingstation.cli import commands
from tradingstation.lake import Lake
from tradingstation.maintenance import verify

from plan_frames import DAY, plan

HEADER = "symbol,side,quantity,entry,stop,target"


def mixed_plan() -> pl.DataFrame:
    """Every case an export must tell apart, ranks out of order on purpose."""
    return plan(
        dict(rank=2, symbol="SYN1", side="long", shares=40, entry=20.0, stop=19.0, target=22.5),  # exchange unknown
        dict(rank=1, symbol="NVDA", side="long", exchange="NASDAQ", shares=120, entry=181.456, stop=177.0, target=190.0),
        dict(rank=3, symbol="XOM", side="short", exchange="NYSE", shares=300, entry=110.0, stop=112.5, target=105.0),
        dict(rank=4, symbol="NVDA", side="short", exchange="NASDAQ", shares=0, blocked_by="max_position"),  # conflict
        dict(rank=5, symbol="LOWRR", shares=0, blocked_by="min_reward_risk"),
        dict(rank=6, symbol="DONE", status="stopped"),
        dict(rank=7, symbol="RAN", status="triggered", shares=20),  # live: a daily setup from its signal on
        dict(rank=8, symbol="NEW", status=None, shares=10),  # status not resolved yet: an order
        dict(rank=9, symbol="NOBAR", status="no_bars", shares=5),
        dict(rank=10, symbol="GONE", status="untriggered"),
        dict(rank=11, symbol="BAD", status="invalid"),
    )


def test_watchlist_is_tradingview_import_format_in_rank_order() -> None:
    text = exports.watchlist_text(mixed_plan())
    assert text == ("###Long,NASDAQ:NVDA,SYN1,LOWRR,DONE,RAN,NEW,NOBAR,GONE,BAD,"
                    "###Short,NYSE:XOM,NASDAQ:NVDA")
    assert "\n" not in text and ",," not in text


def test_watchlist_leaves_out_empty_sections_and_an_empty_plan_is_empty() -> None:
    shorts = plan(dict(symbol="XOM", side="short", exchange="NYSE"), dict(symbol="CVX", side="short"))
    assert exports.watchlist_text(shorts) == "###Short,NYSE:XOM,CVX"  # no empty ###Long section
    assert exports.watchlist_text(pl.DataFrame(schema=DASHBOARD_SCHEMA)) == ""


def test_orders_hold_only_sized_live_rows() -> None:
    orders = exports.bracket_orders(mixed_plan())
    assert orders.schema == exports.ORDER_SCHEMA
    assert orders.rows() == [
        ("NVDA", "buy", 120, 181.46, 177.0, 190.0),
        ("SYN1", "buy", 40, 20.0, 19.0, 22.5),
        ("XOM", "sell", 300, 110.0, 112.5, 105.0),
        ("RAN", "buy", 20, 50.0, 48.0, 54.0),
        ("NEW", "buy", 10, 50.0, 48.0, 54.0),
        ("NOBAR", "buy", 5, 50.0, 48.0, 54.0),
    ]  # not: the blocked short, the R:R-blocked row, the finished (stopped, untriggered) and invalid rows
    assert exports.orders_csv(mixed_plan()).splitlines() == [
        HEADER,
        "NVDA,buy,120,181.46,177.00,190.00",
        "SYN1,buy,40,20.00,19.00,22.50",
        "XOM,sell,300,110.00,112.50,105.00",
        "RAN,buy,20,50.00,48.00,54.00",
        "NEW,buy,10,50.00,48.00,54.00",
        "NOBAR,buy,5,50.00,48.00,54.00",
    ]


def test_no_placeable_row_gives_the_header_only() -> None:
    blocked = plan(dict(symbol="A", shares=0, blocked_by="exposure"), dict(symbol="B", status="target"))
    assert exports.orders_csv(blocked) == HEADER + "\n"
    assert exports.orders_csv(pl.DataFrame(schema=DASHBOARD_SCHEMA)) == HEADER + "\n"


def test_chart_links_use_the_exchange_when_known() -> None:
    frame = pl.DataFrame({"symbol": ["XOM", "SYN1", "BRK.B"], "exchange": ["NYSE", None, "NYSE"]})
    assert exports.with_chart_url(frame)["chart_url"].to_list() == [
        "https://www.tradingview.com/chart/?symbol=NYSE%3AXOM",
        "https://www.tradingview.com/chart/?symbol=SYN1",
        "https://www.tradingview.com/chart/?symbol=NYSE%3ABRK.B",
    ]
    bare = exports.with_chart_url(pl.DataFrame({"symbol": ["AAPL"]}))  # a frame without exchange
    assert bare["chart_url"].to_list() == ["https://www.tradingview.com/chart/?symbol=AAPL"]


def test_exports_beside_the_partition_pass_lake_verify_and_strays_do_not(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.write("master_dashboard", DAY, mixed_plan())
    files = write_exports(lake, DAY, mixed_plan())
    folder = tmp_path / "master_dashboard" / f"date={DAY}"
    assert sorted(files) == ["orders.csv", "watchlist.txt"]
    assert all(uri.endswith(f"master_dashboard/date={DAY}/{name}") for name, uri in files.items())
    assert (folder / "watchlist.txt").read_text().startswith("###Long,NASDAQ:NVDA,SYN1")
    assert (folder / "orders.csv").read_text().splitlines()[0] == HEADER
    assert verify(lake).errors == []
    (folder / "notes.txt").write_text("mine")
    assert [e.problem.split(":")[0] for e in verify(lake).errors] == ["stray file"]


def test_cli_export_writes_both_files_and_names_a_missing_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "lake"))
    assert commands.main(["export", "--out", str(tmp_path / "out")]) == 2
    assert "holds no master_dashboard" in capsys.readouterr().err
    Lake(str(tmp_path / "lake")).write("master_dashboard", DAY, mixed_plan())
    assert commands.main(["export", "--out", str(tmp_path / "out")]) == 0  # the latest plan
    printed = capsys.readouterr().out
    assert f"plan of {DAY}: 11 row(s)" in printed and "(6 bracket order(s)" in printed
    assert (tmp_path / "out" / "orders.csv").read_text() == exports.orders_csv(mixed_plan())
    assert (tmp_path / "out" / "watchlist.txt").read_text() == exports.watchlist_text(mixed_plan())
    assert commands.main(["export", "--date", "2025-11-24", "--out", str(tmp_path / "out")]) == 2
    assert "no master_dashboard for 2025-11-24" in capsys.readouterr().err
