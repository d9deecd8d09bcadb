"""YFinanceSource, offline: recorded yfinance frames, fake download / sleep / clock."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from yfinance.exceptions import YFRateLimitError

from tradingstation.core import schemas
from tradingstation.core.errors import SourceLimitError
from tradingstation.resources.sources.yfinance_source import YFinanceSource

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
import yfinance_recordings as rec  # noqa: E402

UTC = dt.timezone.utc
MAR4, MAR8 = dt.date(2024, 3, 4), dt.date(2024, 3, 8)


class FakeClock:
    """A clock that only moves when something sleeps on it."""

    def __init__(self, now: dt.datetime = rec.NOW) -> None:
        self.t, self.sleeps = now, []

    def now(self) -> dt.datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += dt.timedelta(seconds=seconds)


class FakeDownload:
    """Records each call (tickers, kwargs, time); answers with ``respond(tickers, kwargs)``."""

    def __init__(self, respond, clock: FakeClock | None = None) -> None:
        self.respond, self.clock, self.calls = respond, clock, []

    def __call__(self, tickers, **kwargs) -> pd.DataFrame:
        self.calls.append((list(tickers), kwargs, self.clock.now() if self.clock else None))
        return self.respond(list(tickers), kwargs)


def shaped_like_yfinance(tickers: list[str]) -> pd.DataFrame:
    """Recorded AAPL daily bars under other tickers, joined the way yfinance.multi joins them."""
    one = rec.load("daily_with_invalid").xs("AAPL", level="Ticker", axis=1)
    frame = pd.concat({t: one for t in tickers}, axis=1, names=["Ticker", "Price"])
    return frame.swaplevel(0, 1, axis=1).sort_index(axis=1, level=0)


def source(download, clock: FakeClock | None = None, **config) -> YFinanceSource:
    clock = clock or FakeClock()
    config.setdefault("requests_per_minute", 0)  # no limiter unless tested
    return YFinanceSource.with_hooks(download=download, sleep=clock.sleep, now=clock.now, **config)


def replay(name: str) -> FakeDownload:
    return FakeDownload(lambda tickers, kwargs: rec.load(name))


# --- recordings are what the installed yfinance returns -----------------------------------


@pytest.mark.parametrize("name", list(rec.SCENARIOS))
def test_recordings_match_installed_yfinance(name: str) -> None:
    fresh, stored = rec.record(name), rec.load(name)
    pd.testing.assert_frame_equal(fresh, stored)
    assert fresh.attrs == stored.attrs
    assert fresh.columns.names == ["Price", "Ticker"]


def test_recorded_shapes() -> None:
    daily, minute = rec.load("daily_with_invalid"), rec.load("minute_prepost")
    assert daily.index.name == "Date" and daily.index.tz is None  # ignore_tz: naive exchange dates
    assert minute.index.name == "Datetime" and str(minute.index.tz) == "America/New_York"
    assert ("Adj Close", rec.INVALID) in daily.columns  # an invalid ticker brings yfinance's empty_df columns
    assert daily["Close"][rec.INVALID].isna().all()


# --- conversion ----------------------------------------------------------------------------


def test_daily_conversion_values_ts_and_canonical_symbols() -> None:
    fake = replay("daily_with_invalid")
    result = source(fake).fetch(["AAPL", "brk.b", "MSFT"], "1d", MAR4, MAR8)
    assert fake.calls[0][0] == ["AAPL", "BRK-B", "MSFT"]  # Yahoo spelling on the way out
    assert fake.calls[0][1]["end"] == "2024-03-09"  # yfinance's end is exclusive
    bars = result.bars
    assert bars.schema == schemas.RAW_BARS
    assert set(bars["symbol"]) == {"AAPL", "BRK.B", "MSFT"}
    row = bars.filter(symbol="AAPL", ts=dt.datetime(2024, 3, 4, 14, 30, tzinfo=UTC))  # 09:30 New York
    assert row["close"].item() == pytest.approx(174.50)  # auto-adjusted close
    assert row["open"].item() == pytest.approx(176.15 * 174.50 / 175.10)
    assert row["volume"].item() == 81510100.0
    assert bars.filter(symbol="BRK.B")["close"].to_list()[:2] == [416.10, 410.00]


def test_all_nan_rows_dropped_partial_nan_rows_kept() -> None:
    bars = source(replay("daily_with_invalid")).fetch(["AAPL", "BRK.B", "MSFT"], "1d", MAR4, MAR8).bars
    mar6 = bars.filter(pl.col("ts").dt.date() == dt.date(2024, 3, 6))
    assert sorted(mar6["symbol"]) == ["AAPL", "BRK.B"]  # MSFT's all-NaN alignment row is gone
    aapl = mar6.filter(symbol="AAPL").row(0, named=True)
    assert aapl["high"] is None and aapl["low"] == pytest.approx(168.49 * 168.54 / 169.12)
    brk = mar6.filter(symbol="BRK.B").row(0, named=True)
    assert brk["close"] is None and brk["volume"] == 1200.0
    assert bars.height == 14
    quarantined = schemas.validate_bars(bars, intraday=False).quarantined_by_reason
    assert quarantined == {"missing price or volume": 2}


def test_invalid_ticker_is_a_failure_while_others_succeed() -> None:
    symbols = ["AAPL", "BRK.B", "MSFT", rec.INVALID]
    result = source(replay("daily_with_invalid")).fetch(symbols, "1d", MAR4, MAR8)
    assert set(result.failures) == {rec.INVALID}
    assert result.failures[rec.INVALID].startswith("no data returned by Yahoo: ")
    assert "possibly delisted" in result.failures[rec.INVALID]  # yfinance's own reason, kept
    assert set(result.bars["symbol"]) == {"AAPL", "BRK.B", "MSFT"}


def test_only_invalid_ticker_gives_empty_bars_and_failure() -> None:
    result = source(replay("daily_all_invalid")).fetch([rec.INVALID], "1d", MAR4, MAR8)
    assert result.bars.is_empty() and result.bars.schema == schemas.RAW_BARS
    assert "no data returned by Yahoo" in result.failures[rec.INVALID]


def test_minute_bars_in_utc_with_pre_and_post_market() -> None:
    fake = replay("minute_prepost")
    bars = source(fake).fetch(["AAPL", "BRK.B"], "1m", MAR8, MAR8).bars
    assert fake.calls[0][1]["prepost"] is True and fake.calls[0][1]["interval"] == "1m"
    assert bars.schema["ts"] == pl.Datetime("us", "UTC")
    aapl = bars.filter(symbol="AAPL")["ts"].to_list()
    assert aapl[0] == dt.datetime(2024, 3, 8, 9, 0, tzinfo=UTC)  # 04:00 EST
    assert aapl[-1] == dt.datetime(2024, 3, 8, 21, 1, tzinfo=UTC)  # 16:01 EST
    assert bars.filter(symbol="BRK.B").height == 7  # its first minute was an alignment row
    sessions = schemas.validate_bars(bars, intraday=True).bars.group_by("session").len()
    assert dict(sessions.iter_rows()) == {"pre": 5, "regular": 6, "post": 4}


# --- chunking, retries, rate limiting ----------------------------------------------------------


def test_chunking_250_symbols_in_3_calls() -> None:
    symbols = [f"S{i:03d}" for i in range(249)] + ["BRK.B"]
    fake = FakeDownload(lambda tickers, kwargs: shaped_like_yfinance(tickers))
    result = source(fake, chunk_size=100).fetch(symbols, "1d", MAR4, MAR8)
    assert [len(c[0]) for c in fake.calls] == [100, 100, 50]
    assert "BRK-B" in fake.calls[2][0]
    assert result.failures == {} and set(result.bars["symbol"]) == set(symbols)
    assert result.bars.height == 250 * 5


def test_rate_limit_retried_with_growing_backoff() -> None:
    attempts = []

    def flaky(tickers, kwargs):
        attempts.append(1)
        if len(attempts) <= 2:
            raise YFRateLimitError()
        return rec.load("daily_with_invalid")

    clock = FakeClock()
    result = source(FakeDownload(flaky), clock, backoff_seconds=2.0).fetch(["AAPL"], "1d", MAR4, MAR8)
    assert len(attempts) == 3 and result.failures == {}
    assert len(clock.sleeps) == 2 and 2.0 <= clock.sleeps[0] < clock.sleeps[1] and clock.sleeps[1] >= 4.0
    assert "2 rate-limit retries" in result.notes[0]


def test_http_429_is_a_rate_limit_too() -> None:
    class HTTPError(Exception):
        response = type("R", (), {"status_code": 429})()

    attempts = []

    def flaky(tickers, kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise HTTPError("boom")
        return rec.load("daily_with_invalid")

    result = source(FakeDownload(flaky)).fetch(["AAPL"], "1d", MAR4, MAR8)
    assert len(attempts) == 2 and result.failures == {}


def test_rate_limit_gives_up_after_max_retries_without_sinking_other_chunks() -> None:
    def throttled_aapl(tickers, kwargs):
        if "AAPL" in tickers:
            raise YFRateLimitError()
        return shaped_like_yfinance(tickers)

    clock = FakeClock()
    fake = FakeDownload(throttled_aapl)
    result = source(fake, clock, chunk_size=1, max_retries=3).fetch(["AAPL", "MSFT"], "1d", MAR4, MAR8)
    assert len(fake.calls) == 4 + 1  # 1 + 3 retries for AAPL, one call for MSFT
    assert len(clock.sleeps) == 3
    assert "rate-limited" in result.failures["AAPL"] and "3 retries" in result.failures["AAPL"]
    assert set(result.bars["symbol"]) == {"MSFT"}
    assert "3 rate-limit retries" in result.notes[0]


def test_other_errors_fail_their_chunk_without_retry() -> None:
    def broken_first(tickers, kwargs):
        if "AAPL" in tickers:
            raise ValueError("Yahoo sent garbage")
        return shaped_like_yfinance(tickers)

    clock = FakeClock()
    result = source(FakeDownload(broken_first), clock, chunk_size=1).fetch(["AAPL", "MSFT"], "1d", MAR4, MAR8)
    assert "Yahoo sent garbage" in result.failures["AAPL"]
    assert set(result.bars["symbol"]) == {"MSFT"} and clock.sleeps == []


def test_rate_limiter_spaces_calls_across_fetches() -> None:
    clock = FakeClock()
    fake = FakeDownload(lambda tickers, kwargs: shaped_like_yfinance(tickers), clock)
    src = source(fake, clock, chunk_size=1, requests_per_minute=30)  # one call per 2 s
    src.fetch(["A", "B", "C"], "1d", MAR4, MAR8)
    src.fetch(["D"], "1d", MAR4, MAR8)  # same instance: shares the limiter
    times = [c[2] for c in fake.calls]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    assert gaps == [2.0, 2.0, 2.0] and clock.sleeps == [2.0, 2.0, 2.0]


def test_compact_mode_smaller_chunks_no_threads_slower() -> None:
    clock = FakeClock()
    fake = FakeDownload(lambda tickers, kwargs: shaped_like_yfinance(tickers), clock)
    src = source(fake, clock, chunk_size=100, compact=True, requests_per_minute=60)
    src.fetch([f"S{i}" for i in range(50)], "1d", MAR4, MAR8)
    assert [len(c[0]) for c in fake.calls] == [20, 20, 10]
    assert all(c[1]["threads"] is False for c in fake.calls)
    assert clock.sleeps == [3.0, 3.0]  # 20 calls per minute
    normal = FakeDownload(lambda tickers, kwargs: shaped_like_yfinance(tickers))
    source(normal, chunk_size=100).fetch([f"S{i}" for i in range(50)], "1d", MAR4, MAR8)
    assert len(normal.calls) == 1 and normal.calls[0][1]["threads"] is True


def test_default_hook_retries_yahoo_429_seen_through_yfinance() -> None:
    """yfinance 1.7 swallows rate limits inside download(); the default hook must surface them."""
    bars, (symbols, interval, start, end) = rec.SCENARIOS["daily_with_invalid"]
    clock = FakeClock()
    src = YFinanceSource.with_hooks(sleep=clock.sleep, now=clock.now, requests_per_minute=0)
    with rec.fake_yahoo(bars, interval, rate_limited=2):
        result = src.fetch(["AAPL", "MSFT"], interval, start, end)
    assert result.failures == {} and set(result.bars["symbol"]) == {"AAPL", "MSFT"}
    assert len(clock.sleeps) == 1 and "1 rate-limit retry" in result.notes[0]


# --- Yahoo's limits ------------------------------------------------------------------------


def test_one_minute_older_than_30_days_is_refused() -> None:
    fake = replay("minute_prepost")
    now = dt.datetime(2024, 4, 10, 15, 0, tzinfo=UTC)
    src = source(fake, FakeClock(now))
    with pytest.raises(SourceLimitError, match=r"1m bars only for the last 30 days: start 2024-03-08"):
        src.fetch(["AAPL"], "1m", MAR8, MAR8)
    assert fake.calls == []
    src.fetch(["AAPL"], "1m", dt.date(2024, 3, 12), dt.date(2024, 3, 12))  # 29 days back: fine


def test_thirty_minute_older_than_60_days_is_refused_daily_never() -> None:
    now = dt.datetime(2024, 5, 10, 15, 0, tzinfo=UTC)
    src = source(replay("daily_with_invalid"), FakeClock(now))
    with pytest.raises(SourceLimitError, match=r"30m bars only for the last 60 days"):
        src.fetch(["AAPL"], "30m", MAR8, MAR8)
    src.fetch(["AAPL"], "30m", dt.date(2024, 3, 12), dt.date(2024, 3, 12))
    src.fetch(["AAPL"], "1d", dt.date(2004, 3, 8), MAR8)


def test_long_one_minute_range_split_into_8_day_requests() -> None:
    fake = replay("minute_prepost")
    now = dt.datetime(2024, 3, 30, 15, 0, tzinfo=UTC)
    src = source(fake, FakeClock(now))
    result = src.fetch(["AAPL", "BRK.B"], "1m", dt.date(2024, 3, 4), dt.date(2024, 3, 22))
    spans = [(dt.date.fromisoformat(k["start"]), dt.date.fromisoformat(k["end"])) for _, k, _ in fake.calls]
    assert spans[0][0] == dt.date(2024, 3, 4) and spans[-1][1] == dt.date(2024, 3, 23)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # contiguous, no gaps or overlaps
    assert all((hi - lo).days <= 8 for lo, hi in spans) and len(spans) == 3
    assert "3 window(s)" in result.notes[0]


def test_invalid_tickers_are_failures_not_requests() -> None:
    fake = replay("daily_with_invalid")
    result = source(fake).fetch(["../x", "AAPL"], "1d", MAR4, MAR8)
    assert "../x" in result.failures and "path separator" in result.failures["../x"]
    assert fake.calls[0][0] == ["AAPL"]


def test_hooks_survive_dagster_resource_initialisation() -> None:
    """Dagster rebuilds resources from config at run time; the fakes must not be lost (no network)."""
    import dagster as dg

    fake = FakeDownload(lambda tickers, kwargs: shaped_like_yfinance(tickers))
    src = source(fake)

    @dg.asset
    def bars(src: YFinanceSource) -> int:
        return src.fetch(["AAPL"], "1d", MAR4, MAR8).bars.height

    result = dg.materialize([bars], resources={"src": src})
    assert result.output_for_node("bars") == 5 and len(fake.calls) == 1
