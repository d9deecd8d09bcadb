"""Earnings dates: the source interface, yfinance on recorded responses, the synthetic and files
sources, the anchor-session rule, the ``earnings`` asset, earnings AVWAP anchors and the plan column."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import polars as pl
import pytest
from yfinance.exceptions import YFRateLimitError

from screeners.avwap_anchors import find_anchors
from screeners.dashboard import with_upcoming_earnings
from tradingstation.assets.earnings import earnings as earnings_asset
from tradingstation.assets.earnings import known_at
from tradingstation.assets.signals import earnings_anchors
from tradingstation.assets.universe import universe as universe_asset
from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.resources.lake_io import LakeIOManager, LakeResource
from tradingstation.resources.sources import EarningsResult, FetchResult, MarketDataSource
from tradingstation.resources.sources.base import earnings_sessions
from tradingstation.resources.sources.files_source import FilesSource, MalformedFileError
from tradingstation.resources.sources.synthetic_source import SyntheticSource
from tradingstation.resources.sources.yfinance_source import (
    YFinanceSource,
    earnings_frame_to_events,
    earnings_limit,
)

from conftest import REAL_DATA

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import yfinance_recordings as rec  # noqa: E402

YEAR = (dt.date(2025, 1, 1), dt.date(2026, 6, 30))
NOW = dt.datetime(2025, 11, 25, 12, 0, tzinfo=dt.timezone.utc)


class Replay:
    """The earnings hook: each Yahoo ticker's recording (SPY: Yahoo lists none), calls recorded."""

    def __init__(self, fail: dict[str, list[Exception]] | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail = fail or {}

    def __call__(self, ticker: str, limit: int) -> pd.DataFrame | None:
        self.calls.append((ticker, limit))
        if self.fail.get(ticker):
            raise self.fail[ticker].pop(0)
        name = {"AAPL": "earnings_aapl", "JPM": "earnings_jpm", "BRK-B": "earnings_aapl"}.get(ticker, "earnings_none")
        return rec.load(name)


def yahoo(hook: Replay, **config) -> YFinanceSource:
    sleeps: list[float] = []
    src = YFinanceSource.with_hooks(download=lambda *a, **k: None, earnings_dates=hook, sleep=sleeps.append,
                                    now=lambda: NOW, requests_per_minute=0, **config)
    src._sleeps = sleeps  # type: ignore[attr-defined]
    return src


# --- the recordings are what the installed yfinance returns ----------------------------------------


@pytest.mark.parametrize("name", list(rec.EARNINGS_SCENARIOS))
def test_earnings_recordings_match_installed_yfinance(name: str) -> None:
    fresh, stored = rec.record_earnings(name), rec.load(name)
    if stored is None:
        assert fresh is None  # no table on Yahoo's page: yfinance returns None, not an empty frame
    else:
        pd.testing.assert_frame_equal(fresh, stored)


def test_recorded_earnings_shape_is_yfinances() -> None:
    frame = rec.load("earnings_aapl")
    assert frame.index.name == "Earnings Date" and str(frame.index.tz) == "America/New_York"
    assert list(frame.columns) == ["EPS Estimate", "Reported EPS", "Surprise(%)"]
    assert frame["Reported EPS"].isna().sum() == 1  # the scheduled report has no result yet
    assert rec.load("earnings_none") is None


# --- yfinance source -----------------------------------------------------------------------------------


def test_yfinance_earnings_timing_session_and_figures() -> None:
    hook = Replay()
    got = yahoo(hook).earnings(["AAPL", "JPM"], *YEAR)
    assert got.available and not got.failures
    aapl = got.events.filter(pl.col("symbol") == "AAPL").sort("report_date")
    assert aapl["timing"].unique().to_list() == ["after_close"]  # 4 PM: trades on the next session
    oct30 = aapl.filter(pl.col("report_date") == dt.date(2025, 10, 30)).row(0, named=True)
    assert oct30["session"] == dt.date(2025, 10, 31) and oct30["reported_eps"] == 1.85
    assert oct30["report_ts"] == dt.datetime(2025, 10, 30, 20, 0, tzinfo=dt.timezone.utc)
    assert oct30["eps_estimate"] == 1.77 and oct30["surprise_pct"] == 4.52
    jan = aapl.filter(pl.col("report_date") == dt.date(2026, 1, 29)).row(0, named=True)
    assert jan["reported_eps"] is None and jan["session"] == dt.date(2026, 1, 30)
    jpm = got.events.filter(pl.col("symbol") == "JPM").sort("report_date")
    assert jpm["timing"].to_list() == ["before_open", "before_open", "unknown"]  # 7 AM, 7 AM, midnight
    assert jpm["session"].to_list()[:2] == jpm["report_date"].to_list()[:2]  # before the open: the same session
    assert jpm["report_ts"][2] is None  # Yahoo's midnight is no announced time
    assert got.events.schema == schemas.EARNINGS_EVENTS


def test_yfinance_earnings_range_symbols_and_failures() -> None:
    hook = Replay()
    got = yahoo(hook).earnings(["AAPL", "BRK.B", "SPY", "not a ticker"], dt.date(2025, 5, 1), dt.date(2025, 7, 31))
    assert sorted(got.events["report_date"].unique().to_list()) == [dt.date(2025, 5, 1), dt.date(2025, 7, 31)]
    assert set(got.events["symbol"]) == {"AAPL", "BRK.B"}  # canonical out, Yahoo's dash on the wire
    assert ("BRK-B", earnings_limit(dt.date(2025, 5, 1), NOW.date())) in hook.calls
    assert "no earnings dates" in got.failures["SPY"] and "not a ticker" in got.failures
    assert len(hook.calls) == 3  # the invalid ticker is never asked for


def test_yfinance_earnings_rate_limit_retried_then_given_up() -> None:
    hook = Replay(fail={"AAPL": [YFRateLimitError(), YFRateLimitError()], "JPM": [YFRateLimitError()] * 3})
    src = yahoo(hook, max_retries=2, backoff_seconds=1.0)
    got = src.earnings(["AAPL", "JPM"], *YEAR)
    assert set(got.events["symbol"]) == {"AAPL"}  # two 429s, then served
    assert "rate-limited" in got.failures["JPM"] and "after 2 retries" in got.failures["JPM"]
    assert len(src._sleeps) == 4 and src._sleeps[1] > src._sleeps[0]  # growing backoff, for each symbol


def test_yfinance_earnings_other_errors_fail_the_symbol_only() -> None:
    hook = Replay(fail={"AAPL": [ValueError("garbled page")]})
    got = yahoo(hook).earnings(["AAPL", "JPM"], *YEAR)
    assert "garbled page" in got.failures["AAPL"] and set(got.events["symbol"]) == {"JPM"}


def test_earnings_limit_covers_the_range_and_yahoos_cap() -> None:
    today = dt.date(2025, 11, 25)
    assert earnings_limit(today, today) == 7  # a year ahead (5 quarters) and two spare
    assert earnings_limit(dt.date(2024, 11, 25), today) == 11
    assert earnings_limit(dt.date(1995, 1, 1), today) == 100


def test_an_unexpected_frame_is_converted_or_empty() -> None:
    assert earnings_frame_to_events(None, "X").is_empty()
    naive = rec.load("earnings_aapl").tz_localize(None)  # a naive index is New York time
    events = earnings_frame_to_events(naive, "AAPL")
    assert events["report_ts"][1] == dt.datetime(2025, 10, 30, 20, 0, tzinfo=dt.timezone.utc)


# --- the rule, the other sources --------------------------------------------------------------------------


def test_anchor_session_rule_weekends_and_holidays() -> None:
    events = pl.DataFrame({
        "symbol": ["A", "B", "C", "D"],
        "report_date": [dt.date(2025, 11, 21), dt.date(2025, 11, 27), dt.date(2025, 11, 26), dt.date(2025, 11, 22)],
        "timing": ["after_close", "before_open", "after_close", "unknown"],
    })
    got = dict(earnings_sessions(events).select("symbol", "session").iter_rows())
    assert got == {"A": dt.date(2025, 11, 24),  # Friday after the close: Monday
                   "B": dt.date(2025, 11, 28),  # Thanksgiving before the open: the next session
                   "C": dt.date(2025, 11, 28),  # the day before Thanksgiving after the close
                   "D": dt.date(2025, 11, 24)}  # a Saturday


def test_synthetic_earnings_are_quarterly_deterministic_and_range_independent() -> None:
    src = SyntheticSource(seed=7)
    year = src.earnings(["AAPL", "NVDA", "XOM"], dt.date(2024, 1, 1), dt.date(2025, 12, 31)).events
    assert year.height == 3 * 8 and year.equals(SyntheticSource(seed=7).earnings(
        ["AAPL", "NVDA", "XOM"], dt.date(2024, 1, 1), dt.date(2025, 12, 31)).events)
    gaps = year.sort("symbol", "report_date").select(pl.col("report_date").diff().over("symbol").dt.total_days())
    assert set(gaps.drop_nulls().to_series()) <= {90, 91, 92}  # 65 weekdays, rolled off weekends
    part = src.earnings(["NVDA"], dt.date(2025, 3, 1), dt.date(2025, 9, 30)).events
    assert part.equals(year.filter((pl.col("symbol") == "NVDA") & pl.col("report_date").is_between(
        dt.date(2025, 3, 1), dt.date(2025, 9, 30))))  # a report does not depend on the range asked
    other = SyntheticSource(seed=8).earnings(["AAPL", "NVDA", "XOM"], dt.date(2024, 1, 1), dt.date(2025, 12, 31))
    assert not other.events["report_date"].equals(year["report_date"])
    assert set(year["timing"]) <= {"before_open", "after_close"} and year["session"].null_count() == 0
    future = src.earnings(["AAPL"], calendar.today_ny() + dt.timedelta(days=1),
                          calendar.today_ny() + dt.timedelta(days=120)).events
    assert future.height >= 1 and future["reported_eps"].null_count() == future.height  # not reported yet


def test_files_source_reads_an_optional_earnings_file(tmp_path: Path) -> None:
    bars = REAL_DATA / "yahoofinance-AAPL-20040819-20180120.csv"
    (tmp_path / bars.name).write_bytes(bars.read_bytes())
    src = FilesSource(path=str(tmp_path))
    none = src.earnings(["AAPL"], dt.date(2017, 1, 1), dt.date(2017, 12, 31))
    assert not none.available and none.events.is_empty() and "no earnings.csv" in none.notes[0]
    (tmp_path / "earnings.csv").write_text(
        "symbol,date,time,timing,eps_estimate\nAAPL,11/2/2017,16:30,,2.02\nAAPL,2017-08-01,,amc,1.57\n"
        "AAPL,2016-10-25,07:00,,1.65\n")
    src = FilesSource(path=str(tmp_path))
    got = src.earnings(["AAPL"], dt.date(2017, 1, 1), dt.date(2017, 12, 31))
    assert got.available and got.events["report_date"].to_list() == [dt.date(2017, 8, 1), dt.date(2017, 11, 2)]
    assert got.events["timing"].to_list() == ["after_close", "unknown"]  # a timing word; a blank one: unknown
    assert got.events["session"].to_list() == [dt.date(2017, 8, 2), dt.date(2017, 11, 2)]
    assert src.known_symbols() == ["AAPL"]  # the earnings file is never read as bars


def test_files_source_names_a_malformed_earnings_file(tmp_path: Path) -> None:
    (tmp_path / "earnings.csv").write_text("ticker,when\nAAPL,2017-08-01\n")
    with pytest.raises(MalformedFileError, match="earnings.csv: an earnings file needs columns symbol and date"):
        FilesSource(path=str(tmp_path)).earnings(["AAPL"], dt.date(2017, 1, 1), dt.date(2017, 12, 31))
    (tmp_path / "earnings.csv").write_text("symbol,date,timing\nAAPL,2017-08-01,tonight\n")
    with pytest.raises(MalformedFileError, match="unknown timing 'tonight'"):
        FilesSource(path=str(tmp_path)).earnings(["AAPL"], dt.date(2017, 1, 1), dt.date(2017, 12, 31))


def test_a_source_without_earnings_says_so() -> None:
    class BarsOnly(MarketDataSource):
        def _fetch(self, symbols, interval, start, end) -> FetchResult:
            return FetchResult.empty()

    got = BarsOnly().earnings(["AAPL"], *YEAR)
    assert isinstance(got, EarningsResult) and not got.available and "no earnings dates" in got.notes[0]


# --- what the premarket knows, the anchors, the plan ---------------------------------------------------------


def _events(*rows: tuple[str, dt.date, str]) -> pl.DataFrame:
    raw = pl.DataFrame([{"symbol": s, "report_date": d, "timing": t, "reported_eps": 1.0, "surprise_pct": 5.0}
                        for s, d, t in rows])
    return earnings_sessions(raw).select(
        pl.col(c).cast(t) if c in raw.columns or c == "session" else pl.lit(None, t).alias(c)
        for c, t in schemas.EARNINGS_EVENTS.items())


def test_a_partition_holds_what_its_premarket_knew() -> None:
    day = dt.date(2025, 11, 25)
    events = _events(("A", dt.date(2025, 11, 20), "after_close"), ("A", dt.date(2025, 11, 25), "before_open"),
                     ("A", dt.date(2026, 3, 1), "after_close"), ("B", dt.date(2025, 5, 1), "after_close"),
                     ("C", dt.date(2025, 11, 20), "after_close"))
    allowed = pl.DataFrame({"date": [day, day], "symbol": ["A", "B"]}, schema={"date": pl.Date, "symbol": pl.String})
    out = known_at(events, allowed)
    assert out.schema == schemas.EARNINGS and set(out["symbol"]) == {"A"}  # C: not in the universe; B: too old
    assert out["report_date"].to_list() == [dt.date(2025, 11, 20), dt.date(2025, 11, 25)]  # March: beyond 45 days
    assert out["reported_eps"].to_list() == [1.0, None]  # the report of the day itself is not known yet


def _daily(symbol: str, days: list[dt.date], volume: list[int] | None = None) -> pl.DataFrame:
    n = len(days)
    closes = [100.0 + i for i in range(n)]
    return pl.DataFrame(
        {"date": days, "symbol": symbol, "ts": [calendar.session_open(d) for d in days], "open": closes,
         "high": [c + 1 for c in closes], "low": [c - 1 for c in closes], "close": closes,
         "volume": volume or [1000] * n}, schema=schemas.DAILY_BARS)


def test_earnings_sessions_become_anchors_with_their_avwap() -> None:
    days = calendar.sessions_before(dt.date(2025, 11, 25), 60)
    daily = _daily("A", days)
    report = days[-5]
    marks = _events(("A", report, "before_open"), ("A", dt.date(2025, 12, 2), "after_close")).select(
        "symbol", date="session")
    found = find_anchors(daily, as_of=days[-1], earnings=marks).filter(pl.col("anchor_type") == "earnings")
    assert found["anchor_date"].to_list() == [report]  # the scheduled one after as_of anchors nothing
    window = daily.filter(pl.col("date") >= report)
    typical = (window["high"] + window["low"] + window["close"]) / 3
    assert found["avwap"][0] == pytest.approx((typical * window["volume"]).sum() / window["volume"].sum())


def test_upcoming_earnings_column_within_ten_sessions() -> None:
    day = dt.date(2025, 11, 25)
    tenth = calendar.sessions_in_range(day, dt.date(2025, 12, 31))[10]
    events = known_at(_events(
        ("A", dt.date(2025, 11, 25), "after_close"),  # tonight: trades tomorrow
        ("A", dt.date(2025, 12, 5), "before_open"),  # later: the first one is shown
        ("B", tenth, "before_open"),  # the 10th session ahead: in
        ("C", calendar.next_session(tenth), "before_open"),  # the 11th: out
        ("D", dt.date(2025, 11, 24), "after_close"),  # last night's report trades today: shown
        ("E", dt.date(2025, 11, 24), "before_open"),  # yesterday's session traded it: past
    ), pl.DataFrame({"date": [day] * 5, "symbol": ["A", "B", "C", "D", "E"]},
                    schema={"date": pl.Date, "symbol": pl.String}))
    rows = pl.DataFrame({"symbol": ["A", "B", "C", "D", "E", "F"], "side": ["long"] * 6})
    out = with_upcoming_earnings(rows, events, day, 10)
    assert out["next_earnings"].to_list() == [dt.date(2025, 11, 25), tenth, None, dt.date(2025, 11, 24), None, None]
    assert out["earnings_timing"].to_list()[:2] == ["after_close", "before_open"]
    assert out["symbol"].to_list() == rows["symbol"].to_list()  # row order kept
    assert with_upcoming_earnings(rows, None, day, 10)["next_earnings"].null_count() == 6


# --- the asset --------------------------------------------------------------------------------------------------

SESSION = "2025-11-25"
EXPLICIT = {"ops": {"universe": {"config": {"list_name": "explicit", "symbols": ["AAPL", "MSFT", "NVDA", "JPM"]}}}}


class CountingSynthetic(SyntheticSource):
    def _earnings(self, symbols, start, end) -> EarningsResult:
        CALLS.append(list(symbols))
        return super()._earnings(symbols, start, end)


CALLS: list[list[str]] = []


def _resources(root: Path, source: MarketDataSource) -> dict:
    lake = LakeResource(root=str(root))
    return {"source": source, "lake": lake, "io_manager": LakeIOManager(lake=lake)}


def test_earnings_asset_writes_the_universes_reports_then_reuses_them(tmp_path: Path) -> None:
    CALLS.clear()
    res = _resources(tmp_path, CountingSynthetic())
    first = dg.materialize([universe_asset, earnings_asset], partition_key=SESSION, resources=res, run_config=EXPLICIT)
    assert first.success and len(CALLS) == 1
    lake = Lake(str(tmp_path))
    stored = lake.read("earnings", sessions=[SESSION])
    included = set(lake.read("universe").filter("included")["symbol"])
    assert stored.height and set(stored["symbol"]) <= included and stored.schema == schemas.EARNINGS
    assert (stored.filter(pl.col("report_date") >= dt.date(2025, 11, 25))["reported_eps"].null_count()
            == stored.filter(pl.col("report_date") >= dt.date(2025, 11, 25)).height)
    again = dg.materialize([universe_asset, earnings_asset], partition_key=SESSION, resources=res,
                           selection=["earnings"])
    assert again.success and len(CALLS) == 1  # the session was already fetched: no second call
    assert lake.read("earnings", sessions=[SESSION]).equals(stored)
    refresh = {"ops": {"earnings": {"config": {"refresh": True}}}}
    assert dg.materialize([universe_asset, earnings_asset], partition_key=SESSION, resources=res,
                          selection=["earnings"], run_config=refresh).success
    assert len(CALLS) == 2  # asked to: fetched again
    anchors = earnings_anchors(LakeResource(root=str(tmp_path)), [calendar.session(SESSION)])
    assert anchors.height == stored.height and set(anchors.columns) == {"symbol", "date"}


def test_earnings_asset_with_a_source_that_has_none(tmp_path: Path) -> None:
    res = _resources(tmp_path, FilesSource(path=str(REAL_DATA)))
    day = "2017-12-29"
    result = dg.materialize([universe_asset, earnings_asset], partition_key=day, resources=res)
    assert result.success
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == "earnings"]
    meta = {k: v.value for k, v in events[-1].event_specific_data.materialization.metadata.items()}
    assert meta["available"] is False and "no earnings.csv" in meta["notes"]
    assert Lake(str(tmp_path)).read("earnings", sessions=[day]).is_empty()  # ran, found nothing: an empty file
    assert earnings_anchors(LakeResource(root=str(tmp_path)), [dt.date(2017, 12, 28)]).is_empty()  # never written
