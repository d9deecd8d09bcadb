"""Column contracts of every dataset, and validation at the boundary.

In memory every dataset carries a ``date`` column (the session key, ``pl.Date``); in the lake
``date`` lives in the hive key (``date=YYYY-MM-DD``) and not inside the file. Timestamps are
UTC, timezone-aware, microsecond precision.

The bar contract: low <= open, close <= high; prices finite and > 0; volume >= 0; one row per
(symbol, ts); each bar inside its session's window (the regular session for daily bars, the
extended day 04:00 ET to four hours after the close for intraday bars). Rows that break it are
quarantined with a reason, never dropped silently.

Longer than ~300 lines: the contracts, the dataset registry and the bar validation share one vocabulary and are read together.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from tradingstation.core import calendar
from tradingstation.core.errors import InvalidSymbolError, SchemaError, UnknownDatasetError

TS = pl.Datetime("us", "UTC")
PRICE_COLUMNS = ("open", "high", "low", "close")

DAILY_BARS = pl.Schema(
    {
        "date": pl.Date,
        "symbol": pl.String,
        "ts": TS,
        "open": pl.Float64,
        "high": pl.Float64,
        "low": pl.Float64,
        "close": pl.Float64,
        "volume": pl.Int64,
    }
)
INTRADAY_BARS = pl.Schema({**DAILY_BARS, "session": pl.String})  # 'pre' | 'regular' | 'post'

# What a source hands over before validation: anything may be null or out of range.
RAW_BARS = pl.Schema(
    {
        "symbol": pl.String,
        "ts": TS,
        "open": pl.Float64,
        "high": pl.Float64,
        "low": pl.Float64,
        "close": pl.Float64,
        "volume": pl.Float64,
    }
)
QUARANTINE = pl.Schema({"date": pl.Date, **RAW_BARS, "reason": pl.String})

UNIVERSE = pl.Schema(
    {
        "date": pl.Date,
        "symbol": pl.String,
        "included": pl.Boolean,
        "reason": pl.String,  # why a symbol is excluded; empty when included
        "last_close": pl.Float64,
        "avg_dollar_volume": pl.Float64,
        "list_name": pl.String,  # where the candidate came from: 'sp500', a file, 'explicit', ...
        "list_as_of": pl.Date,
        # From pytickersymbols for any symbol it knows (core.universe_lists), else null:
        "sector": pl.String,  # GICS sector
        "industry": pl.String,  # indicative industry label
        "exchange": pl.String,  # NYSE | NASDAQ where known (chart links, TradingView watchlists)
    }
)

SIGNALS = pl.Schema(
    {
        "date": pl.Date,
        "ts": TS,
        "symbol": pl.String,
        "screener": pl.String,
        "side": pl.String,  # 'long' | 'short'
        "score": pl.Float64,  # 0-10
        "entry": pl.Float64,
        "stop": pl.Float64,
        "target": pl.Float64,
        "reasons": pl.String,
    }
)

# Earnings reports as a source hands them over (``MarketDataSource.earnings``): ``report_date`` is the
# New York date of the report, ``timing`` before_open | during_session | after_close | unknown
# (``report_ts``, the announced instant, is null when the source gives no time), ``session`` the
# first session that trades on the news (the next session after an after-close report, else the
# report date's session or the next one): the session an earnings AVWAP is anchored to.
EARNINGS_EVENTS = pl.Schema(
    {
        "symbol": pl.String,
        "report_date": pl.Date,
        "timing": pl.String,
        "session": pl.Date,
        "report_ts": TS,
        "eps_estimate": pl.Float64,
        "reported_eps": pl.Float64,
        "surprise_pct": pl.Float64,
    }
)
EARNINGS = pl.Schema({"date": pl.Date, **EARNINGS_EVENTS})  # the reports known at session D's premarket


@dataclass(frozen=True)
class Dataset:
    """A dataset of the lake: its name (also its asset key) and its column contract."""

    name: str
    schema: pl.Schema
    description: str
    sort_by: tuple[str, ...] = ("symbol", "ts")


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset("universe", UNIVERSE, "Symbols screened for a session, with liquidity filters", ("symbol",)),
        Dataset("daily_bars", DAILY_BARS, "One regular-session OHLCV bar per symbol and session"),
        Dataset("intraday_1m", INTRADAY_BARS, "1-minute bars, pre-market to post-market"),
        Dataset("intraday_30m", INTRADAY_BARS, "30-minute bars of the regular session"),
        Dataset("daily_bars_quarantine", QUARANTINE, "Daily bars that broke the bar contract"),
        Dataset("intraday_1m_quarantine", QUARANTINE, "1-minute bars that broke the bar contract"),
        Dataset("intraday_30m_quarantine", QUARANTINE, "30-minute bars that broke the bar contract"),
        Dataset("earnings", EARNINGS, "Earnings reports of the universe's symbols known at the session's premarket",
                ("symbol", "session")),
    )
}


def register(dataset: Dataset) -> Dataset:
    """Add a dataset (later modules register signals and dashboards); names are unique."""
    if dataset.name in DATASETS and DATASETS[dataset.name] != dataset:
        raise ValueError(f"dataset {dataset.name!r} is already registered with another contract")
    DATASETS[dataset.name] = dataset
    return dataset


def dataset(name: str) -> Dataset:
    if name not in DATASETS:
        # The analytics contracts live with their screeners; they register on first use.
        import screeners.registry  # noqa: F401
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {known}") from None


# --- symbols -------------------------------------------------------------------------------

_SYMBOL = re.compile(r"^\^?[A-Z0-9]+(?:[.\-=][A-Z0-9]+)*$")
MAX_SYMBOL_LENGTH = 12


def normalize_symbol(raw: str) -> str:
    """Canonical form of a ticker (upper case, class shares with a dot: BRK.B), or InvalidSymbolError."""
    if not isinstance(raw, str):
        raise InvalidSymbolError(f"ticker must be a string, got {type(raw).__name__}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise InvalidSymbolError(f"ticker {raw!r} contains control characters")
    symbol = raw.strip().upper()
    if not symbol:
        raise InvalidSymbolError("ticker is empty")
    if len(symbol) > MAX_SYMBOL_LENGTH:
        raise InvalidSymbolError(f"ticker {symbol[:16]!r}... is {len(symbol)} characters; at most {MAX_SYMBOL_LENGTH}")
    if "/" in symbol or "\\" in symbol or ".." in symbol:
        raise InvalidSymbolError(f"ticker {symbol!r} contains a path separator")
    if not _SYMBOL.match(symbol):
        raise InvalidSymbolError(
            f"ticker {symbol!r} is not a valid symbol (letters, digits, and '.', '-' or '=' between them)"
        )
    return symbol


def normalize_symbols(raw: Iterable[str] | str) -> list[str]:
    """Unique canonical tickers in first-seen order; a comma-separated string is accepted."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return list(dict.fromkeys(normalize_symbol(s) for s in items))


# --- conformance ---------------------------------------------------------------------------


def conform(df: pl.DataFrame, schema: pl.Schema, *, what: str = "frame") -> pl.DataFrame:
    """``df`` with exactly ``schema``'s columns, in order and cast; extra columns are kept after them.

    Raises SchemaError naming missing columns or columns that cannot be cast.
    """
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise SchemaError(f"{what} is missing column(s) {missing}; it has {df.columns}")
    try:
        core = df.select(pl.col(c).cast(t, strict=True) for c, t in schema.items())
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
        raise SchemaError(f"{what} has a column that does not fit its contract: {exc}") from exc
    extra = [c for c in df.columns if c not in schema]
    return core.hstack(df.select(extra)) if extra else core


def empty(schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


# --- the bar contract -----------------------------------------------------------------------


OUTSIDE_REQUESTED = "outside the requested sessions"


@dataclass(frozen=True)
class Validated:
    """Bars split by the contract: ``bars`` conform, ``quarantine`` holds the rest with a reason."""

    bars: pl.DataFrame
    quarantine: pl.DataFrame

    @property
    def quarantined_by_reason(self) -> dict[str, int]:
        counts = self.quarantine.group_by("reason").len().sort("reason")
        return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))


def validate_bars(raw: pl.DataFrame, *, intraday: bool, sessions: Iterable | None = None) -> Validated:
    """Check raw bars against the bar contract and assign each its session ``date``.

    ``raw`` follows RAW_BARS. Daily bars belong to the session of their New York date and must
    start inside its regular hours; intraday bars belong to the session whose extended day holds
    them and are labelled 'pre', 'regular' or 'post'. ``sessions`` optionally restricts the
    accepted sessions: bars of other days are quarantined as 'outside the requested sessions', filed
    under the nearest requested session, so one odd bar never sinks a fetch.
    """
    raw = conform(raw, RAW_BARS, what="source bars").select(RAW_BARS.names())
    if raw.is_empty():
        bars_schema = INTRADAY_BARS if intraday else DAILY_BARS
        return Validated(empty(bars_schema), empty(QUARANTINE))

    timed = raw["ts"].drop_nulls()  # a row without a time joins no session (it is quarantined below)
    first = last = calendar.today_ny()
    if timed.len():
        first, last = calendar.to_date(timed.min()), calendar.to_date(timed.max())
    frame = calendar.session_frame(first - dt.timedelta(days=1), last + dt.timedelta(days=1)
    ).rename(lambda c: c if c == "date" else f"s_{c}")
    wanted = pl.Series("date", [], dtype=pl.Date)
    if sessions is not None:
        wanted = pl.Series("date", [calendar.to_date(s) for s in sessions], dtype=pl.Date)
        frame = frame.filter(pl.col("date").is_in(wanted.implode()))

    ny_date = pl.col("ts").dt.convert_time_zone(calendar.NY_TZ).dt.date()
    df = raw.with_row_index("_row").with_columns(_ny_date=ny_date)
    # Attach the session whose window could hold the bar: same New York date.
    df = df.join(frame.with_columns(_in_session=True), left_on="_ny_date", right_on="date", how="left")
    df = df.with_columns(date=pl.when(pl.col("_in_session")).then(pl.col("_ny_date")))
    # A daily bar starts at its open (late opens exist), so only its end is bound by the close.
    start, end = ("s_premarket_open", "s_postmarket_close") if intraday else ("s_premarket_open", "s_close")
    finite = pl.all_horizontal(pl.col(c).is_finite() for c in PRICE_COLUMNS)
    reason = (
        pl.when(pl.col("symbol").is_null() | pl.col("ts").is_null())
        .then(pl.lit("missing symbol or timestamp"))
        .when(pl.any_horizontal(pl.col(c).is_null() for c in (*PRICE_COLUMNS, "volume")))
        .then(pl.lit("missing price or volume"))
        .when(~finite | ~pl.col("volume").is_finite())
        .then(pl.lit("non-finite price or volume"))
        .when(pl.any_horizontal(pl.col(c) <= 0 for c in PRICE_COLUMNS))
        .then(pl.lit("non-positive price"))
        .when(pl.col("volume") < 0)
        .then(pl.lit("negative volume"))
        .when((pl.col("low") > pl.min_horizontal("open", "close")) | (pl.col("high") < pl.max_horizontal("open", "close")))
        .then(pl.lit("OHLC out of order (low <= open, close <= high broken)"))
        .when(pl.col("date").is_null())
        .then(pl.lit("not in a trading session" if sessions is None else OUTSIDE_REQUESTED))
        .when((pl.col("ts") < pl.col(start)) | (pl.col("ts") >= pl.col(end)))
        .then(pl.lit("outside the session window"))
    )
    df = df.with_columns(reason=reason)
    # Among the rows that pass every other rule, the first of a (symbol, ts) group is kept and the
    # rest quarantined: a broken first copy never costs the good one. Found in the (symbol, ts, row)
    # order the bars are returned in anyway: a copy follows the first of its group.
    passed = df.filter(pl.col("reason").is_null()).sort("symbol", "ts", "_row")
    copy = (pl.col("symbol") == pl.col("symbol").shift()) & (pl.col("ts") == pl.col("ts").shift())
    passed = passed.with_columns(reason=pl.when(copy).then(pl.lit("duplicate (symbol, ts)")))
    good = passed.filter(pl.col("reason").is_null())
    broken = pl.concat([df.filter(pl.col("reason").is_not_null()), passed.filter(pl.col("reason").is_not_null())])
    quarantine = broken.sort("_row")
    if intraday:
        good = good.with_columns(
            session=pl.when(pl.col("ts") < pl.col("s_open"))
            .then(pl.lit("pre"))
            .when(pl.col("ts") < pl.col("s_close"))
            .then(pl.lit("regular"))
            .otherwise(pl.lit("post"))
        )
    bars_schema = INTRADAY_BARS if intraday else DAILY_BARS
    bars = conform(good.with_columns(pl.col("volume").round(0)), bars_schema, what="bars").select(
        bars_schema.names()
    )
    quarantine = quarantine.with_columns(date=pl.coalesce("date", "_ny_date"))
    if sessions is not None and quarantine.height and wanted.len():
        # A row of another day is filed under the nearest requested session (the latest before it,
        # else the first; a row without a timestamp has no day: the first), so it is stored and
        # counted in a partition this run writes.
        ordered = wanted.unique().sort()
        days = quarantine["date"].fill_null(ordered[0])
        before = ordered.search_sorted(days, side="right").cast(pl.Int64) - 1  # unsigned, 0 - 1 wrapped around
        nearest = ordered.gather(before.clip(lower_bound=0))
        quarantine = quarantine.with_columns(
            date=pl.when(pl.col("date").is_in(ordered.implode())).then(pl.col("date")).otherwise(pl.lit(nearest))
        )
    quarantine = quarantine.select(QUARANTINE.names())
    return Validated(bars, conform(quarantine, QUARANTINE, what="quarantine"))  # bars in symbol, ts order


