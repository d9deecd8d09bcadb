"""The bar contract: what passes, what is quarantined and why, and ticker validation."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tradingstation.core import calendar, schemas
from tradingstation.core.errors import InvalidSymbolError, SchemaError

UTC = dt.timezone.utc
OPEN = calendar.session_open("2025-11-28")  # an early-close day: 09:30-13:00 ET


def raw(rows: list[dict]) -> pl.DataFrame:
    base = {"symbol": "AAPL", "ts": OPEN, "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 100.0}
    return pl.DataFrame([{**base, **r} for r in rows], schema=schemas.RAW_BARS)


@pytest.mark.parametrize(
    "row, reason",
    [
        ({"low": 10.2}, "OHLC out of order"),
        ({"high": 10.4}, "OHLC out of order"),
        ({"volume": -1.0}, "negative volume"),
        ({"close": None}, "missing price or volume"),
        ({"open": float("nan")}, "non-finite price or volume"),
        ({"low": 0.0, "open": 0.5}, "non-positive price"),
        ({"ts": dt.datetime(2025, 11, 27, 15, 0, tzinfo=UTC)}, "not in a trading session"),  # Thanksgiving
        ({"ts": calendar.session_close("2025-11-28") + dt.timedelta(hours=4)}, "outside the session window"),
    ],
)
def test_each_broken_rule_is_quarantined_with_its_reason(row: dict, reason: str) -> None:
    checked = schemas.validate_bars(raw([{}, {**row, "symbol": "BAD"}]), intraday=True)
    assert checked.bars["symbol"].to_list() == ["AAPL"]
    assert checked.quarantine.height == 1
    assert checked.quarantine["reason"][0].startswith(reason)
    assert checked.quarantine["symbol"][0] == "BAD"


def test_duplicates_keep_the_first_and_quarantine_the_rest() -> None:
    checked = schemas.validate_bars(raw([{"volume": 1.0}, {"volume": 2.0}, {"volume": 3.0}]), intraday=True)
    assert checked.bars["volume"].to_list() == [1]
    assert checked.quarantined_by_reason == {"duplicate (symbol, ts)": 2}


def test_intraday_bars_are_labelled_by_session_part_with_the_early_close() -> None:
    close = calendar.session_close("2025-11-28")
    stamps = [OPEN - dt.timedelta(minutes=5), OPEN, close - dt.timedelta(minutes=1), close, close + dt.timedelta(hours=3)]
    checked = schemas.validate_bars(raw([{"ts": t} for t in stamps]), intraday=True)
    assert checked.bars["session"].to_list() == ["pre", "regular", "regular", "post", "post"]
    assert checked.bars["date"].unique().to_list() == [dt.date(2025, 11, 28)]
    assert checked.bars.schema == schemas.INTRADAY_BARS


def test_daily_bars_after_the_close_are_out_of_window_and_requested_sessions_are_enforced() -> None:
    late = calendar.session_close("2025-11-28") + dt.timedelta(minutes=30)
    checked = schemas.validate_bars(raw([{}, {"ts": late, "symbol": "LATE"}]), intraday=False)
    assert checked.bars.schema == schemas.DAILY_BARS and checked.bars.height == 1
    assert checked.quarantined_by_reason == {"outside the session window": 1}
    other = schemas.validate_bars(raw([{}]), intraday=False, sessions=["2025-11-26"])
    assert other.bars.height == 0 and other.quarantined_by_reason == {"outside the requested sessions": 1}
    assert other.quarantine["date"].to_list() == [dt.date(2025, 11, 26)]  # filed under a session being written


def test_nothing_is_lost_rows_in_equal_rows_out() -> None:
    rows = [{"volume": float(i), "ts": OPEN + dt.timedelta(minutes=i % 7), "low": 9.0 + (i % 3)} for i in range(40)]
    checked = schemas.validate_bars(raw(rows), intraday=True)
    assert checked.bars.height + checked.quarantine.height == 40


def test_source_frame_missing_a_column_is_named() -> None:
    with pytest.raises(SchemaError, match="volume"):
        schemas.validate_bars(raw([{}]).drop("volume"), intraday=False)


@pytest.mark.parametrize("bad", ["", "   ", "../x", "A/B", "X" * 40, "AB\x00C", "TAB\tX", "-A", "A..B"])
def test_invalid_tickers_are_rejected_with_the_problem_named(bad: str) -> None:
    with pytest.raises(InvalidSymbolError):
        schemas.normalize_symbol(bad)


@pytest.mark.parametrize("good, canonical", [("brk.b", "BRK.B"), (" nvda ", "NVDA"), ("^GSPC", "^GSPC"), ("BF-B", "BF-B")])
def test_valid_tickers_are_canonicalised(good: str, canonical: str) -> None:
    assert schemas.normalize_symbol(good) == canonical


def test_comma_list_is_deduplicated_in_order() -> None:
    assert schemas.normalize_symbols("nvda,AAPL,NVDA") == ["NVDA", "AAPL"]


def test_a_broken_first_copy_does_not_cost_the_good_duplicate() -> None:
    checked = schemas.validate_bars(raw([{"low": 10.2, "volume": 1.0}, {"volume": 2.0}, {"volume": 3.0}]), intraday=True)
    assert checked.bars["volume"].to_list() == [2]
    assert checked.quarantined_by_reason == {"OHLC out of order (low <= open, close <= high broken)": 1, "duplicate (symbol, ts)": 1}


def test_many_copies_in_any_order_keep_each_groups_first_sound_row() -> None:
    """Against a plain reference: per (symbol, ts), the first row (in the source's order) that breaks
    no other rule is kept; every later sound copy is a quarantined duplicate; the bars come back in
    symbol, ts order and the quarantine in the source's order."""
    import random

    rng = random.Random(4)
    rows = []
    for i in range(600):
        row = {"symbol": rng.choice(["AAPL", "MSFT", "NVDA", "BRK.B"]), "ts": OPEN + dt.timedelta(minutes=rng.randrange(40)),
               "volume": float(i)}
        if rng.random() < 0.15:
            row["low"] = 10.8  # above the open: OHLC out of order
        rows.append(row)
    checked = schemas.validate_bars(raw(rows), intraday=True)
    kept, duplicates, broken = {}, [], []
    for row in rows:
        if "low" in row:
            broken.append(row["volume"])
        elif (row["symbol"], row["ts"]) in kept:
            duplicates.append(row["volume"])
        else:
            kept[(row["symbol"], row["ts"])] = row["volume"]
    assert checked.bars.select("symbol", "ts", "volume").rows() == [(s, t, v) for (s, t), v in sorted(kept.items())]
    assert checked.quarantine["volume"].to_list() == sorted(duplicates + broken)  # volume = the row's position
    assert checked.quarantined_by_reason == {"OHLC out of order (low <= open, close <= high broken)": len(broken),
                                             "duplicate (symbol, ts)": len(duplicates)}


def test_a_bar_without_a_timestamp_is_quarantined_under_the_first_session_being_written() -> None:
    """One row without a time in a fetch for named sessions (every bar asset names them) is filed,
    not fatal: it used to stop the whole fetch with an out-of-bounds error."""
    rows = [{}, {"ts": None}, {"symbol": None}, {"ts": OPEN + dt.timedelta(minutes=1)}]
    checked = schemas.validate_bars(raw(rows), intraday=True, sessions=["2025-11-26", "2025-11-28"])
    assert checked.bars.height == 2
    assert checked.quarantined_by_reason == {"missing symbol or timestamp": 2}
    assert sorted(checked.quarantine["date"].to_list()) == [dt.date(2025, 11, 26), dt.date(2025, 11, 28)]


def test_bars_of_a_session_before_the_requested_ones_are_quarantined_not_fatal() -> None:
    """A source that also returns the day before the range (it happens): those bars are filed under
    the first session being written; this used to stop the fetch (an unsigned 0 - 1)."""
    before = calendar.session_open("2025-11-26")
    checked = schemas.validate_bars(raw([{}, {"ts": before, "symbol": "EARLY"}]), intraday=False,
                                    sessions=["2025-11-28", "2025-12-01"])
    assert checked.bars["symbol"].to_list() == ["AAPL"]
    assert checked.quarantined_by_reason == {"outside the requested sessions": 1}
    assert checked.quarantine["date"].to_list() == [dt.date(2025, 11, 28)]


@pytest.mark.parametrize("sessions", [None, ["2025-11-28"]])
def test_a_fetch_whose_rows_all_lack_a_timestamp_is_all_quarantined(sessions: list[str] | None) -> None:
    checked = schemas.validate_bars(raw([{"ts": None}, {"ts": None, "symbol": "MSFT"}]), intraday=True, sessions=sessions)
    assert checked.bars.height == 0 and checked.quarantined_by_reason == {"missing symbol or timestamp": 2}
