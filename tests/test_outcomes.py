"""The first-touch outcome rule on hand-built bars: every status, both sides, both horizons."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from screeners import outcomes
from screeners.registry import SCREENERS, signals_dataset
from tradingstation.assets.dashboard import master_dashboard
from tradingstation.assets.outcomes import screener_scorecard, signal_outcomes
from tradingstation.core import calendar, schemas
from tradingstation.definitions import ALL_ASSETS
from tradingstation.lake import Lake
from tradingstation.resources.lake_io import LakeIOManager, LakeResource
from tradingstation.resources.sources.synthetic_source import SyntheticSource
from tradingstation.schedules import AS_OF_TAG

from lake_data import sessions_from

DAY = dt.date(2025, 11, 25)
OPEN = calendar.session_open(DAY)
CLOSE = calendar.session_close(DAY)
INTRADAY = ("orb", "gapgo", "exhaustion_reversal")
Bar = tuple[float, float, float]  # high, low, close


def minutes(symbol: str, bars: list[Bar], start: int = 0, day: dt.date = DAY) -> pl.DataFrame:
    """1-minute regular bars of ``symbol`` from ``start`` minutes after the open, one per (high, low, close)."""
    first = calendar.session_open(day) + dt.timedelta(minutes=start)
    return pl.DataFrame(
        {"date": day, "symbol": symbol, "ts": [first + dt.timedelta(minutes=i) for i in range(len(bars))],
         "open": [b[2] for b in bars], "high": [b[0] for b in bars], "low": [b[1] for b in bars],
         "close": [b[2] for b in bars], "volume": 1000, "session": "regular"},
        schema=schemas.INTRADAY_BARS,
    )


def signal(symbol: str, side: str, entry: float, stop: float, target: float, *, screener: str = "orb",
           minute: int = 0, day: dt.date = DAY, ts: dt.datetime | None = None, score: float = 5.0) -> dict:
    when = ts or calendar.session_open(day) + dt.timedelta(minutes=minute)
    return dict(date=day, ts=when, symbol=symbol, screener=screener, side=side, score=score,
                entry=entry, stop=stop, target=target, reasons="hand-built")


def resolve(rows: list[dict], minute_bars: pl.DataFrame | None = None, daily: pl.DataFrame | None = None,
            as_of: dt.datetime | None = None) -> dict[str, dict]:
    sig = pl.DataFrame(rows, schema=schemas.SIGNALS)
    out = outcomes.resolve(sig, minute_bars, daily, intraday=INTRADAY, as_of=as_of)
    assert out.height == len(rows) and out.schema == outcomes.RESOLVED_SCHEMA
    return {r["symbol"]: r for r in out.iter_rows(named=True)}


# Each symbol's signal bar is the first bar (its close is the entry); the later bars decide.
LONG_BARS = {
    "TGT": [(100.2, 99.8, 100.0), (101.0, 99.5, 100.5), (102.1, 100.4, 101.9)],  # target at bar 2
    "STP": [(100.2, 99.8, 100.0), (100.5, 98.9, 99.2), (103.0, 99.0, 102.5)],  # stop at bar 1 (target later)
    "BOTH": [(100.2, 99.8, 100.0), (102.5, 98.5, 100.0)],  # stop and target in one bar
    "EXP": [(100.2, 99.8, 100.0), (100.9, 99.3, 100.4), (100.6, 99.6, 100.5)],  # neither: expires at 100.5
}


def short_bars(bars: list[Bar]) -> list[Bar]:
    """The mirror image around 100: a long path becomes the same short path."""
    return [(200.0 - low, 200.0 - high, 200.0 - close) for high, low, close in bars]


def test_long_statuses_r_multiples_and_times() -> None:
    bars = pl.concat([minutes(s, b) for s, b in LONG_BARS.items()])
    rows = [signal(s, "long", 100.0, 99.0, 102.0) for s in LONG_BARS]
    out = resolve(rows, bars)
    assert {s: r["status"] for s, r in out.items()} == {"TGT": "target", "STP": "stopped", "BOTH": "stopped",
                                                        "EXP": "expired"}
    assert out["TGT"]["r_multiple"] == 2.0 and out["TGT"]["exit_price"] == 102.0
    assert out["TGT"]["exit_ts"] == OPEN + dt.timedelta(minutes=2) == out["TGT"]["status_ts"]
    assert out["STP"]["r_multiple"] == -1.0 and out["STP"]["exit_ts"] == OPEN + dt.timedelta(minutes=1)
    assert out["BOTH"]["r_multiple"] == -1.0 and out["BOTH"]["exit_price"] == 99.0
    assert out["EXP"]["r_multiple"] == pytest.approx(0.5) and out["EXP"]["exit_price"] == 100.5
    assert out["EXP"]["exit_ts"] == OPEN + dt.timedelta(minutes=2) and out["EXP"]["status_ts"] == CLOSE
    for r in out.values():  # entry is the signal bar's close: triggered at the signal itself
        assert r["trigger_ts"] == OPEN and r["horizon"] == "intraday" and r["resolves_on"] == DAY


def test_short_statuses_mirror_the_long_ones() -> None:
    bars = pl.concat([minutes(s, short_bars(b)) for s, b in LONG_BARS.items()])
    rows = [signal(s, "short", 100.0, 101.0, 98.0) for s in LONG_BARS]
    out = resolve(rows, bars)
    assert {s: r["status"] for s, r in out.items()} == {"TGT": "target", "STP": "stopped", "BOTH": "stopped",
                                                        "EXP": "expired"}
    assert out["TGT"]["r_multiple"] == 2.0 and out["STP"]["r_multiple"] == -1.0
    assert out["BOTH"]["exit_price"] == 101.0 and out["EXP"]["r_multiple"] == pytest.approx(0.5)


def test_an_entry_beyond_the_close_waits_for_a_bar_to_reach_it() -> None:
    bars = pl.concat([
        minutes("LATE", [(100.2, 99.8, 100.0), (100.9, 99.9, 100.8), (101.3, 100.7, 101.2), (103.5, 101.0, 103.0)]),
        minutes("NEVER", [(100.2, 99.8, 100.0), (100.9, 99.9, 100.8), (100.95, 99.2, 99.5)]),  # stop without entry
        minutes("SHORT", [(100.2, 99.8, 100.0), (100.1, 98.9, 99.0), (99.0, 96.0, 96.5)]),
    ])
    rows = [signal("LATE", "long", 101.0, 99.0, 103.0, screener="gapgo"),
            signal("NEVER", "long", 101.0, 99.0, 103.0, screener="gapgo"),
            signal("SHORT", "short", 99.0, 101.0, 97.0, screener="gapgo")]
    out = resolve(rows, bars)
    assert out["LATE"]["status"] == "target" and out["LATE"]["trigger_ts"] == OPEN + dt.timedelta(minutes=2)
    assert out["LATE"]["exit_ts"] == OPEN + dt.timedelta(minutes=3) and out["LATE"]["r_multiple"] == 1.0
    # the stop level traded, but the entry never did: no trade, no loss
    assert out["NEVER"]["status"] == "untriggered" and out["NEVER"]["r_multiple"] is None
    assert out["NEVER"]["trigger_ts"] is None and out["NEVER"]["exit_ts"] is None
    assert out["SHORT"]["status"] == "target" and out["SHORT"]["trigger_ts"] == OPEN + dt.timedelta(minutes=1)


def test_the_triggering_bar_itself_can_stop_the_trade() -> None:
    bars = minutes("AAA", [(100.2, 99.8, 100.0), (101.2, 98.8, 99.0)])  # reaches entry 101 and stop 99 in one bar
    out = resolve([signal("AAA", "long", 101.0, 99.0, 105.0, screener="gapgo")], bars)
    assert out["AAA"]["status"] == "stopped" and out["AAA"]["r_multiple"] == -1.0


def test_entry_at_the_close_within_rounding_triggers_at_once_and_earlier_bars_do_not_count() -> None:
    # stored entry 100.00 is the close 99.996 rounded; the signal bar's own low is under the stop
    bars = minutes("AAA", [(100.0, 98.0, 99.996), (100.5, 99.5, 100.2)])
    out = resolve([signal("AAA", "long", 100.0, 99.0, 102.0)], bars)
    assert out["AAA"]["trigger_ts"] == OPEN and out["AAA"]["status"] == "expired"
    # 30-minute screeners stamp the bar's end: the 1-minute bar ending at ts is the signal bar
    # (the bar starting at ts is skipped: only bars starting after the signal's ts count)
    bars = minutes("BBB", [(100.1, 99.9, 100.0), (105.0, 95.0, 100.0), (101.0, 99.5, 100.7)], start=29)
    ts = OPEN + dt.timedelta(minutes=30)
    out = resolve([signal("BBB", "long", 100.0, 99.0, 102.0, screener="exhaustion_reversal", ts=ts)], bars)
    assert out["BBB"]["trigger_ts"] == ts and out["BBB"]["status"] == "expired"
    assert out["BBB"]["r_multiple"] == pytest.approx(0.7)


def test_post_market_bars_and_the_next_session_are_outside_an_intraday_horizon() -> None:
    post = minutes("AAA", [(105.0, 95.0, 100.0)]).with_columns(ts=pl.lit(CLOSE), session=pl.lit("post"))
    nxt = minutes("AAA", [(105.0, 95.0, 100.0)], day=calendar.next_session(DAY))
    bars = pl.concat([minutes("AAA", [(100.2, 99.8, 100.0), (100.3, 99.7, 100.1)]), post, nxt])
    out = resolve([signal("AAA", "long", 100.0, 99.0, 102.0)], bars)
    assert out["AAA"]["status"] == "expired" and out["AAA"]["exit_price"] == 100.1


def test_as_of_pending_triggered_and_only_complete_bars() -> None:
    bars = pl.concat([
        minutes("PND", [(100.2, 99.8, 100.0), (100.5, 99.5, 100.2), (101.5, 100.0, 101.2)]),
        minutes("OPN", [(100.2, 99.8, 100.0), (100.5, 99.5, 100.2), (102.5, 100.0, 102.2)]),
    ])
    rows = [signal("PND", "long", 101.0, 99.0, 103.0, screener="gapgo"), signal("OPN", "long", 100.0, 99.0, 102.0)]
    # at 09:32:30 the bar of 09:32 is not complete: it counts for neither
    early = resolve(rows, bars, as_of=OPEN + dt.timedelta(minutes=2, seconds=30))
    assert early["PND"]["status"] == "pending" and early["PND"]["status_ts"] == OPEN
    assert early["OPN"]["status"] == "triggered" and early["OPN"]["status_ts"] == OPEN
    assert early["OPN"]["r_multiple"] is None and early["OPN"]["exit_ts"] is None
    later = resolve(rows, bars, as_of=OPEN + dt.timedelta(minutes=3))
    assert later["PND"]["status"] == "triggered" and later["PND"]["status_ts"] == OPEN + dt.timedelta(minutes=2)
    assert later["OPN"]["status"] == "target"
    # after the close the untouched pending setup is final
    assert resolve(rows[:1], bars.head(2), as_of=CLOSE)["PND"]["status"] == "untriggered"
    with pytest.raises(ValueError, match="timezone-aware"):
        outcomes.resolve(pl.DataFrame(rows, schema=schemas.SIGNALS), bars, None, intraday=INTRADAY,
                         as_of=CLOSE.replace(tzinfo=None))


def daily(symbol: str, days: list[dt.date], bars: list[Bar]) -> pl.DataFrame:
    return pl.DataFrame(
        {"date": days, "symbol": symbol, "ts": [calendar.session_open(d) for d in days],
         "open": [b[2] for b in bars], "high": [b[0] for b in bars], "low": [b[1] for b in bars],
         "close": [b[2] for b in bars], "volume": 10**6},
        schema=schemas.DAILY_BARS,
    )


def test_daily_setups_resolve_on_the_next_ten_sessions() -> None:
    days = sessions_from(DAY, 12)  # the signal session, its ten-session horizon, one more
    flat = [(100.5, 99.5, 100.0)] * 12
    tgt = flat[:4] + [(104.5, 100.0, 104.0)] + flat[5:]  # target on the 4th session after
    late = flat[:11] + [(110.0, 100.0, 109.0)]  # target only on the 11th session: outside
    mtm = flat[:10] + [(101.0, 99.8, 100.8), (100.5, 99.5, 100.0)]  # expires at the 10th close, +0.4R
    short = flat[:2] + [(103.0, 99.0, 100.0)] + flat[3:]  # the short is stopped on the 2nd session
    frame = pl.concat([daily("TGT", days, tgt), daily("LATE", days, late), daily("MTM", days, mtm),
                       daily("SHRT", days, short)])
    close = calendar.session_close(DAY)
    rows = [signal(s, "long", 100.0, 98.0, 104.0, screener="breakout", ts=close) for s in ("TGT", "LATE", "MTM")]
    rows.append(signal("SHRT", "short", 100.0, 102.0, 96.0, screener="ema_pullback", ts=close))
    out = resolve(rows, None, frame)
    assert out["TGT"]["status"] == "target" and out["TGT"]["exit_ts"] == calendar.session_open(days[4])
    assert out["TGT"]["r_multiple"] == 2.0
    assert out["LATE"]["status"] == "expired" and out["LATE"]["r_multiple"] == 0.0
    assert out["LATE"]["resolves_on"] == days[10] and out["LATE"]["horizon_end"] == calendar.session_close(days[10])
    assert out["MTM"]["status"] == "expired" and out["MTM"]["exit_price"] == 100.8
    assert out["MTM"]["r_multiple"] == pytest.approx(0.4)
    assert out["SHRT"]["status"] == "stopped" and out["SHRT"]["exit_ts"] == calendar.session_open(days[2])
    assert all(r["horizon"] == "daily" and r["trigger_ts"] == close for r in out.values())
    # as of the signal's own close nothing later is known: triggered (entry = close), still open
    live = resolve(rows[:1], None, frame, as_of=close)
    assert live["TGT"]["status"] == "triggered" and live["TGT"]["resolves_on"] == days[10]


def test_invalid_levels_and_missing_bars_are_not_outcomes() -> None:
    bars = minutes("AAA", [(100.2, 99.8, 100.0), (101.0, 99.5, 100.5)])
    rows = [
        signal("AAA", "long", 100.0, 100.5, 102.0),  # stop above a long's entry
        signal("BBB", "long", 100.0, 99.0, 102.0),  # no bar of BBB at all
        signal("CCC", "long", float("nan"), 99.0, 102.0),
    ]
    out = resolve(rows, bars)
    assert out["AAA"]["status"] == "invalid" and out["AAA"]["r_multiple"] is None
    assert out["BBB"]["status"] == "no_bars" and out["CCC"]["status"] == "invalid"
    # the horizon not over yet: no bars is simply pending
    assert resolve(rows[1:2], bars, as_of=OPEN + dt.timedelta(minutes=5))["BBB"]["status"] == "pending"


def test_empty_input_and_the_registry_split() -> None:
    empty = outcomes.resolve(pl.DataFrame(schema=schemas.SIGNALS), None, None)
    assert empty.is_empty() and empty.schema == outcomes.RESOLVED_SCHEMA
    assert set(outcomes.intraday_screeners(SCREENERS.values())) == {"gapgo", "orb", "exhaustion_reversal"}
    with pytest.raises(ValueError, match="daily_sessions"):
        outcomes.horizons(pl.DataFrame(schema=schemas.SIGNALS), [], outcomes.OutcomeParams(daily_sessions=0))


def test_as_dataset_keys_outcomes_by_the_session_they_became_final() -> None:
    days = sessions_from(DAY, 11)
    frame = daily("AAA", days, [(100.5, 99.5, 100.0)] * 11)
    rows = [signal("AAA", "long", 100.0, 98.0, 104.0, screener="breakout", ts=calendar.session_close(DAY))]
    resolved = outcomes.resolve(pl.DataFrame(rows, schema=schemas.SIGNALS), None, frame, intraday=INTRADAY)
    regimes = pl.DataFrame({"date": [DAY], "horizon": ["daily"], "regime": ["bull"]})
    lake_rows = outcomes.as_dataset(resolved, regimes)
    assert lake_rows.schema == outcomes.OUTCOMES_SCHEMA
    r = lake_rows.row(0, named=True)
    assert r["date"] == days[10] and r["signal_date"] == DAY and r["regime"] == "bull" and r["status"] == "expired"
    assert outcomes.as_dataset(resolved)["regime"].to_list() == ["unknown"]


# --- the assets: a range of sessions as one run, through Dagster and a temporary lake ---


def _resources(root: str) -> dict:
    lake = LakeResource(root=root)  # the source is there for the definitions; nothing is fetched
    return {"lake": lake, "io_manager": LakeIOManager(lake=lake), "source": SyntheticSource()}


def _stored_lake(root: str, days: list[dt.date]) -> Lake:
    """Daily bars of AAA for ``days``, ORB's 1-minute bars and signals on days[3], a breakout on days[0]."""
    lake = Lake(root)
    bars = [(104.5, 99.8, 104.0) if i == 5 else (100.5, 99.5, 100.0) for i in range(len(days))]  # target on days[5]
    for day, part in daily("AAA", days, bars).partition_by("date", as_dict=True).items():
        lake.write("daily_bars", day[0], part)
    for day in days:
        lake.write("intraday_1m", day, minutes("AAA", LONG_BARS["TGT"], day=day))
        for name in SCREENERS:
            lake.write(signals_dataset(name), day, schemas.empty(schemas.dataset(signals_dataset(name)).schema))
    breakout = pl.DataFrame([signal("AAA", "long", 100.0, 98.0, 104.0, screener="breakout", day=days[0],
                                    ts=calendar.session_close(days[0]))], schema=schemas.SIGNALS)
    orb = pl.DataFrame([signal("AAA", "long", 100.0, 99.0, 102.0, day=days[3])], schema=schemas.SIGNALS)
    for name, frame in (("breakout", breakout), ("orb", orb)):
        dataset = schemas.dataset(signals_dataset(name))
        lake.write(dataset.name, frame["date"][0], schemas.conform(frame, schemas.SIGNALS).with_columns(
            pl.lit(None, t).alias(c) for c, t in dataset.schema.items() if c not in schemas.SIGNALS))
    return lake


def test_a_range_of_sessions_is_one_run_and_each_outcome_lands_on_its_resolution_session(tmp_path) -> None:
    days = sessions_from(DAY, 12)
    lake = _stored_lake(str(tmp_path), days)
    tags = {"dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[10].isoformat()}
    result = dg.materialize(ALL_ASSETS, resources=_resources(str(tmp_path)), tags=tags,
                            selection=[signal_outcomes, screener_scorecard])
    assert result.success
    assert lake.sessions("signal_outcomes") == days[:11] == lake.sessions("screener_scorecard")
    stored = lake.read("signal_outcomes")
    assert stored.select("date", "signal_date", "screener", "status", "r_multiple").rows() == [
        (days[3], days[3], "orb", "target", 2.0),  # intraday: final on its own session
        (days[10], days[0], "breakout", "target", 2.0),  # daily: final ten sessions later (target on days[5])
    ]
    assert set(stored["regime"]) == {"unknown"}  # no SPY history here
    card = lake.read("screener_scorecard", days[10], days[10]).filter(pl.col("score_bucket") == "all")
    assert card.select("screener", "signals", "targets", "expectancy").rows() == [("breakout", 1, 1, 2.0),
                                                                                    ("orb", 1, 1, 2.0)]
    early = lake.read("screener_scorecard", days[5], days[5])
    assert early["screener"].unique().to_list() == ["orb"]  # the breakout was not final yet on days[5]
    meta = result.asset_materializations_for_node("screener_scorecard")[-1].metadata
    assert "not enough history" in meta["history"].value


def test_outcomes_need_stored_signals(tmp_path) -> None:
    result = dg.materialize(ALL_ASSETS, partition_key=DAY.isoformat(), resources=_resources(str(tmp_path)),
                            selection=[signal_outcomes], raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "materialize" in str(failure.cause.message if failure.cause else failure.message)


def test_the_plan_builds_mid_session_with_screeners_that_have_not_run(tmp_path) -> None:
    days = sessions_from(DAY, 4)
    lake = _stored_lake(str(tmp_path), days)
    for name in ("exhaustion_reversal", "gapgo"):  # not run yet today, never yesterday either
        for day in days:
            lake.delete(signals_dataset(name), day)
    as_of = calendar.session_open(days[3]) + dt.timedelta(minutes=1, seconds=30)
    result = dg.materialize(ALL_ASSETS, partition_key=days[3].isoformat(), resources=_resources(str(tmp_path)),
                            selection=[master_dashboard], tags={AS_OF_TAG: as_of.isoformat()})
    assert result.success
    row = lake.read("master_dashboard", days[3], days[3]).row(0, named=True)
    # the ORB signal of 09:30 as of 09:31:30: triggered at once, the 09:31 bar not yet complete
    assert row["symbol"] == "AAA" and row["status"] == "triggered" and row["status_ts"] == calendar.session_open(days[3])
    page = (tmp_path / "master_dashboard" / f"date={days[3]}" / "dashboard.html").read_text()
    assert "Track record" in page and "no final signal outcomes yet" in page
