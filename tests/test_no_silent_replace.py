"""A bad source never replaces good data; one odd bar never sinks a fetch (issue: data you can trust).

Each test builds a good stored session first (synthetic source), then points the assets or the
command line at a broken source and checks that the run fails with the numbers and that the
stored files are byte-for-byte what they were.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from tradingstation import cli
from tradingstation.cli.runs import failure_lines
from tradingstation.core import calendar
from tradingstation.core.errors import SourceConfigError
from tradingstation.definitions import MARKET_DATA_ASSETS
from tradingstation.lake import Lake
from tradingstation.quality import replacement
from tradingstation.resources.lake_io import LakeIOManager, LakeResource
from tradingstation.resources.sources import FetchResult, Interval, MarketDataSource
from tradingstation.resources.sources.files_source import FilesSource
from tradingstation.resources.sources.synthetic_source import SyntheticSource

SESSION = "2025-11-24"
SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "META", "GOOGL", "TSLA", "JPM"]
EXPLICIT = {"ops": {"universe": {"config": {"list_name": "explicit", "symbols": SYMBOLS}}}}


def resources(root: Path, source: object) -> dict:
    lake = LakeResource(root=str(root))
    return {"source": source, "lake": lake, "io_manager": LakeIOManager(lake=lake)}


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def failure_messages(result: dg.ExecuteInProcessResult) -> str:
    return " ".join(failure_lines(result))


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    result = dg.materialize(
        MARKET_DATA_ASSETS[:2], partition_key=SESSION, run_config=EXPLICIT, resources=resources(tmp_path, SyntheticSource())
    )
    assert result.success
    return tmp_path


class HalfBrokenSource(MarketDataSource):
    """Serves the synthetic bars of the first ``served`` symbols; the rest fail (a source mostly down)."""

    served: int = 2

    def known_symbols(self) -> list[str] | None:
        return None

    def _fetch(self, symbols: list[str], interval: Interval, start: dt.date, end: dt.date) -> FetchResult:
        good = SyntheticSource().fetch(symbols[: self.served], interval, start, end)
        failures = {s: "HTTP 500 from the source" for s in symbols[self.served :]}
        return FetchResult(good.bars, failures, [])


def test_a_missing_files_path_fails_and_the_stored_session_is_untouched(stored: Path) -> None:
    before = snapshot(stored)
    source = FilesSource(path=str(stored / "nonexistent"))
    with pytest.raises(SourceConfigError, match="does not exist"):
        source.known_symbols()
    result = dg.materialize(
        MARKET_DATA_ASSETS[:2], partition_key=SESSION, resources=resources(stored, source), raise_on_error=False
    )
    assert not result.success
    assert "does not exist" in failure_messages(result)
    assert snapshot(stored) == before


def test_most_symbols_failing_fails_the_asset_with_the_numbers(stored: Path) -> None:
    before = snapshot(stored)
    result = dg.materialize(
        MARKET_DATA_ASSETS[1:2], partition_key=SESSION, resources=resources(stored, HalfBrokenSource()), raise_on_error=False
    )
    assert not result.success
    included = Lake(str(stored)).read("universe").filter("included").height
    assert f"{included - 2} of {included} symbol(s) failed at the source" in failure_messages(result)
    assert snapshot(stored) == before


def test_a_sharp_shrink_is_refused_unless_the_operator_allows_it(stored: Path) -> None:
    lake = Lake(str(stored))
    before_rows = lake.read("universe", SESSION, SESSION).height
    shrunk = {"ops": {"universe": {"config": {"list_name": "explicit", "symbols": SYMBOLS[:1]}}}}
    before = snapshot(stored)
    result = dg.materialize(
        MARKET_DATA_ASSETS[:1], partition_key=SESSION, run_config=shrunk,
        resources=resources(stored, SyntheticSource()), raise_on_error=False,
    )
    assert not result.success
    text = failure_messages(result)
    # SPY joins every universe, so the shrunk list holds 2 symbols against the stored 9.
    assert "universe: refusing to replace 1 of 1 stored session(s)" in text and f"{before_rows} -> 2 symbols" in text
    assert snapshot(stored) == before
    allowed = dg.materialize(
        MARKET_DATA_ASSETS[:1], partition_key=SESSION, run_config=shrunk,
        resources=resources(stored, SyntheticSource()), tags={replacement.ALLOW_SHRINK_TAG: "true"},
    )
    assert allowed.success and lake.read("universe", SESSION, SESSION).height == 2


def test_the_command_line_refuses_a_missing_files_path_before_any_run(
    stored: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(stored))
    monkeypatch.setenv("DAGSTER_HOME", str(stored / "home"))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "files")
    monkeypatch.setenv("TRADINGSTATION_FILES_PATH", "/nonexistent")
    before = snapshot(stored)
    code = cli.main(["materialize", "--select", "universe,daily_bars", "--date", SESSION, "--no-history"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == (
        "tradingstation: error: the files source path /nonexistent does not exist: "
        "set TRADINGSTATION_FILES_PATH to a folder or file of bars"
    )
    assert snapshot(stored) == before


def test_the_command_line_names_the_shrink_and_honours_allow_shrink(
    stored: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(stored))
    monkeypatch.setenv("DAGSTER_HOME", str(stored / "home"))
    monkeypatch.setenv("TRADINGSTATION_UNIVERSE", "NVDA")  # a universe of NVDA (+ SPY) against the stored 9
    before = snapshot(stored)
    code = cli.main(["materialize", "--select", "universe", "--date", SESSION, "--no-history"])
    out = capsys.readouterr().out
    assert code == 1 and "universe: refusing to replace 1 of 1 stored session(s)" in out and "-> 2 symbols" in out
    assert "run " in out and "FAILED" in out
    assert {k: v for k, v in snapshot(stored).items() if not k.startswith("home")} == before
    assert cli.main(["materialize", "--select", "universe", "--date", SESSION, "--no-history", "--allow-shrink"]) == 0
    assert Lake(str(stored)).read("universe", SESSION, SESSION).height == 2


def test_a_bar_outside_the_requested_sessions_is_quarantined_not_fatal(tmp_path: Path) -> None:
    """A CSV with a Thanksgiving bar inside a backfilled range: the bar is quarantined, the rest written."""
    files, lake = tmp_path / "files", Lake(str(tmp_path / "lake"))
    files.mkdir()
    sessions = calendar.sessions_in_range("2025-11-24", "2025-11-28")
    holiday = dt.date(2025, 11, 27)
    days = sorted([*sessions, holiday])
    bar = {"Open": 10.0, "High": 11.0, "Low": 9.5, "Close": 10.5, "Volume": 1000}
    for symbol in ("AAA", "BBB"):
        pl.DataFrame([{"Date": d.isoformat(), **bar} for d in days]).write_csv(files / f"{symbol}.csv")
    universe = pl.DataFrame({"symbol": ["AAA", "BBB"], "included": [True, True], "reason": ["", ""]})
    for day in sessions:
        lake.write("universe", day, universe.with_columns(
            date=pl.lit(day), last_close=10.5, avg_dollar_volume=1e8, list_name=pl.lit("explicit"), list_as_of=pl.lit(day),
            sector=pl.lit(None, pl.String), industry=pl.lit(None, pl.String), exchange=pl.lit(None, pl.String),
        ))
    job = dg.define_asset_job("bars", selection=[MARKET_DATA_ASSETS[1]], partitions_def=MARKET_DATA_ASSETS[1].partitions_def)
    tags = {"dagster/asset_partition_range_start": "2025-11-24", "dagster/asset_partition_range_end": "2025-11-28"}
    result = dg.Definitions(
        assets=MARKET_DATA_ASSETS[:2], jobs=[job], resources=resources(tmp_path / "lake", FilesSource(path=str(files))),
    ).resolve_job_def("bars").execute_in_process(tags=tags)
    assert result.success
    bars = lake.read("daily_bars", "2025-11-24", "2025-11-28")
    assert bars.height == 2 * len(sessions) and holiday not in set(bars["date"])
    quarantine = lake.read("daily_bars_quarantine", "2025-11-24", "2025-11-28")
    assert quarantine.height == 2 and set(quarantine["reason"]) == {"outside the requested sessions"}
    assert set(quarantine["date"]) == {dt.date(2025, 11, 26)}  # filed under the session before the holiday


def _probe(seen: dict) -> dg.AssetsDefinition:
    @dg.asset(partitions_def=MARKET_DATA_ASSETS[1].partitions_def, ins={"daily_bars": dg.AssetIn()})
    def probe(daily_bars: pl.DataFrame) -> None:
        seen["bars"] = daily_bars

    return probe


def _break(stored: Path, symbols: list[str]) -> None:
    """Edit the stored daily file as an accident would: low = close = 3 x high for ``symbols``."""
    path = stored / f"daily_bars/date={SESSION}/part-0.parquet"
    frame = pl.read_parquet(path)
    edited = pl.col("symbol").is_in(symbols)
    frame = frame.with_columns(
        low=pl.when(edited).then(pl.col("high") * 3).otherwise("low"),
        close=pl.when(edited).then(pl.col("high") * 3).otherwise("close"),
    )
    frame.write_parquet(path)


def test_bars_edited_in_the_lake_are_excluded_before_any_screen(stored: Path) -> None:
    _break(stored, ["NVDA"])  # 1 of the 9 stored bars (8 symbols + SPY)
    seen: dict = {}
    assets = [_probe(seen), *MARKET_DATA_ASSETS[:2]]
    many = dg.materialize(assets, selection=["probe"], partition_key=SESSION,
                          resources=resources(stored, SyntheticSource()), raise_on_error=False)
    assert not many.success  # 1 of 9 bars is 11%: over the 5% a step accepts
    assert "daily_bars as loaded: 1 row(s) excluded" in " ".join(failure_lines(many)) and "NVDA" in " ".join(failure_lines(many))
    assert "bars" not in seen


def test_a_few_broken_bars_are_excluded_and_reported(tmp_path: Path) -> None:
    wide = {"ops": {"universe": {"config": {"list_name": "sp500"}}}}
    assert dg.materialize(MARKET_DATA_ASSETS[:2], partition_key=SESSION, run_config=wide,
                          resources=resources(tmp_path, SyntheticSource())).success
    stored_symbols = Lake(str(tmp_path)).read("daily_bars", SESSION, SESSION)["symbol"].to_list()
    _break(tmp_path, stored_symbols[:3])  # 3 of ~500: excluded, the rest screened
    seen: dict = {}
    result = dg.materialize([_probe(seen), *MARKET_DATA_ASSETS[:2]], selection=["probe"], partition_key=SESSION,
                            resources=resources(tmp_path, SyntheticSource()))
    assert result.success
    assert set(seen["bars"]["symbol"]) == set(stored_symbols) - set(stored_symbols[:3])
    loaded = [e for e in result.all_events if e.event_type_value == "LOADED_INPUT"]
    assert loaded and loaded[0].event_specific_data.metadata["excluded_broken_rows"].value == 3
