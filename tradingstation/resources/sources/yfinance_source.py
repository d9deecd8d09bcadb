"""The production market-data source: Yahoo Finance through yfinance's multi-ticker download.

Yahoo throttles hard and serves intraday history only for recent sessions, so this source
downloads in chunks, spaces its calls (a limiter shared by every call of the instance),
retries rate limits with exponential backoff, and refuses requests Yahoo cannot serve with a
SourceLimitError instead of returning an empty frame. Yahoo writes class shares with a dash
(BRK-B); symbols go out that way and come back canonical (BRK.B).

Earnings dates come from ``yf.Ticker(t).get_earnings_dates(limit=...)``: one call per ticker (Yahoo
has no multi-ticker earnings call), through the same limiter and rate-limit retries. yfinance 1.7
returns a frame indexed by a tz-aware ``Earnings Date`` (New York) with ``EPS Estimate``,
``Reported EPS`` and ``Surprise(%)``, or None when Yahoo lists none (ETFs, unknown tickers):
such a symbol is named in ``failures``. Yahoo writes an unconfirmed time as midnight: timing unknown.

(About 340 lines: bars and earnings share the limiter, the retry rule and the ticker mapping here.)

Longer than ~300 lines: Yahoo's limits, chunking, rate limiting, retries and the earnings calls are one client.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import polars as pl
from pydantic import Field, PrivateAttr

from tradingstation.core import calendar, schemas
from tradingstation.core.errors import SourceLimitError
from tradingstation.resources.sources.base import (
    EarningsResult,
    FetchResult,
    Interval,
    MarketDataSource,
    daily_ts,
)

DownloadFn = Callable[..., pd.DataFrame]
EarningsFn = Callable[[str, int], "pd.DataFrame | None"]  # (Yahoo ticker, limit) -> get_earnings_dates()
Window = tuple[dt.date, dt.date]  # a yfinance request range: start inclusive, end exclusive
PRICES = ("Open", "High", "Low", "Close", "Volume")
# Yahoo's intraday history: how far back a request may start, and how long one request may be.
HISTORY_DAYS = {Interval.MINUTE_1: 30, Interval.MINUTE_30: 60}
MAX_REQUEST_DAYS = {Interval.MINUTE_1: 8}
COMPACT_CHUNK_SIZE = 20
COMPACT_REQUESTS_PER_MINUTE = 20.0
EARNINGS_COLUMNS = {"EPS Estimate": "eps_estimate", "Reported EPS": "reported_eps", "Surprise(%)": "surprise_pct"}
MAX_EARNINGS_LIMIT = 100  # yfinance refuses more


def yahoo_earnings_dates(ticker: str, limit: int) -> pd.DataFrame | None:
    """``yf.Ticker(ticker).get_earnings_dates(limit=limit)``: the production earnings hook."""
    import yfinance as yf

    return yf.Ticker(ticker).get_earnings_dates(limit=limit)


def earnings_limit(start: dt.date, today: dt.date) -> int:
    """Rows to ask for: every quarter from ``start`` to a year after ``today`` (Yahoo lists the
    scheduled reports first), two spare, at most yfinance's 100."""
    quarters = -(-((today - start).days + 366) // 91)
    return max(4, min(MAX_EARNINGS_LIMIT, quarters + 2))


def earnings_frame_to_events(frame: pd.DataFrame | None, symbol: str) -> pl.DataFrame:
    """A ``get_earnings_dates`` frame as ``schemas.EARNINGS_EVENTS`` columns (before ``conform_earnings``):
    ``report_ts`` from the tz-aware index (UTC), ``report_date`` its New York date, the EPS columns."""
    if frame is None or frame.empty:
        return pl.DataFrame(schema={"symbol": pl.String, "report_date": pl.Date, "report_ts": schemas.TS})
    index = pd.DatetimeIndex(frame.index)
    index = index.tz_convert(calendar.NY_TZ) if index.tz is not None else index.tz_localize(calendar.NY_TZ)
    table = pd.DataFrame({new: pd.to_numeric(frame[old], errors="coerce") if old in frame.columns else float("nan")
                          for old, new in EARNINGS_COLUMNS.items()})
    table["report_ts"] = index.tz_convert("UTC")
    table = table.reset_index(drop=True)
    out = pl.from_pandas(table).with_columns(pl.col(c).fill_nan(None) for c in EARNINGS_COLUMNS.values())
    return out.with_columns(
        symbol=pl.lit(symbol),
        report_ts=pl.col("report_ts").dt.convert_time_zone("UTC").dt.cast_time_unit("us"),
        report_date=pl.col("report_ts").dt.convert_time_zone(calendar.NY_TZ).dt.date(),
    )


def yahoo_download(tickers: list[str], **kwargs: Any) -> pd.DataFrame:
    """``yf.download``, except that rate limits raise and per-ticker errors are kept.

    yfinance 1.7 catches every per-ticker exception inside ``download`` (YFRateLimitError
    included) and only logs it, so a throttled chunk looks like a chunk of delisted tickers.
    Calling its implementation with our own context exposes those errors: a rate limit is
    re-raised (to be retried), the rest land in ``frame.attrs['errors']`` ({ticker: message}).
    """
    import yfinance as yf
    from yfinance import multi
    from yfinance.exceptions import YFRateLimitError

    impl, ctx_type = getattr(multi, "_download_impl", None), getattr(multi, "_DownloadCtx", None)
    if impl is not None and ctx_type is not None:
        ctx = ctx_type()
        frame, errors = impl(ctx, tickers, **kwargs), dict(ctx.errors)
    else:  # older/newer yfinance: errors are only logged, rate limits are not detectable
        frame, errors = yf.download(tickers, **kwargs), {}
    if any(_looks_rate_limited(msg) for msg in errors.values()):
        raise YFRateLimitError()
    frame.attrs["errors"] = errors
    return frame


_RATE_LIMIT_TEXTS = ("YFRateLimitError", "Too Many Requests", "HTTP Error 429", "429 Client Error")


def _looks_rate_limited(error: BaseException | str) -> bool:
    from yfinance.exceptions import YFRateLimitError

    if isinstance(error, YFRateLimitError):
        return True
    response = getattr(error, "response", None)
    if getattr(response, "status_code", None) == 429:
        return True
    text = str(error) if isinstance(error, str) else f"{type(error).__name__} {error}"
    return any(s in text for s in _RATE_LIMIT_TEXTS)


def to_yahoo(symbol: str) -> str:
    return symbol.replace(".", "-")


def frame_to_raw_bars(frame: pd.DataFrame, interval: Interval, canonical: dict[str, str]) -> pl.DataFrame:
    """A ``yf.download`` frame (columns Price x Ticker) as RAW_BARS, vectorized.

    Rows where all of a ticker's values are NaN are alignment artifacts of the multi-ticker
    download (its index is the union of every ticker's timestamps) and are dropped; partly
    NaN rows are real, broken bars and are kept for validation to quarantine.
    """
    if frame is None or frame.empty or not isinstance(frame.columns, pd.MultiIndex):
        return schemas.empty(schemas.RAW_BARS)
    tickers = frame.columns.get_level_values(-1).unique()
    frame = frame.reindex(columns=pd.MultiIndex.from_product([PRICES, tickers], names=["Price", "Ticker"]))
    index = pd.DatetimeIndex(frame.index)
    if interval.intraday:  # yfinance gives exchange time; a naive index would be UTC
        index = index.tz_convert("UTC") if index.tz is not None else index.tz_localize("UTC")
    else:  # daily: midnight of the exchange date, naive by default (ignore_tz) or tz-aware
        index = index.tz_localize(None) if index.tz is not None else index
    frame = frame.set_axis(index.rename("ts"), axis=0)
    long = pl.from_pandas(frame.stack(level="Ticker", future_stack=True).reset_index())
    values = [pl.col(p) for p in PRICES]
    long = long.filter(~pl.all_horizontal(v.is_null() | v.is_nan() for v in values))
    ts = pl.col("ts").dt.convert_time_zone("UTC") if interval.intraday else daily_ts(pl.col("ts").dt.date())
    return long.select(
        symbol=pl.col("Ticker").replace_strict(canonical, default=pl.col("Ticker")),
        ts=ts.dt.cast_time_unit("us"),
        **{p.lower(): pl.col(p).cast(pl.Float64).fill_nan(None) for p in PRICES},
    )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class Runtime:
    """What a resource instance needs beyond its config: I/O hooks (fakes in tests) and limiter state."""

    download: DownloadFn = yahoo_download
    earnings_dates: EarningsFn = yahoo_earnings_dates
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], dt.datetime] = _utc_now
    random: random.Random = field(default_factory=random.Random)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_call: dt.datetime | None = None


class YFinanceSource(MarketDataSource):
    """Bars from Yahoo Finance (yfinance); chunked, rate-limited, retried on throttling."""

    chunk_size: int = Field(default=100, ge=1, description="Tickers per multi-ticker yf.download call.")
    requests_per_minute: float = Field(
        default=60.0, ge=0, description="Download calls per minute, shared by all fetches; 0 means no limit."
    )
    max_retries: int = Field(default=5, ge=0, description="Retries of a chunk Yahoo rate-limited (HTTP 429).")
    backoff_seconds: float = Field(default=2.0, ge=0, description="Base of the jittered exponential backoff.")
    compact: bool = Field(
        default=False, description="For bad days: chunks of 20, no threads, at most 20 calls per minute."
    )
    timeout: float = Field(default=30.0, gt=0, description="Seconds per HTTP request.")

    _rt: Runtime = PrivateAttr(default_factory=lambda: Runtime())

    @classmethod
    def with_hooks(
        cls,
        *,
        download: DownloadFn | None = None,
        sleep: Callable[[float], None] | None = None,
        now: Callable[[], dt.datetime] | None = None,
        earnings_dates: EarningsFn | None = None,
        **config: Any,
    ) -> YFinanceSource:
        """An instance with fake download / earnings / sleep / clock, for tests (no network, no waiting)."""
        source = cls(**config)
        rt = source._rt
        rt.download, rt.sleep, rt.now = download or rt.download, sleep or rt.sleep, now or rt.now
        rt.earnings_dates = earnings_dates or rt.earnings_dates
        return source

    def _with_updated_values(self, values: Any) -> YFinanceSource:
        # Dagster rebuilds the resource from its config at run time; keep the hooks and limiter.
        out = super()._with_updated_values(values)
        out._rt = self._rt
        return out

    @property
    def effective_chunk_size(self) -> int:
        return min(self.chunk_size, COMPACT_CHUNK_SIZE) if self.compact else self.chunk_size

    @property
    def effective_requests_per_minute(self) -> float:
        rpm = self.requests_per_minute
        if self.compact:
            return min(rpm or COMPACT_REQUESTS_PER_MINUTE, COMPACT_REQUESTS_PER_MINUTE)
        return rpm

    def _fetch(self, symbols: list[str], interval: Interval, start: dt.date, end: dt.date) -> FetchResult:
        windows = self.request_windows(interval, start, end)
        canonical: dict[str, str] = {}
        failures: dict[str, str] = {}
        for symbol in symbols:  # BRK.B and BRK-B are the same Yahoo ticker: serve the first
            other = canonical.setdefault(to_yahoo(symbol), symbol)
            if other != symbol:
                failures[symbol] = f"same Yahoo ticker {to_yahoo(symbol)!r} as {other!r}, which is served"
        tickers = list(canonical)
        size = self.effective_chunk_size
        frames: list[pl.DataFrame] = []
        errors: dict[str, str] = {}  # yfinance's per-ticker messages, for failure reasons
        calls = retries = 0
        for lo, hi in windows:
            for i in range(0, len(tickers), size):
                chunk = tickers[i : i + size]
                frame, chunk_calls, chunk_retries, error = self._download_chunk(chunk, interval, lo, hi)
                calls, retries = calls + chunk_calls, retries + chunk_retries
                if error is not None:
                    span = f" for {lo}..{hi - dt.timedelta(days=1)}" if len(windows) > 1 else ""
                    failures.update({canonical[t]: f"{error}{span}" for t in chunk})
                    continue
                errors.update(frame.attrs.get("errors", {}))
                try:
                    frames.append(frame_to_raw_bars(frame, interval, canonical))
                except Exception as exc:  # an unexpected shape fails this chunk, not the fetch
                    failures.update({canonical[t]: f"unreadable yfinance frame: {exc!r}" for t in chunk})
        bars = pl.concat(frames, how="vertical_relaxed") if frames else schemas.empty(schemas.RAW_BARS)
        served = set(bars["symbol"].unique().to_list())
        for ticker, symbol in canonical.items():
            if symbol not in served and symbol not in failures:
                detail = errors.get(ticker) or f"empty or all-NaN {interval.value} bars for {start}..{end}"
                failures[symbol] = f"no data returned by Yahoo: {detail}"
        note = f"yfinance: {calls} download call(s) in {len(windows)} window(s), {retries} rate-limit retr"
        return FetchResult(bars, failures, [note + ("y" if retries == 1 else "ies")])

    def _earnings(self, symbols: list[str], start: dt.date, end: dt.date) -> EarningsResult:
        limit = earnings_limit(start, self._rt.now().astimezone(calendar.NY).date())
        frames: list[pl.DataFrame] = []
        failures: dict[str, str] = {}
        for symbol in symbols:  # Yahoo answers one ticker a call
            frame, error = self._earnings_one(to_yahoo(symbol), limit)
            if error is not None:
                failures[symbol] = error
            elif frame is None:
                failures[symbol] = "Yahoo lists no earnings dates (an ETF, or an unknown ticker)"
            else:
                try:
                    frames.append(earnings_frame_to_events(frame, symbol))
                except Exception as exc:  # an unexpected shape fails this symbol, not the fetch
                    failures[symbol] = f"unreadable yfinance earnings frame: {exc!r}"
        events = pl.concat(frames, how="diagonal_relaxed") if frames else earnings_frame_to_events(None, "")
        return EarningsResult(events, failures, [f"yfinance: {len(symbols)} earnings call(s), limit {limit}"])

    def _earnings_one(self, ticker: str, limit: int) -> tuple[pd.DataFrame | None, str | None]:
        """One ticker's earnings dates, retried with backoff while Yahoo rate-limits: (frame, error)."""
        for attempt in range(self.max_retries + 1):
            self._wait_for_turn()
            try:
                return self._rt.earnings_dates(ticker, limit), None
            except Exception as exc:
                if not _looks_rate_limited(exc):
                    return None, f"earnings dates failed: {type(exc).__name__}: {exc}"
                if attempt == self.max_retries:
                    break
                self._rt.sleep(self.backoff_seconds * 2**attempt * (1 + self._rt.random.uniform(0, 0.5)))
        return None, f"rate-limited by Yahoo (HTTP 429), gave up after {self.max_retries} retries"

    def request_windows(self, interval: Interval, start: dt.date, end: dt.date) -> list[Window]:
        """yfinance [start, end) ranges (end exclusive) covering start..end within Yahoo's limits."""
        days = HISTORY_DAYS.get(interval)
        if days is not None:
            now = self._rt.now()
            first_instant = dt.datetime.combine(start, dt.time(), tzinfo=calendar.NY)
            if now - first_instant >= dt.timedelta(days=days):
                earliest = (now - dt.timedelta(days=days)).astimezone(calendar.NY).date()
                raise SourceLimitError(
                    f"Yahoo serves {interval.value} bars only for the last {days} days: start {start} is "
                    f"before {earliest} (now is {now:%Y-%m-%d %H:%M %Z})"
                )
        stop, limit = end + dt.timedelta(days=1), MAX_REQUEST_DAYS.get(interval)
        if limit is None:
            return [(start, stop)]
        # Yahoo serves at most `limit` days per 1m request: split the range, never refuse it.
        bounds = [*range(0, (stop - start).days, limit), (stop - start).days]
        day = dt.timedelta(days=1)
        return [(start + a * day, start + b * day) for a, b in zip(bounds, bounds[1:])]

    def _download_chunk(
        self, tickers: list[str], interval: Interval, lo: dt.date, hi: dt.date
    ) -> tuple[pd.DataFrame | None, int, int, str | None]:
        """One chunk, retried with backoff while Yahoo rate-limits: (frame, calls, retries, error)."""
        kwargs: dict[str, Any] = dict(
            start=lo.isoformat(), end=hi.isoformat(), interval=interval.value, auto_adjust=True,
            actions=False, progress=False, group_by="column", threads=not self.compact, timeout=self.timeout,
        )
        if interval.intraday:
            kwargs.update(prepost=True, ignore_tz=False)  # UTC-convertible, tz-aware index
        for attempt in range(self.max_retries + 1):
            self._wait_for_turn()
            try:
                return self._rt.download(tickers, **kwargs), attempt + 1, attempt, None
            except Exception as exc:  # one chunk's failure never sinks the others
                if not _looks_rate_limited(exc):
                    return None, attempt + 1, attempt, f"download failed: {type(exc).__name__}: {exc}"
                if attempt == self.max_retries:
                    break
                self._rt.sleep(self.backoff_seconds * 2**attempt * (1 + self._rt.random.uniform(0, 0.5)))
        n = self.max_retries
        return None, n + 1, n, f"rate-limited by Yahoo (HTTP 429), gave up after {n} retries"

    def _wait_for_turn(self) -> None:
        """Space calls at least 60/requests_per_minute seconds apart (all threads, this instance)."""
        rpm = self.effective_requests_per_minute
        if not rpm:
            return
        interval, rt = dt.timedelta(seconds=60.0 / rpm), self._rt
        with rt.lock:
            if rt.last_call is not None:
                wait = (rt.last_call + interval - rt.now()).total_seconds()
                if wait > 0:
                    rt.sleep(wait)
            rt.last_call = rt.now()
