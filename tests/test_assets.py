"""The market-data assets through Dagster, with swapped resources (temporary lake, offline sources)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from tradingstation.core import calendar, schemas
from tradingstation.definitions import ALL_ASSETS, MARKET_DATA_ASSETS, defs
from tradingstation.lake import Lake
from tradingstation.partitions import SESSION_PARTITIONS, sessions_window
from tradingstation.resources.lake_io import LakeIOManager, LakeResource
from tradingstation.resources.sources import FetchResult, Interval
from tradingstation.resources.sources.files_source import FilesSource
from tradingstation.resources.sources.synthetic_source import SyntheticSource

from conftest import REAL_DATA

SESSION = "2025-11-28"


def resources(root: Path, source: object) -> dict:
    lake = LakeResource(root=str(root))
    return {"source": source, "lake": lake, "io_manager": LakeIOManager(lake=lake)}


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == asset]
    return {k: v.value for k, v in events[-1].event_specific_data.materialization.metadata.items()}


def test_definitions_load_and_every_asset_is_session_partitioned() -> None:
    dg.Definitions.validate_loadable(defs)
    for asset in ALL_ASSETS:
        assert asset.partitions_def == SESSION_PARTITIONS
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()


def test_one_session_of_every_asset(tmp_path: Path) -> None:
    result = dg.materialize(MARKET_DATA_ASSETS, partition_key=SESSION, resources=resources(tmp_path, SyntheticSource()))
    assert result.success
    lake = Lake(str(tmp_path))
    universe = lake.read("universe")
    assert universe.schema == schemas.UNIVERSE and universe["list_name"].unique().to_list() == ["sp500"]
    included = set(universe.filter("included")["symbol"])
    bars = lake.read("daily_bars")
    assert set(bars["symbol"]) == included and bars["date"].unique().to_list() == [dt.date(2025, 11, 28)]
    minutes = lake.read("intraday_1m")
    assert set(minutes["session"]) == {"pre", "regular", "post"}
    close = calendar.session_close(SESSION)
    regular = minutes.filter(pl.col("session") == "regular")
    assert regular["ts"].max() < close  # the early close at 13:00 ET is honoured
    meta = metadata(result, "intraday_1m")
    assert meta["dagster/row_count"] == minutes.height
    assert meta["symbols"] == len(included) and meta["failed_symbols"] == 0 and meta["quarantined_rows"] == 0
    assert meta["lake_key"].endswith(f"intraday_1m/date={SESSION}/part-0.parquet")
    assert "| symbol |" in meta["preview"]
    assert lake.exists("intraday_1m_quarantine", SESSION)  # an empty quarantine file: checked, nothing found


class FlakySource(SyntheticSource):
    """Synthetic bars, but one symbol fails and one bar breaks the contract."""

    def _fetch(self, symbols: list[str], interval: Interval, start: dt.date, end: dt.date) -> FetchResult:
        result = super()._fetch([s for s in symbols if s != "MSFT"], interval, start, end)
        bad = result.bars.head(1).with_columns(low=pl.col("high") + 1, symbol=pl.lit("AAPL"))
        others = result.bars.filter(~pl.struct("symbol", "ts").is_in(bad.select("symbol", "ts").to_struct().implode()))
        failures = {**result.failures, "MSFT": "HTTP 404 from the vendor"} if "MSFT" in symbols else result.failures
        return FetchResult(pl.concat([others, bad]), failures, result.notes)


def test_bad_symbol_and_bad_row_are_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    universe = {"list_name": "explicit", "symbols": ["AAPL", "MSFT", "NVDA"], "min_avg_dollar_volume": 0, "always_include": []}
    config = {"ops": {"universe": {"config": universe}}}
    result = dg.materialize(
        MARKET_DATA_ASSETS[:2], partition_key=SESSION, resources=resources(tmp_path, FlakySource()), run_config=config
    )
    assert result.success
    universe = Lake(str(tmp_path)).read("universe")
    assert universe.filter(pl.col("symbol") == "MSFT")["reason"][0] == "source failed: HTTP 404 from the vendor"
    meta = metadata(result, "daily_bars")
    assert meta["quarantined_rows"] == 1
    assert meta["quarantine_reasons"] == {"OHLC out of order (low <= open, close <= high broken)": 1}
    quarantine = Lake(str(tmp_path)).read("daily_bars_quarantine")
    assert quarantine["symbol"].to_list() == ["AAPL"] and quarantine.height == 1
    assert set(Lake(str(tmp_path)).read("daily_bars")["symbol"]) == {"NVDA"}


def test_single_run_backfill_writes_every_session_in_one_run(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    job = dg.define_asset_job("bf", selection=MARKET_DATA_ASSETS[:2], partitions_def=SESSION_PARTITIONS)
    job_def = dg.Definitions(
        assets=MARKET_DATA_ASSETS[:2], jobs=[job], resources=resources(tmp_path, SyntheticSource()), executor=dg.in_process_executor
    ).resolve_job_def("bf")
    tags = {"dagster/asset_partition_range_start": "2025-11-20", "dagster/asset_partition_range_end": "2025-12-02"}
    result = job_def.execute_in_process(instance=instance, tags=tags)
    assert result.success and len(instance.get_runs()) == 1
    expected = calendar.sessions_in_range("2025-11-20", "2025-12-02")
    assert Lake(str(tmp_path)).sessions("daily_bars") == expected  # Thanksgiving skipped, one key per session
    status = instance.get_status_by_partition(dg.AssetKey("daily_bars"), [d.isoformat() for d in expected], SESSION_PARTITIONS)
    assert status and all(s.value == "MATERIALIZED" for s in status.values())


def test_bars_alone_borrow_the_latest_universe(tmp_path: Path) -> None:
    res = resources(tmp_path, SyntheticSource())
    dg.materialize(MARKET_DATA_ASSETS[:1], partition_key="2025-11-25", resources=res)
    result = dg.materialize(MARKET_DATA_ASSETS, selection=["daily_bars"], partition_key=SESSION, resources=res)
    assert metadata(result, "daily_bars")["universe_borrowed"] == {SESSION: "2025-11-25"}


def test_bars_without_any_universe_fail_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="materialize `universe` first"):
        dg.materialize(MARKET_DATA_ASSETS, selection=["daily_bars"], partition_key=SESSION, resources=resources(tmp_path, SyntheticSource()))


def test_downstream_loads_a_window_of_sessions_in_one_read(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    @dg.asset(partitions_def=SESSION_PARTITIONS, ins={"daily_bars": dg.AssetIn(partition_mapping=sessions_window(4))})
    def window_probe(daily_bars: pl.DataFrame) -> None:
        seen["dates"] = sorted(set(daily_bars["date"].to_list()))

    res = resources(tmp_path, SyntheticSource())
    tags = {"dagster/asset_partition_range_start": "2025-11-20", "dagster/asset_partition_range_end": SESSION}
    job = dg.define_asset_job("w", selection=MARKET_DATA_ASSETS[:2], partitions_def=SESSION_PARTITIONS)
    dg.Definitions(assets=MARKET_DATA_ASSETS[:2], jobs=[job], resources=res, executor=dg.in_process_executor).resolve_job_def(
        "w"
    ).execute_in_process(tags=tags)
    probe_res = {**res, "io_manager": res["io_manager"]}
    dg.materialize([window_probe, *MARKET_DATA_ASSETS[:2]], selection=["window_probe"], partition_key=SESSION, resources=probe_res)
    assert seen["dates"] == calendar.sessions_in_range("2025-11-21", SESSION)  # 4 sessions before + the session


def test_real_bars_through_the_files_source(tmp_path: Path) -> None:
    result = dg.materialize(
        MARKET_DATA_ASSETS[:2], partition_key="2017-12-29", resources=resources(tmp_path, FilesSource(path=str(REAL_DATA)))
    )
    assert result.success
    lake = Lake(str(tmp_path))
    universe = lake.read("universe")
    included = set(universe.filter("included")["symbol"])
    assert {"AAPL", "GOOG", "SPY"} <= included and "INTC" not in included  # INTC's file ends in 2004
    bars = lake.read("daily_bars").sort("symbol")
    aapl = bars.filter(pl.col("symbol") == "AAPL").row(0, named=True)
    # yahoofinance-AAPL: 2017-12-29,170.520004,170.589996,169.220001,169.229996,...,25999900
    assert aapl["open"] == pytest.approx(170.520004) and aapl["close"] == pytest.approx(169.229996)
    assert aapl["volume"] == 25999900 and aapl["ts"] == calendar.session_open("2017-12-29")


@pytest.mark.s3
def test_assets_write_to_an_s3_lake(s3_env: str, s3_endpoint: str) -> None:
    lake = LakeResource(root=f"s3://{s3_env}/lake", endpoint_url=s3_endpoint)
    config = {"ops": {"universe": {"config": {"list_name": "explicit", "symbols": ["AAPL", "NVDA", "BRK.B"]}}}}
    result = dg.materialize(
        MARKET_DATA_ASSETS,
        partition_key=SESSION,
        run_config=config,
        resources={"source": SyntheticSource(), "lake": lake, "io_manager": LakeIOManager(lake=lake)},
    )
    assert result.success
    assert metadata(result, "daily_bars")["lake_key"] == f"s3://{s3_env}/lake/daily_bars/date={SESSION}/part-0.parquet"
    minutes = lake.get().read("intraday_1m", symbols=["BRK.B"])
    assert minutes.height > 0 and set(minutes["symbol"]) == {"BRK.B"}
    assert "test-secret-key" not in str(metadata(result, "intraday_1m"))


def test_universe_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADINGSTATION_UNIVERSE", "nvda, amd")
    dg.materialize(MARKET_DATA_ASSETS[:1], partition_key=SESSION, resources=resources(tmp_path, SyntheticSource()))
    universe = Lake(str(tmp_path)).read("universe")
    assert set(universe["symbol"]) == {"NVDA", "AMD", "SPY"}
    assert set(universe["list_name"]) == {"env:TRADINGSTATION_UNIVERSE"}
