"""The scorecard's figures and the plan score on a small hand-built set of outcomes."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from screeners import dashboard_html, scorecard
from screeners.dashboard import DashboardParams, build_dashboard
from screeners.outcomes import OUTCOMES_SCHEMA
from tradingstation.core import calendar, schemas

from lake_data import sessions_from

DAYS = sessions_from(dt.date(2025, 8, 1), 70)
KEY = DAYS[-1]


def outcome(day: dt.date, status: str, r: float | None, *, screener: str = "orb", score: float = 6.5,
            regime: str = "bull", minute: int = 0, symbol: str = "AAA") -> dict:
    ts = calendar.session_open(day) + dt.timedelta(minutes=minute)
    return dict(date=day, signal_date=day, ts=ts, symbol=symbol, screener=screener, side="long", score=score,
                entry=100.0, stop=99.0, target=102.0, horizon="intraday", horizon_end=calendar.session_close(day),
                status=status, status_ts=ts, trigger_ts=ts, exit_ts=ts, exit_price=None, r_multiple=r, regime=regime)


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=OUTCOMES_SCHEMA)


# One screener, one bucket, in time order: W L L L W E(+0.5) U, then a pending and a no-bars row.
SEQUENCE = [("target", 2.0), ("stopped", -1.0), ("stopped", -1.0), ("stopped", -1.0), ("target", 2.0),
            ("expired", 0.5), ("untriggered", None), ("invalid", None), ("no_bars", None)]


def test_hit_rate_expectancy_and_worst_losing_run() -> None:
    rows = [outcome(DAYS[-10 + i], status, r) for i, (status, r) in enumerate(SEQUENCE)]
    card = scorecard.scorecard(frame(rows), [KEY], sessions=60)
    assert card.schema == scorecard.SCORECARD_SCHEMA
    row = card.filter((pl.col("score_bucket") == "6-8") & (pl.col("regime") == "bull")).row(0, named=True)
    assert row["signals"] == 7 and row["triggered"] == 6  # invalid and no_bars are not outcomes
    assert (row["targets"], row["stopped"], row["expired"]) == (2, 3, 1)
    assert row["hit_rate"] == pytest.approx(2 / 6, abs=1e-4)
    assert row["avg_r"] == pytest.approx(1.5 / 6, abs=1e-4)
    assert row["expectancy"] == pytest.approx(1.5 / 7, abs=1e-4)  # per signal: the untriggered one earns 0
    assert row["worst_losing_run"] == 3
    assert row["window_sessions"] == 60 and row["first_session"] == DAYS[-60] and row["date"] == KEY


def test_losing_runs_follow_signal_time_not_row_order() -> None:
    day = DAYS[-1]
    rows = [outcome(day, "stopped", -1.0, minute=m) for m in (1, 3)] + [outcome(day, "target", 2.0, minute=2)]
    card = scorecard.scorecard(frame(rows), [KEY])
    assert card.filter(pl.col("regime") == "all")["worst_losing_run"].to_list() == [1, 1]
    rows.append(outcome(day, "expired", -0.3, minute=4))  # an expired trade below entry is a loss too
    card = scorecard.scorecard(frame(rows), [KEY])
    assert card.filter(pl.col("regime") == "all")["worst_losing_run"].to_list() == [2, 2]


def test_window_buckets_regimes_and_rollups() -> None:
    rows = [
        outcome(DAYS[-61], "target", 2.0),  # one session before the 60-session window: out
        outcome(DAYS[-60], "stopped", -1.0, score=3.9),  # the window's first session: in
        outcome(DAYS[-5], "target", 2.0, score=4.0, regime="bear"),
        outcome(DAYS[-5], "target", 2.0, score=10.0, screener="breakout"),
        outcome(calendar.next_session(KEY), "stopped", -1.0),  # after the scorecard's session: out
    ]
    card = scorecard.scorecard(frame(rows), [KEY])
    keys = set(zip(card["screener"], card["score_bucket"], card["regime"]))
    assert keys == {
        ("orb", "0-4", "bull"), ("orb", "0-4", "all"), ("orb", "4-6", "bear"), ("orb", "4-6", "all"),
        ("orb", "all", "all"), ("breakout", "8-10", "bull"), ("breakout", "8-10", "all"), ("breakout", "all", "all"),
    }
    orb = card.filter((pl.col("screener") == "orb") & (pl.col("score_bucket") == "all")).row(0, named=True)
    assert orb["signals"] == 2 and orb["expectancy"] == pytest.approx(0.5)
    # two scorecard sessions in one call (a backfill): each with its own window
    both = scorecard.scorecard(frame(rows), [DAYS[-6], KEY])
    early = both.filter((pl.col("date") == DAYS[-6]) & (pl.col("score_bucket") == "all"))
    assert early["signals"].to_list() == [2]  # the 61st-before row is inside this earlier window, not DAYS[-5]'s
    assert scorecard.scorecard(frame([]), [KEY]).is_empty()
    with pytest.raises(ValueError, match="at least one session"):
        scorecard.scorecard(frame(rows), [KEY], sessions=0)


def test_plan_base_uses_the_record_only_with_enough_history() -> None:
    rows = [outcome(DAYS[-1 - i % 50], "target" if i % 4 == 0 else "stopped", 2.0 if i % 4 == 0 else -1.0,
                    minute=i) for i in range(40)]  # orb 6-8: 40 signals, 10 wins, E = (20 - 30) / 40 = -0.25R
    rows += [outcome(DAYS[-2], "target", 2.0, screener="gapgo", minute=i) for i in range(29)]  # 29: too few
    card = scorecard.scorecard(frame(rows), [KEY])
    signals = pl.DataFrame({"screener": ["orb", "orb", "gapgo", "breakout"], "score": [7.0, 9.0, 7.0, 7.0]})
    out = scorecard.plan_base(signals, card, min_signals=30)
    assert out["plan_base"].to_list() == [3.75, 9.0, 7.0, 7.0]  # 5 + 5 * -0.25; the others keep their score
    assert out["score_basis"][0] == "record: 40 signals at 6-8, E -0.25R"
    assert out["score_basis"][2] == "screener score (29 of 30 signals needed at 6-8)"
    assert "plan_base" in scorecard.plan_base(signals, None).columns
    # monotone and bounded: a better record never scores lower, and the scale is clipped to 0-10
    e = pl.DataFrame({"screener": ["x"] * 5, "score_bucket": ["6-8"] * 5, "regime": ["all"] * 5,
                      "signals": [30] * 5, "expectancy": [-3.0, -0.5, 0.0, 0.5, 3.0], "date": [KEY] * 5})
    mapped = [scorecard.plan_base(pl.DataFrame({"screener": ["x"], "score": [7.0]}), e.slice(i, 1))["plan_base"][0]
              for i in range(5)]
    assert mapped == [0.0, 2.5, 5.0, 7.5, 10.0]


def test_text_and_markdown_tables() -> None:
    rows = [outcome(DAYS[-10 + i], status, r) for i, (status, r) in enumerate(SEQUENCE)]
    card = scorecard.scorecard(frame(rows), [KEY])
    text = scorecard.text_table(card).splitlines()
    assert text[0].split() == ["screener", "bucket", "regime", "signals", "trig", "hit%", "avg", "R", "E", "(R/sig)",
                               "worst", "run", "plan"]
    assert text[1].split() == ["orb", "6-8", "all", "7", "6", "33", "+0.25", "+0.214", "3", "own", "score"]
    assert len(scorecard.text_table(card, regimes=True).splitlines()) == 4
    assert "| orb | 6-8 | 7 | 6 | 33% | +0.25 | +0.214 | 3 |" in scorecard.markdown_table(card)
    assert "no final" in scorecard.markdown_table(card.clear())
    html = dashboard_html.scorecard_section(card.with_columns(screener=pl.lit("<b>orb</b>")))
    assert "&lt;b&gt;orb&lt;/b&gt;" in html and "<td class=\"n\">+0.214</td>" in html and "own score" in html
    assert "no final signal outcomes yet" in dashboard_html.scorecard_section(None)


# --- the plan: top N, a comparable score, same-side confluence in a window, conflicts, live status ---


PLAN_DAY = dt.date(2025, 11, 25)
OPEN, CLOSE = calendar.session_open(PLAN_DAY), calendar.session_close(PLAN_DAY)
INTRADAY = ("orb", "gapgo", "exhaustion_reversal")
NO_DAILY = pl.DataFrame(schema=schemas.DAILY_BARS)


def sig(symbol: str, screener: str, side: str, score: float, at: dt.datetime, entry: float = 50.0,
        stop: float = 49.0, target: float = 52.0, day: dt.date = PLAN_DAY) -> dict:
    if side == "short":
        stop, target = 2 * entry - stop, 2 * entry - target
    return dict(date=day, ts=at, symbol=symbol, screener=screener, side=side, score=score, entry=entry,
                stop=stop, target=target, reasons=f"{screener} why")


def plan(rows: list[dict], as_of: dt.datetime, params: DashboardParams = DashboardParams(), **kw) -> pl.DataFrame:
    signals = pl.DataFrame(rows, schema=schemas.SIGNALS)
    return build_dashboard(signals, kw.pop("daily", NO_DAILY), as_of, PLAN_DAY, params, intraday=INTRADAY, **kw)


def test_the_plan_keeps_the_top_twenty_by_default() -> None:
    at = OPEN + dt.timedelta(minutes=30)
    rows = [sig(f"S{i:02d}", "orb", "long", i / 3, at) for i in range(25)]
    out = plan(rows, at + dt.timedelta(minutes=1))
    assert out.height == 20 and out["rank"].to_list() == list(range(1, 21))
    assert out["symbol"][0] == "S24" and "S04" not in out["symbol"].to_list()  # the five weakest are cut
    assert plan(rows, at + dt.timedelta(minutes=1), DashboardParams(top_n=5))["symbol"].to_list() == [
        "S24", "S23", "S22", "S21", "S20"]


def card_with(records: dict[tuple[str, str], tuple[int, float]]) -> pl.DataFrame:
    """A one-session scorecard: (screener, bucket) -> (signals, expectancy)."""
    rows = [dict(date=PLAN_DAY, screener=s, score_bucket=b, regime="all", signals=n, expectancy=e)
            for (s, b), (n, e) in records.items()]
    return pl.DataFrame(rows).with_columns(pl.col("signals").cast(pl.Int64))


def test_the_plan_score_ranks_track_records_across_screeners() -> None:
    at = OPEN + dt.timedelta(minutes=30)
    rows = [sig("HOT", "orb", "long", 9.0, at), sig("GOOD", "ema_pullback", "long", 6.5, at),
            sig("NEW", "gapgo", "long", 7.0, at - dt.timedelta(minutes=70)),
            sig("THIN", "breakout", "long", 8.5, at)]
    card = card_with({("orb", "8-10"): (40, -0.5), ("ema_pullback", "6-8"): (35, 0.4), ("breakout", "8-10"): (12, 0.9)})
    out = plan(rows, at + dt.timedelta(minutes=1), scorecard=card).rows_by_key("symbol", named=True, unique=True)
    assert out["HOT"]["plan_score"] == 2.5 and out["HOT"]["composite_score"] == 9.0  # 40 signals at -0.5R
    assert out["GOOD"]["plan_score"] == 7.0 and out["GOOD"]["score_basis"] == "record: 35 signals at 6-8, E +0.4R"
    assert out["NEW"]["plan_score"] == 7.0 and out["NEW"]["score_basis"].startswith("screener score (0 of 30")
    assert out["THIN"]["plan_score"] == 8.5  # 12 signals are not enough: its own score
    ranked = plan(rows, at + dt.timedelta(minutes=1), scorecard=card)["symbol"].to_list()
    assert ranked == ["THIN", "NEW", "GOOD", "HOT"]  # NEW before GOOD on composite (7.0 vs 6.5)
    # with a longer record requirement the orb record no longer counts
    lax = plan(rows, at + dt.timedelta(minutes=1), DashboardParams(track_record_signals=50), scorecard=card)
    assert lax.filter(pl.col("symbol") == "HOT")["plan_score"].item() == 9.0


def test_confluence_counts_the_same_side_within_the_window_only() -> None:
    ten = OPEN + dt.timedelta(minutes=30)
    yesterday = calendar.previous_session(PLAN_DAY)
    rows = [
        sig("AAA", "orb", "long", 8.0, ten),  # the anchor
        sig("AAA", "gapgo", "long", 6.0, ten - dt.timedelta(minutes=50)),  # 50 min before: agrees
        sig("AAA", "exhaustion_reversal", "long", 6.0, ten + dt.timedelta(minutes=90)),  # 90 min after: not
        sig("AAA", "breakout", "long", 5.0, CLOSE),  # a daily setup, same session: agrees
        sig("AAA", "ema_pullback", "long", 5.0, calendar.session_close(yesterday), day=yesterday),  # yesterday: not
    ]
    as_of, look = CLOSE + dt.timedelta(minutes=10), DashboardParams(hours_lookback=30)  # yesterday's close in
    row = plan(rows, as_of, look).row(0, named=True)
    assert row["confluence"] == 3 and row["screeners"] == "breakout, gapgo, orb" and not row["conflict"]
    assert row["plan_score"] == 10.0 and row["composite_score"] == 10.0  # 8 + 2 agreeing
    assert "exhaustion_reversal" not in row["reasons"] and "ema_pullback" not in row["reasons"]
    wide = plan(rows, as_of, DashboardParams(hours_lookback=30, confluence_minutes=120)).row(0, named=True)
    assert wide["confluence"] == 4  # the exhaustion reversal is inside a 2-hour window
    # a short on the same symbol is a conflict on both rows, never confluence
    both = plan([*rows, sig("AAA", "orb", "short", 9.0, ten + dt.timedelta(minutes=5))], as_of, look)
    assert both["conflict"].to_list() == [True, True] and set(both["side"]) == {"long", "short"}
    assert both.filter(pl.col("side") == "long")["confluence"].item() == 3


def minutes(symbol: str, bars: list[tuple[float, float, float]], start: int, day: dt.date = PLAN_DAY) -> pl.DataFrame:
    first = calendar.session_open(day) + dt.timedelta(minutes=start)
    return pl.DataFrame(
        {"date": day, "symbol": symbol, "ts": [first + dt.timedelta(minutes=i) for i in range(len(bars))],
         "open": [b[2] for b in bars], "high": [b[0] for b in bars], "low": [b[1] for b in bars],
         "close": [b[2] for b in bars], "volume": 1000, "session": "regular"},
        schema=schemas.INTRADAY_BARS,
    )


def test_status_is_live_and_the_after_close_plan_drops_finished_intraday_trades() -> None:
    yesterday = calendar.previous_session(PLAN_DAY)
    bars = pl.concat([
        minutes("STOP", [(50.1, 49.9, 50.0), (50.2, 48.9, 49.1)], start=20),  # ORB at 09:50, stopped at 09:51
        minutes("WAIT", [(50.1, 49.0, 49.5), (49.9, 49.2, 49.6)], start=20),  # gapgo entry 50.5 never reached
        minutes("OLD", [(50.1, 49.9, 50.0), (50.2, 48.9, 49.1)], start=20, day=yesterday),  # stopped yesterday
    ])
    closes = pl.DataFrame({"date": [PLAN_DAY], "symbol": ["SWING"], "ts": [OPEN], "open": [49.0], "high": [50.5],
                           "low": [48.8], "close": [50.0], "volume": [10**6]}, schema=schemas.DAILY_BARS)
    at = OPEN + dt.timedelta(minutes=20)
    rows = [
        sig("STOP", "orb", "long", 6.0, at),
        sig("WAIT", "gapgo", "long", 7.0, at, entry=50.5, stop=48.5, target=54.5),
        sig("OLD", "orb", "long", 9.0, at - (OPEN - calendar.session_open(yesterday)), day=yesterday),
        sig("SWING", "breakout", "long", 5.0, CLOSE),  # a daily setup at today's close: entry = the close
    ]
    live = plan(rows, OPEN + dt.timedelta(hours=1), minute_bars=bars, daily=closes)
    by = live.rows_by_key("symbol", named=True, unique=True)
    assert set(by) == {"STOP", "WAIT"}  # yesterday's finished trade is gone; SWING is not signalled yet
    assert by["STOP"]["status"] == "stopped" and by["STOP"]["status_ts"] == at + dt.timedelta(minutes=1)
    assert by["WAIT"]["status"] == "pending" and by["WAIT"]["status_ts"] == at
    after = plan(rows, CLOSE + dt.timedelta(minutes=10), minute_bars=bars, daily=closes)
    assert after["symbol"].to_list() == ["SWING"]  # the day's intraday trades are finished: dropped
    assert after["status"].to_list() == ["triggered"] and after["status_ts"].to_list() == [CLOSE]


# --- `tradingstation scorecard` ---


def test_the_scorecard_command(tmp_path, monkeypatch, capsys) -> None:
    from tradingstation import cli
    from tradingstation.lake import Lake

    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    assert cli.main(["scorecard"]) == 2
    assert "holds no signal_outcomes: materialize them" in capsys.readouterr().err
    lake = Lake(str(tmp_path))
    rows = [outcome(DAYS[-10 + i], status, r) for i, (status, r) in enumerate(SEQUENCE)]
    for day, part in frame(rows).partition_by("date", as_dict=True).items():
        lake.write("signal_outcomes", day[0], part)
    assert cli.main(["scorecard", "--sessions", "60"]) == 0  # --date: the latest stored session
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"screener scorecard for the 60 session(s) {DAYS[-61]} .. {DAYS[-2]}"
    assert out[1].startswith("not enough history: 9 of the 60 sessions have signal_outcomes")
    assert out[3].split()[:9] == ["orb", "6-8", "all", "7", "6", "33", "+0.25", "+0.214", "3"]
    assert cli.main(["scorecard", "--sessions", "3", "--date", DAYS[-8].isoformat(), "--regimes"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "not enough history" not in out[1] and out[2].split()[:5] == ["orb", "6-8", "bull", "3", "3"]
    for bad in (["--sessions", "0"], ["--sessions", "x"], ["--date", "2025-11-29"]):
        assert cli.main(["scorecard", *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 or err[-1].startswith("tradingstation scorecard: error:"), err
    assert cli.main(["scorecard", "--date", DAYS[0].isoformat(), "--sessions", "1"]) == 2
    assert "no signal_outcomes in the 1 session(s)" in capsys.readouterr().err
