"""Session-aware freshness at chosen instants (New York time) against a temporary lake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from tradingstation.checks import freshness as freshness_checks
from tradingstation.checks.freshness import FRESHNESS_CHECKS
from tradingstation.core import calendar
from tradingstation.lake import Lake
from tradingstation.quality import freshness
from tradingstation.quality.freshness import check_daily, check_intraday, evaluate
from tradingstation.resources.lake_io import LakeResource

from lake_data import daily_frame, minute_frame

SYMBOLS = ["AAPL", "NVDA"]


def at(when: str) -> dt.datetime:
    return dt.datetime.fromisoformat(when).replace(tzinfo=calendar.NY)


def minutes_until(session: str, last: str) -> int:
    """How many 1-minute bars from the open make the last one start at ``last`` (HH:MM ET)."""
    open_ = calendar.session_open(session)
    return int((at(f"{session}T{last}") - open_).total_seconds() // 60) + 1


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path))


def write_minutes(lake: Lake, session: str, last: str) -> None:
    lake.write("intraday_1m", session, minute_frame(session, SYMBOLS, minutes_until(session, last)))


def test_intraday_fresh_when_the_latest_bar_is_recent(lake: Lake) -> None:
    write_minutes(lake, "2025-12-01", "09:58")
    result = check_intraday(lake, at("2025-12-01T10:00"))
    assert result.fresh and result.checked and result.session == dt.date(2025, 12, 1)
    assert result.last_ts == at("2025-12-01T09:58") and result.last_key.endswith("intraday_1m/date=2025-12-01/part-0.parquet")


def test_intraday_stale_when_the_latest_bar_is_older_than_15_minutes(lake: Lake) -> None:
    write_minutes(lake, "2025-12-01", "09:40")
    result = check_intraday(lake, at("2025-12-01T10:00"))
    assert not result.fresh and result.checked
    assert "09:40 ET is 20 min old" in result.reason and result.last_ts == at("2025-12-01T09:40")
    # The limit is "older than 15 minutes": 09:45 at 10:00 is still fresh, 09:44 is not.
    write_minutes(lake, "2025-12-01", "09:45")
    assert check_intraday(lake, at("2025-12-01T10:00")).fresh
    write_minutes(lake, "2025-12-01", "09:44")
    assert not check_intraday(lake, at("2025-12-01T10:00")).fresh


def test_missing_partition_is_not_stale_in_the_first_15_minutes(lake: Lake) -> None:
    early = check_intraday(lake, at("2025-12-01T09:40"))
    assert early.fresh and not early.checked and "opened 10 min ago" in early.reason
    assert check_intraday(lake, at("2025-12-01T09:45")).fresh  # exactly 15 minutes: not yet
    late = check_intraday(lake, at("2025-12-01T09:46"))
    assert not late.fresh and "no partition for 2025-12-01" in late.reason
    before_open = check_intraday(lake, at("2025-12-01T08:00"))
    assert before_open.fresh and "has not opened" in before_open.reason


def test_early_close_expects_nothing_after_13_00(lake: Lake) -> None:
    write_minutes(lake, "2025-11-28", "12:59")
    result = check_intraday(lake, at("2025-11-28T14:00"))
    assert result.fresh and result.checked and "early close at 13:00 ET" in result.reason
    # A session that stopped early is still stale after the close.
    write_minutes(lake, "2025-11-28", "12:30")
    stale = check_intraday(lake, at("2025-11-28T14:00"))
    assert not stale.fresh and "30 min old as of the early close at 13:00 ET" in stale.reason


def test_only_regular_bars_count(lake: Lake) -> None:
    frame = minute_frame("2025-12-01", SYMBOLS, minutes_until("2025-12-01", "09:58"))
    lake.write("intraday_1m", "2025-12-01", frame.with_columns(session=pl.lit("pre")))
    result = check_intraday(lake, at("2025-12-01T10:00"))
    assert not result.fresh and "holds no regular-session bar" in result.reason


def test_weekend_and_holidays_raise_no_alarm(lake: Lake) -> None:
    for when, why in [("2025-11-29T12:00", "a weekend"), ("2025-12-25T10:00", "an NYSE holiday"), ("2025-12-25T09:30", "an NYSE holiday")]:
        results = evaluate(lake, at(when))
        assert [r.dataset for r in results] == ["intraday_1m", "daily_bars"]
        assert all(r.fresh and not r.checked for r in results)
        day = when[:10]
        assert all(r.reason == f"{day} is not a session ({why}): nothing expected" for r in results)


def test_daily_bars_previous_session_after_the_deadline(lake: Lake) -> None:
    missing = check_daily(lake, at("2025-12-01T09:30"))
    assert not missing.fresh and missing.session == dt.date(2025, 11, 28)
    assert "no partition for the previous session 2025-11-28" in missing.reason and "nothing stored" in missing.reason
    lake.write("daily_bars", "2025-11-26", daily_frame(["2025-11-26"], SYMBOLS))
    older = check_daily(lake, at("2025-12-01T09:30"))
    assert not older.fresh and "latest stored session is 2025-11-26" in older.reason
    assert older.last_key.endswith("daily_bars/date=2025-11-26/part-0.parquet")
    lake.write("daily_bars", "2025-11-28", daily_frame(["2025-11-28"], SYMBOLS))
    present = check_daily(lake, at("2025-12-01T09:30"))
    assert present.fresh and present.checked and "holds 2 bars" in present.reason


def test_daily_bars_before_the_deadline_and_after_a_holiday(lake: Lake) -> None:
    before = check_daily(lake, at("2025-12-01T08:59"))
    assert before.fresh and not before.checked and "premarket deadline 09:00 ET" in before.reason
    # After Christmas the previous session is 12-24, not 12-25.
    after = check_daily(lake, at("2025-12-26T09:05"))
    assert not after.fresh and after.session == dt.date(2025, 12, 24)
    lake.write("daily_bars", "2025-12-24", daily_frame(["2025-12-24"], SYMBOLS).head(0))
    empty = check_daily(lake, at("2025-12-26T09:05"))
    assert not empty.fresh and "holds no bars" in empty.reason


def test_naive_instants_are_refused(lake: Lake) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(lake, dt.datetime(2025, 12, 1, 10, 0))


def test_check_results_carry_reason_and_keys_and_nothing_for_not_checked(lake: Lake) -> None:
    write_minutes(lake, "2025-12-01", "09:40")
    keys = {key.asset_key.path[-1]: key.name for check in FRESHNESS_CHECKS for key in check.check_keys}
    assert keys == {"intraday_1m": "intraday_1m_freshness", "daily_bars": "daily_bars_freshness"}
    intraday = freshness_checks.check_result(check_intraday(lake, at("2025-12-01T10:00")))
    assert intraday is not None and not intraday.passed and intraday.severity == dg.AssetCheckSeverity.WARN
    assert intraday.check_name == "intraday_1m_freshness"
    assert "20 min old" in intraday.metadata["reason"].value
    assert intraday.metadata["last_key"].value.endswith("intraday_1m/date=2025-12-01/part-0.parquet")
    assert intraday.metadata["last_ts"].value == at("2025-12-01T09:40").astimezone(dt.UTC).isoformat()
    daily = freshness_checks.check_result(check_daily(lake, at("2025-12-01T10:00")))
    assert daily is not None and not daily.passed and daily.metadata["session"].value == "2025-11-28"
    # Christmas: nothing expected, so no result at all (Skipped), never a pass.
    assert freshness_checks.check_result(check_intraday(lake, at("2025-12-25T10:00"))) is None
    assert freshness_checks.check_result(check_daily(lake, at("2025-12-25T10:00"))) is None


def freshness_run(lake: Lake, tags: dict[str, str] | None = None) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    defs = dg.Definitions(
        assets=[dg.AssetSpec("intraday_1m"), dg.AssetSpec("daily_bars")],
        asset_checks=FRESHNESS_CHECKS,
        resources={"lake": LakeResource(root=lake.root)},
        jobs=[dg.define_asset_job("freshness_checks", selection=dg.AssetSelection.all_asset_checks())],
    )
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("freshness_checks").execute_in_process(instance=instance, tags=tags)
    return result, instance


def check_status(instance: dg.DagsterInstance, asset: str) -> str:
    """The check's latest execution as the UI resolves it: a planned check whose run succeeded
    without an evaluation is *Skipped*."""
    key = dg.AssetCheckKey(dg.AssetKey(asset), f"{asset}_freshness")
    (record,) = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
    if record.status.value != "PLANNED":
        return record.status.value
    run = instance.get_run_by_id(record.run_id)
    return "SKIPPED" if run is not None and run.is_success else "IN_PROGRESS/FAILED"


def test_asset_checks_run_in_dagster(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks execute as a Dagster run (the lake resource under the key "lake")."""
    lake.write("daily_bars", "2025-11-28", daily_frame(["2025-11-28"], SYMBOLS))
    monkeypatch.setattr(freshness, "now", lambda: at("2025-12-01T10:00"))
    result, instance = freshness_run(lake)
    assert result.success
    evaluations = {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    assert evaluations["daily_bars"].passed and not evaluations["intraday_1m"].passed
    assert evaluations["intraday_1m"].severity == dg.AssetCheckSeverity.WARN
    assert check_status(instance, "daily_bars") == "SUCCEEDED" and check_status(instance, "intraday_1m") == "FAILED"


def test_not_checked_is_skipped_never_passed(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a holiday nothing is expected: the run succeeds, no evaluation, the UI shows Skipped."""
    monkeypatch.setattr(freshness, "now", lambda: at("2025-12-25T10:00"))
    result, instance = freshness_run(lake)
    assert result.success and result.get_asset_check_evaluations() == []
    assert check_status(instance, "daily_bars") == "SKIPPED" and check_status(instance, "intraday_1m") == "SKIPPED"
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("not evaluated (Skipped): 2025-12-25 is not a session (an NYSE holiday)" in m for m in messages)


@pytest.mark.parametrize(
    "tags",
    [
        {"dagster/backfill": "abcdefgh"},
        {"dagster/partition": "2025-03-03"},
        {"dagster/asset_partition_range_start": "2025-03-03", "dagster/asset_partition_range_end": "2025-03-07"},
    ],
)
def test_a_session_run_or_backfill_never_judges_the_wall_clock(
    lake: Lake, monkeypatch: pytest.MonkeyPatch, tags: dict[str, str]
) -> None:
    """2026's wall clock on a lake holding nothing: evaluated, both would fail; in a run for 2025
    sessions (a backfill, a partition, a range) they do not evaluate at all."""
    monkeypatch.setattr(freshness, "now", lambda: at("2026-03-03T12:00"))
    result, instance = freshness_run(lake, tags)
    assert result.success and result.get_asset_check_evaluations() == []
    assert check_status(instance, "daily_bars") == "SKIPPED"
    stale, _ = freshness_run(lake)
    assert [e.passed for e in stale.get_asset_check_evaluations()] == [False, False]
