"""Data-quality checks: the pure polars functions on hand-built frames, then the Dagster asset checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from tradingstation.checks import ALL_CHECKS, BLOCKING_CHECKS
from tradingstation.core import calendar, schemas
from tradingstation.definitions import MARKET_DATA_ASSETS
from tradingstation.lake import Lake
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.quality.bar_contract import bar_integrity
from tradingstation.quality.coverage import missing_regular_bars, universe_coverage
from tradingstation.quality.findings import MAX_LISTED
from tradingstation.quality.gaps import gap_window, missing_sessions
from tradingstation.quality.steps import price_volume_steps
from tradingstation.resources.lake_io import LakeIOManager, LakeResource
from tradingstation.resources.sources.synthetic_source import SyntheticSource

EARLY_CLOSE = dt.date(2025, 11, 28)  # the day after Thanksgiving: 13:00 ET
NORMAL_DAY = dt.date(2025, 11, 25)


def bar(
    symbol: str,
    day: dt.date,
    o: float = 10.0,
    h: float = 11.0,
    low: float = 9.0,
    c: float = 10.5,
    v: int = 1000,
    ts: dt.datetime | None = None,
) -> dict:
    return {
        "date": day,
        "symbol": symbol,
        "ts": ts or calendar.session_open(day),
        "open": o,
        "high": h,
        "low": low,
        "close": c,
        "volume": v,
    }


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schemas.DAILY_BARS)


# --- bar integrity -----------------------------------------------------------------------------


def test_clean_bars_keep_the_contract() -> None:
    found = bar_integrity(frame([bar("AAA", NORMAL_DAY), bar("BBB", NORMAL_DAY)]))
    assert found.passed and found.offenders == [] and found.counts["bad_rows"] == 0
    assert found.counts["rows_checked"] == 2 and found.counts["symbols_checked"] == 2


def test_a_duplicate_row_breaks_the_contract() -> None:
    found = bar_integrity(
        frame([bar("AAA", NORMAL_DAY), bar("AAA", NORMAL_DAY), bar("BBB", NORMAL_DAY)])
    )
    assert not found.passed
    assert found.counts["duplicate_symbol_ts"] == 2 and found.counts["ohlc_out_of_order"] == 0
    assert found.offenders == ["AAA"] and "duplicate_symbol_ts" in found.description


def test_low_above_open_breaks_the_contract() -> None:
    bad = bar("BBB", NORMAL_DAY, o=10.0, low=10.2, c=10.5)
    found = bar_integrity(frame([bar("AAA", NORMAL_DAY), bad]))
    assert not found.passed and found.offenders == ["BBB"] and found.counts["ohlc_out_of_order"] == 1
    assert found.details["problem"].to_list() == ["ohlc_out_of_order"]


def test_non_positive_price_negative_volume_and_wrong_session() -> None:
    rows = [
        bar("AAA", NORMAL_DAY, o=0.0, low=0.0),
        bar("BBB", NORMAL_DAY, v=-5),
        bar(
            "CCC", NORMAL_DAY, ts=calendar.session_open(EARLY_CLOSE)
        ),  # a bar of another session in this partition
    ]
    found = bar_integrity(frame(rows))
    assert found.counts["non_positive_or_non_finite_price"] == 1 and found.counts["negative_volume"] == 1
    assert found.counts["ts_outside_its_session_date"] == 1 and found.offenders == ["AAA", "BBB", "CCC"]


# --- missing sessions --------------------------------------------------------------------------


def test_a_session_missing_in_the_middle_is_a_gap_but_a_late_start_is_not() -> None:
    window = gap_window(NORMAL_DAY)
    assert len(window) == 20 and window[-1] == NORMAL_DAY and all(calendar.is_session(d) for d in window)
    hole = window[10]
    rows = [bar("AAA", d) for d in window]
    rows += [bar("GAPPY", d) for d in window if d != hole]
    rows += [bar("LATE", d) for d in window[12:]]  # listed (or joined the universe) later
    found = missing_sessions(frame(rows), window)
    assert not found.passed and found.offenders == ["GAPPY"]
    assert found.counts["missing_symbol_sessions"] == 1 and found.counts["symbols_checked"] == 3
    assert found.details.row(0, named=True) == {
        "symbol": "GAPPY",
        "missing_sessions": hole.isoformat(),
        "missing": 1,
    }


def test_a_session_out_of_the_symbols_universe_is_no_gap() -> None:
    """Bars follow each session's universe: a symbol excluded that day (price dipped under $5) is
    not written, and the gap rule, told the expected (date, symbol) pairs, does not count it."""
    window = gap_window(NORMAL_DAY)
    excluded = window[10]
    rows = [bar("AAA", d) for d in window] + [bar("DIPPED", d) for d in window if d != excluded]
    expected = pl.DataFrame(
        [{"date": d, "symbol": s} for d in window for s in ("AAA", "DIPPED") if (d, s) != (excluded, "DIPPED")],
        schema={"date": pl.Date, "symbol": pl.String},
    )
    assert not missing_sessions(frame(rows), window).passed  # without the universe: a gap
    assert missing_sessions(frame(rows), window, expected).passed
    in_universe = pl.concat([expected, pl.DataFrame({"date": [excluded], "symbol": ["DIPPED"]})])
    assert missing_sessions(frame(rows), window, in_universe).offenders == ["DIPPED"]


def test_no_gaps_passes() -> None:
    window = gap_window(NORMAL_DAY)
    rows = [bar("AAA", d) for d in window] + [bar("LATE", d) for d in window[5:]]
    found = missing_sessions(frame(rows), window)
    assert found.passed and found.offenders == [] and found.counts["symbols_with_gaps"] == 0


# --- regular-session minutes -------------------------------------------------------------------


def minute_bars(symbol: str, day: dt.date, skip: set[int] = frozenset(), volume: int = 100_000) -> list[dict]:
    times = calendar.session_times(day)
    n = int((times.close - times.open).total_seconds() // 60)
    pre = [bar(symbol, day, ts=times.open - dt.timedelta(minutes=5), v=10)]  # pre-market: not counted
    return pre + [
        bar(symbol, day, ts=times.open + dt.timedelta(minutes=i), v=volume) for i in range(n) if i not in skip
    ]


def test_five_missing_minutes_on_an_early_close_count_against_13_00() -> None:
    rows = minute_bars("FULL", EARLY_CLOSE) + minute_bars("HOLEY", EARLY_CLOSE, skip={30, 31, 32, 100, 209})
    found = missing_regular_bars(frame(rows))
    assert not found.passed and found.offenders == ["HOLEY"]
    assert found.counts["missing_bars"] == 5  # not 185: the session ends at 13:00 ET
    assert found.counts["expected_bars_per_symbol"] == 210
    assert found.details.select("symbol", "missing", "bars", "expected").row(0) == ("HOLEY", 5, 205, 210)


def test_every_minute_present_passes_and_illiquid_symbols_are_not_judged() -> None:
    rows = minute_bars("FULL", NORMAL_DAY) + minute_bars(
        "THIN", NORMAL_DAY, skip=set(range(0, 390, 2)), volume=1
    )
    assert missing_regular_bars(frame(rows), top_n=1).passed  # THIN is not among the top 1
    assert not missing_regular_bars(frame(rows), top_n=2).passed
    assert missing_regular_bars(frame(rows), min_volume=1_000).passed
    assert (
        missing_regular_bars(frame(minute_bars("FULL", NORMAL_DAY))).counts["expected_bars_per_symbol"]
        == 390
    )


def test_thirty_minute_bars_expect_seven_on_an_early_close() -> None:
    times = calendar.session_times(EARLY_CLOSE)
    rows = [bar("AAA", EARLY_CLOSE, ts=times.open + dt.timedelta(minutes=30 * i)) for i in range(6)]
    found = missing_regular_bars(frame(rows), interval_minutes=30)
    assert found.counts["missing_bars"] == 1 and found.counts["expected_bars_per_symbol"] == 7


# --- price and volume steps --------------------------------------------------------------------


def test_a_sixty_percent_price_jump_warns() -> None:
    d0, d1 = calendar.sessions_before(NORMAL_DAY, 1)[0], NORMAL_DAY
    rows = [
        bar("JUMP", d0, c=10.0),
        bar("JUMP", d1, o=16.0, h=16.5, low=15.5, c=16.0),
        bar("CALM", d0, c=10.0),
        bar("CALM", d1, o=10.2, c=10.4),
    ]
    found = price_volume_steps(frame(rows))
    assert not found.passed and found.offenders == ["JUMP"]
    assert found.counts["price_steps"] == 1 and found.counts["volume_steps"] == 0
    assert found.details["kind"].to_list() == ["price"] and found.details["price_step"][0] == pytest.approx(
        0.6
    )


def test_a_volume_step_counts_only_with_a_price_step_over_a_quarter() -> None:
    d0, d1 = calendar.sessions_before(NORMAL_DAY, 1)[0], NORMAL_DAY
    rows = [
        bar("SPLIT", d0, c=10.0, v=1000),
        bar("SPLIT", d1, o=7.0, h=7.2, low=6.8, c=7.0, v=5000),  # -30 % on 5x the shares
        bar("NEWS", d0, c=10.0, v=1000),
        bar("NEWS", d1, o=10.1, h=10.3, low=10.0, c=10.2, v=50_000),  # 50x the shares, price flat
        bar("DRIFT", d0, c=10.0, v=1000),
        bar("DRIFT", d1, o=7.0, h=7.2, low=6.8, c=7.0, v=3000),  # -30 % on 3x: no volume step
    ]
    found = price_volume_steps(frame(rows))
    assert not found.passed and found.offenders == ["SPLIT"] and found.counts["volume_steps"] == 1
    assert found.counts["price_steps"] == 0
    assert found.details.select("kind", "volume_step").row(0) == ("volume", 4.0)
    assert "with a price step > 25%" in found.description
    assert price_volume_steps(frame(rows), [d0]).passed  # only bars of the sessions asked are judged
    # A volume step alone, however large, is ordinary market life: no finding.
    assert price_volume_steps(frame([r for r in rows if r["symbol"] == "NEWS"])).passed


def test_forty_percent_is_no_price_step() -> None:
    d0, d1 = calendar.sessions_before(NORMAL_DAY, 1)[0], NORMAL_DAY
    rows = [bar("AAA", d0, c=10.0), bar("AAA", d1, o=14.0, h=14.5, low=13.5, c=14.0)]
    assert price_volume_steps(frame(rows)).passed


# --- universe coverage -------------------------------------------------------------------------


def test_coverage_of_ninety_eight_percent_warns_and_a_hundred_passes() -> None:
    universe = [f"S{i:03d}" for i in range(100)]
    full = frame([bar(s, NORMAL_DAY) for s in universe])
    assert universe_coverage(full, universe).passed
    assert universe_coverage(full.filter(pl.col("symbol") != "S007"), universe).passed  # 99 %
    short = full.filter(~pl.col("symbol").is_in(["S007", "S042"]))
    found = universe_coverage(short, universe)
    assert (
        not found.passed and found.offenders == ["S007", "S042"] and found.counts["coverage_min_pct"] == 98.0
    )
    empty = universe_coverage(full.clear(), universe, [NORMAL_DAY])  # a session with no bars at all
    assert not empty.passed and empty.offender_count == 100 and len(empty.offenders) == MAX_LISTED


# --- the Dagster asset checks ------------------------------------------------------------------

SESSION = "2025-11-28"
SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META"]
UNIVERSE_CONFIG = {
    "ops": {
        "universe": {
            "config": {
                "list_name": "explicit",
                "symbols": SYMBOLS,
                "min_avg_dollar_volume": 0,
                "always_include": [],
            }
        }
    }
}


def resources(root: Path) -> dict:
    lake = LakeResource(root=str(root))
    return {"source": SyntheticSource(), "lake": lake, "io_manager": LakeIOManager(lake=lake)}


def evaluations(
    result: dg.ExecuteInProcessResult,
) -> dict[tuple[str, str, str | None], dg.AssetCheckEvaluation]:
    return {
        (e.asset_key.to_user_string(), e.check_name, e.partition): e
        for e in result.get_asset_check_evaluations()
    }


def test_definitions_declare_every_check_partitioned_with_blocking_integrity() -> None:
    specs = {key: c.get_spec_for_check_key(key) for c in ALL_CHECKS for key in c.check_keys}
    assert {k.asset_key.to_user_string() for k in specs} == {"daily_bars", "intraday_1m", "intraday_30m"}
    assert {(k.asset_key.to_user_string(), k.name) for k in BLOCKING_CHECKS} == {
        (a, "bar_integrity") for a in ("daily_bars", "intraday_1m", "intraday_30m")
    }
    assert all(s.partitions_def == SESSION_PARTITIONS for s in specs.values())
    assert len(specs) == 10


def test_checks_pass_on_clean_synthetic_bars(tmp_path: Path) -> None:
    result = dg.materialize(
        [*MARKET_DATA_ASSETS, *ALL_CHECKS],
        partition_key=SESSION,
        resources=resources(tmp_path),
        run_config=UNIVERSE_CONFIG,
    )
    assert result.success
    found = evaluations(result)
    assert len(found) == 10 and all(
        key[2] == SESSION for key in found
    )  # one evaluation per check, on the session
    failed = {key: e.description for key, e in found.items() if not e.passed}
    assert failed == {}, failed
    integrity = found[("intraday_1m", "bar_integrity", SESSION)].metadata
    assert integrity["rows_checked"].value == Lake(str(tmp_path)).read("intraday_1m").height
    assert integrity["offending_symbols"].value == []
    minutes = found[("intraday_1m", "regular_session_complete", SESSION)].metadata
    assert (
        minutes["liquid_symbols"].value == len(SYMBOLS) and minutes["expected_bars_per_symbol"].value == 210
    )
    assert found[("daily_bars", "universe_coverage", SESSION)].metadata["coverage_min_pct"].value == 100.0


@dg.asset(partitions_def=SESSION_PARTITIONS, deps=["daily_bars"])
def screener_probe() -> None:
    """Stands in for a screener downstream of daily_bars."""


def test_a_corrupted_lake_fails_the_blocking_check_and_nothing_downstream_runs(tmp_path: Path) -> None:
    res = resources(tmp_path)
    assert dg.materialize(
        MARKET_DATA_ASSETS[:2], partition_key=SESSION, resources=res, run_config=UNIVERSE_CONFIG
    ).success
    lake = Lake(str(tmp_path))
    bars = lake.read("daily_bars", sessions=[SESSION])
    broken = (
        bars.with_columns(  # low above the open: the asset would have quarantined it, the file now has it
            low=pl.when(pl.col("symbol") == "NVDA").then(pl.col("open") + 1).otherwise(pl.col("low"))
        )
    )
    lake.write("daily_bars", SESSION, broken)  # conforms to the schema, does not validate the bar contract

    result = dg.materialize(
        [*MARKET_DATA_ASSETS, screener_probe, *ALL_CHECKS],
        selection=dg.AssetSelection.assets(screener_probe)
        | dg.AssetSelection.checks_for_assets("daily_bars"),
        partition_key=SESSION,
        resources=res,
        raise_on_error=False,
    )
    assert not result.success
    check = evaluations(result)[("daily_bars", "bar_integrity", SESSION)]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR and check.blocking
    assert check.metadata["offending_symbols"].value == ["NVDA"]
    assert check.metadata["ohlc_out_of_order"].value == 1 and "| NVDA |" in check.metadata["details"].value
    assert "NVDA" in (check.description or "")
    assert not [e for e in result.get_asset_materialization_events() if e.asset_key == screener_probe.key]
    assert "screener_probe" not in {e.step_key for e in result.all_events if e.is_step_success}


def test_a_single_run_backfill_records_one_evaluation_per_session(tmp_path: Path) -> None:
    res = resources(tmp_path)
    first, last = "2025-11-24", SESSION
    sessions = [d.isoformat() for d in calendar.sessions_in_range(first, last)]
    assert dg.materialize(
        MARKET_DATA_ASSETS[:1], partition_key=first, resources=res, run_config=UNIVERSE_CONFIG
    ).success
    daily_checks = [c for c in ALL_CHECKS if next(iter(c.check_keys)).asset_key == dg.AssetKey("daily_bars")]
    job = dg.define_asset_job(
        "backfill",
        selection=dg.AssetSelection.assets("daily_bars") | dg.AssetSelection.checks(*daily_checks),
        partitions_def=SESSION_PARTITIONS,
    )
    defs = dg.Definitions(
        assets=MARKET_DATA_ASSETS,
        asset_checks=daily_checks,
        jobs=[job],
        resources=res,
        executor=dg.in_process_executor,
    )
    instance = dg.DagsterInstance.ephemeral()
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    result = defs.resolve_job_def("backfill").execute_in_process(instance=instance, tags=tags)
    assert result.success and len(instance.get_runs()) == 1
    found = evaluations(result)
    for name in ("bar_integrity", "no_missing_sessions", "no_price_volume_jumps", "universe_coverage"):
        assert sorted(k[2] for k in found if k[1] == name) == sessions
    gaps = found[("daily_bars", "no_missing_sessions", SESSION)].metadata
    assert gaps["sessions_in_window"].value == 20 and gaps["symbols_checked"].value == len(SYMBOLS)
    # the instance stores them per partition, tied to the materialization each judged
    key = dg.AssetCheckKey(dg.AssetKey("daily_bars"), "bar_integrity")
    records = instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
    assert sorted(r.partition for r in records) == sessions
    assert all(r.evaluation and r.evaluation.target_materialization_data for r in records)
    # each of the four checks (they share one fetch of the run's materializations) ties each session to its own
    mats = {r.partition_key: r.storage_id
            for r in instance.fetch_materializations(dg.AssetKey("daily_bars"), limit=100).records}
    assert sorted(mats) == sessions
    for name in ("bar_integrity", "no_missing_sessions", "no_price_volume_jumps", "universe_coverage"):
        history = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("daily_bars"), name), limit=20)
        assert {r.partition: r.evaluation.target_materialization_data.storage_id for r in history} == mats, name

    # corrupt one session of the range, re-run only the blocking check over the range: that session fails
    lake = Lake(str(tmp_path))
    dup = lake.read("daily_bars", sessions=["2025-11-25"])
    lake.write("daily_bars", "2025-11-25", pl.concat([dup, dup.filter(pl.col("symbol") == "MSFT")]))
    only = dg.define_asset_job(
        "integrity", selection=dg.AssetSelection.checks(daily_checks[0]), partitions_def=SESSION_PARTITIONS
    )
    result = (
        dg.Definitions(
            assets=MARKET_DATA_ASSETS,
            asset_checks=daily_checks,
            jobs=[only],
            resources=res,
            executor=dg.in_process_executor,
        )
        .resolve_job_def("integrity")
        .execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    )
    assert not result.success
    status = {k[2]: e.passed for k, e in evaluations(result).items()}
    assert status == {s: s != "2025-11-25" for s in sessions}
    bad = evaluations(result)[("daily_bars", "bar_integrity", "2025-11-25")]
    assert (
        bad.metadata["offending_symbols"].value == ["MSFT"] and bad.metadata["duplicate_symbol_ts"].value == 2
    )
