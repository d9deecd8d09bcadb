"""Bring-your-own bars: CSV or Parquet exports from any vendor, read as they are.

Why a loader this forgiving: real exports differ in column order and case, carry extra columns
(``Adj Close``), write dates as ``2019-11-05`` or ``11/5/2019``, and give intraday times as naive
exchange time. Each file is parsed once per resource instance (on first use) and cached.

Rules, in order:
- columns are matched case-insensitively: a time column (``datetime``/``timestamp``/``date``,
  plus an optional separate ``time``), ``open``, ``high``, ``low``, ``close`` (required) and
  ``volume`` (0 with a note when absent). ``Adj Close`` is ignored: we keep raw OHLC.
- the symbol comes from a ``symbol``/``ticker`` column when present, else from the file name:
  the ``symbols`` config maps a file stem to a symbol; otherwise the stem is split on ``-``/``_``,
  a leading vendor word (yahoofinance, stooq, ...) and all-digit tokens (dates) are dropped, the
  first remaining token is the symbol, and index aliases apply (SP500/GSPC -> SPX). So
  ``yahoofinance-AAPL-20040819-20180120.csv`` -> AAPL and ``SP500_NOV2019_IDayRVol.csv`` -> SPX.
- naive times are America/New_York (DST-correct); times with an offset are converted to UTC.
  A file whose times are all midnight is daily (bar ts = the session open), else intraday, with
  its interval the modal spacing of consecutive bars within a day.
- 30m bars come from 30m files, else from resampling the finest intraday file whose interval
  divides 30, regular session only, in windows aligned to the 09:30 open.
- a malformed file (missing column, unparsable dates) fails its symbol with a message naming
  the file and the problem; other files go on.

Earnings dates come from an optional ``earnings.csv`` (or ``.parquet``) beside the bars (never read
as bars): ``symbol``, ``date`` (the report's New York date, any date format above), and optionally
``time`` (HH:MM New York) or ``timing`` (before_open/bmo, after_close/amc, during_session, unknown)
and ``eps_estimate``, ``reported_eps``, ``surprise_pct``. Without the file the source says it has
no earnings dates (``EarningsResult.available`` False); a malformed file is an error naming it.
(About 320 lines: the earnings file reuses the bar files' date parsing and symbol checks.)

Longer than ~300 lines: vendor exports differ in many small ways (columns, dates, time zones, intervals), each handled once here.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from pydantic import PrivateAttr

from tradingstation.core import calendar, schemas
from tradingstation.core.errors import SourceConfigError
from tradingstation.resources.sources.base import (
    EarningsResult,
    FetchResult,
    Interval,
    MarketDataSource,
    daily_ts,
)

DEFAULT_PATH = "data/files"
SUFFIXES = (".csv", ".parquet", ".pq")
_TIME_COLUMNS = ("datetime", "timestamp", "date", "ts", "time")
_VENDOR_PREFIXES = {"yahoofinance", "yahoo", "yf", "stooq", "polygon", "alpaca", "tiingo", "iex", "kibot",
                    "firstratedata", "alphavantage", "av", "nasdaq", "barchart", "ib"}
_ALIASES = {"SP500": "SPX", "SPX500": "SPX", "GSPC": "SPX", "^GSPC": "SPX", "NASDAQ100": "NDX", "DJIA": "DJI"}
_NAIVE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M",
                  "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
                  "%m/%d/%Y", "%Y%m%d")
EARNINGS_STEM = "earnings"  # earnings.csv / earnings.parquet: report dates, not bars
_TIMING_WORDS = {"bmo": "before_open", "amc": "after_close", "before_open": "before_open",
                 "after_close": "after_close", "during_session": "during_session", "unknown": "unknown"}
_AWARE_FORMATS = ("%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M%z")


class MalformedFileError(ValueError):
    """A file that cannot be read as bars; the message names the file and the problem."""


def symbol_from_stem(stem: str, overrides: dict[str, str] | None = None) -> str:
    """The symbol a file name stands for (see the module docstring for the rule)."""
    for key, value in (overrides or {}).items():
        if key.lower() == stem.lower():
            return schemas.normalize_symbol(value)
    tokens = [t for t in re.split(r"[-_\s]+", stem) if t]
    while len(tokens) > 1 and tokens[0].lower() in _VENDOR_PREFIXES:
        tokens = tokens[1:]
    candidates = [t for t in tokens if not t.isdigit()] or tokens
    token = candidates[0].upper()
    return schemas.normalize_symbol(_ALIASES.get(token, token))


@dataclass
class _Catalog:
    """Everything parsed from ``path``: bars per (symbol, interval minutes; 0 = daily)."""

    bars: dict[tuple[str, int], pl.DataFrame] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # symbol -> problem
    notes: list[str] = field(default_factory=list)

    @property
    def symbols(self) -> list[str]:
        return sorted({s for s, _ in self.bars} | set(self.errors))


class FilesSource(MarketDataSource):
    """Bars from CSV/Parquet files under ``path`` (a directory or one file)."""

    path: str | None = None  # None: $TRADINGSTATION_FILES_PATH, else "data/files"
    symbols: dict[str, str] = {}  # file stem -> symbol, overriding the file-name rule

    _catalog: _Catalog | None = PrivateAttr(default=None)

    @property
    def resolved_path(self) -> Path:
        return Path(self.path or os.environ.get("TRADINGSTATION_FILES_PATH") or DEFAULT_PATH)

    def known_symbols(self) -> list[str] | None:
        return self._load().symbols

    def _load(self) -> _Catalog:
        if self._catalog is None:
            self._catalog = _build_catalog(self.resolved_path, self.symbols)
        return self._catalog

    def _fetch(self, symbols: list[str], interval: Interval, start: dt.date, end: dt.date) -> FetchResult:
        cat = self._load()
        where = str(self.resolved_path)
        parts: list[pl.DataFrame] = []
        failures: dict[str, str] = {}
        absent: set[str] = set()  # not in the folder: what it holds, not an error
        for symbol in symbols:
            if symbol in cat.errors:
                failures[symbol] = cat.errors[symbol]
                continue
            have = sorted(m for s, m in cat.bars if s == symbol)
            if not have:
                failures[symbol] = f"no file for {symbol} in {where}"
                absent.add(symbol)
            elif interval.minutes in have:
                parts.append(cat.bars[(symbol, interval.minutes)])
            elif interval is Interval.MINUTE_30 and (finer := [m for m in have if m and 30 % m == 0]):
                parts.append(resample_30m(cat.bars[(symbol, finer[0])]))
            else:
                kinds = ", ".join("1d" if m == 0 else f"{m}m" for m in have)
                failures[symbol] = f"no {interval.value} file for {symbol} in {where} (it has {kinds} bars)"
                absent.add(symbol)
        if not parts:
            return FetchResult(schemas.empty(schemas.RAW_BARS), failures, list(cat.notes), absent)
        bars = pl.concat(parts, how="vertical_relaxed")
        ny_date = pl.col("ts").dt.convert_time_zone(calendar.NY_TZ).dt.date()
        bars = bars.filter(ny_date.is_between(start, end)).sort("symbol", "ts")
        return FetchResult(bars, failures, list(cat.notes), absent)


    def _earnings(self, symbols: list[str], start: dt.date, end: dt.date) -> EarningsResult:
        root = self.resolved_path
        files = [root / f"{EARNINGS_STEM}{suffix}" for suffix in SUFFIXES] if root.is_dir() else []
        file = next((f for f in files if f.is_file()), None)
        if file is None:
            return EarningsResult.not_available(f"no {EARNINGS_STEM}.csv or .parquet in {root}: no earnings dates")
        return EarningsResult(read_earnings_file(file), notes=[f"earnings dates from {file}"])


def read_earnings_file(file: Path) -> pl.DataFrame:
    """An earnings file (see the module docstring) as raw reports; MalformedFileError names the problem."""
    try:
        raw = pl.read_csv(file, infer_schema=False) if file.suffix.lower() == ".csv" else pl.read_parquet(file)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise MalformedFileError(f"{file}: cannot be read ({exc})") from exc
    raw = raw.rename({c: c.strip().lower() for c in raw.columns})
    if "symbol" not in raw.columns or "date" not in raw.columns:
        raise MalformedFileError(f"{file}: an earnings file needs columns symbol and date; it has {raw.columns}")
    dates = _local_times(raw.select(pl.col("date").cast(pl.String) if raw["date"].dtype != pl.Date else "date"),
                         "date", file).dt.date()
    out = raw.select(pl.col("symbol").cast(pl.String).str.strip_chars()).with_columns(report_date=dates)
    out = _checked_symbols(out, file)
    if "time" in raw.columns:
        clock = raw["time"].cast(pl.String).str.strip_chars().str.to_time("%H:%M", strict=False)
        local = pl.col("report_date").dt.combine(pl.col("_clock"))
        out = out.with_columns(_clock=clock).with_columns(
            report_ts=local.dt.replace_time_zone(calendar.NY_TZ, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        ).drop("_clock")
    if "timing" in raw.columns:
        words = raw["timing"].cast(pl.String).str.strip_chars().str.to_lowercase()
        unknown = words.filter(words.is_not_null() & ~words.is_in(list(_TIMING_WORDS)))
        if len(unknown):
            raise MalformedFileError(f"{file}: unknown timing {unknown[0]!r}; expected one of {sorted(_TIMING_WORDS)}")
        out = out.with_columns(timing=words.replace_strict(_TIMING_WORDS, default=None))
    numbers = [c for c in ("eps_estimate", "reported_eps", "surprise_pct") if c in raw.columns]
    return out.with_columns(raw.select(pl.col(c).cast(pl.Float64, strict=False) for c in numbers))


def resample_30m(bars: pl.DataFrame) -> pl.DataFrame:
    """Regular-session 30-minute bars from finer bars, windows aligned to the 09:30 open."""
    if bars.is_empty():
        return bars
    ny_date = pl.col("ts").dt.convert_time_zone(calendar.NY_TZ).dt.date()
    lo, hi = (calendar.to_date(bars["ts"].min()), calendar.to_date(bars["ts"].max()))
    frame = calendar.session_frame(lo, hi).select("date", s_open="open", s_close="close")
    regular = (
        bars.with_columns(_date=ny_date)
        .join(frame, left_on="_date", right_on="date", how="inner")
        .filter((pl.col("ts") >= pl.col("s_open")) & (pl.col("ts") < pl.col("s_close")))
        .sort("symbol", "ts")
    )
    # Opens are 09:30 ET = :30 past a UTC hour, so UTC 30-minute windows start at the open.
    return regular.group_by_dynamic("ts", every="30m", group_by="symbol", closed="left", label="left").agg(
        pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
        pl.col("volume").sum(),
    ).select(schemas.RAW_BARS.names())


def _build_catalog(path: Path, overrides: dict[str, str]) -> _Catalog:
    cat = _Catalog()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and p.suffix.lower() in SUFFIXES and p.stem.lower() != EARNINGS_STEM)
    else:
        raise SourceConfigError(
            f"the files source path {path} does not exist: set TRADINGSTATION_FILES_PATH to a folder or file of bars"
        )
    collected: dict[tuple[str, int], list[pl.DataFrame]] = {}
    for file in files:
        try:
            stem_symbol: str | None = symbol_from_stem(file.stem, overrides)
        except schemas.InvalidSymbolError:
            stem_symbol = None
        try:
            for key, df in _parse_file(file, stem_symbol, cat.notes).items():
                collected.setdefault(key, []).append(df)
        except MalformedFileError as exc:
            cat.errors[stem_symbol or file.stem] = str(exc)
    for key, dfs in collected.items():
        if key[0] not in cat.errors:  # a symbol with a broken file fails whole, not half-served
            cat.bars[key] = pl.concat(dfs, how="vertical_relaxed").unique(maintain_order=True).sort("ts")
    return cat


def _parse_file(file: Path, stem_symbol: str | None, notes: list[str]) -> dict[tuple[str, int], pl.DataFrame]:
    """The bars of one file, keyed by (symbol, interval minutes); raises MalformedFileError."""
    try:
        if file.suffix.lower() == ".csv":
            raw = pl.scan_csv(file, infer_schema=False, truncate_ragged_lines=True).collect()
        else:
            raw = pl.read_parquet(file)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise MalformedFileError(f"{file}: cannot be read ({exc})") from exc
    raw = raw.rename({c: c.strip().lower() for c in raw.columns})
    time_col = next((c for c in _TIME_COLUMNS if c in raw.columns), None)
    missing = [c for c in ("open", "high", "low", "close") if c not in raw.columns]
    if time_col is None or missing:
        missing = (["date"] if time_col is None else []) + missing
        raise MalformedFileError(f"{file}: missing required column(s) {missing}; it has {raw.columns}")
    local = _local_times(raw, time_col, file)
    symbol_col = next((c for c in ("symbol", "ticker") if c in raw.columns), None)
    if symbol_col is None and stem_symbol is None:
        raise MalformedFileError(f"{file}: no symbol column and no symbol in the file name")
    if "volume" not in raw.columns:
        notes.append(f"{file.name} has no volume column; volume set to 0")
    df = pl.DataFrame({"_local": local}).hstack(
        raw.select(
            (pl.col(symbol_col).str.strip_chars() if symbol_col else pl.lit(stem_symbol)).alias("symbol"),
            *(pl.col(c).cast(pl.Float64, strict=False) for c in ("open", "high", "low", "close")),
            (pl.col("volume").cast(pl.Float64, strict=False) if "volume" in raw.columns else pl.lit(0.0))
            .alias("volume"),
        )
    )
    if symbol_col:
        df = _checked_symbols(df, file)
    intraday = bool((df["_local"].dt.time() != dt.time(0)).any())
    if intraday:
        ts = pl.col("_local").dt.replace_time_zone(
            calendar.NY_TZ, ambiguous="earliest", non_existent="null"
        )
        df = df.with_columns(ts=ts.dt.convert_time_zone("UTC"))
    else:
        df = df.with_columns(ts=daily_ts(pl.col("_local").dt.date()))
    out: dict[tuple[str, int], pl.DataFrame] = {}
    for (symbol,), part in df.sort("symbol", "_local").group_by("symbol", maintain_order=True):
        minutes = _interval_minutes(part, file) if intraday else 0
        out[(str(symbol), minutes)] = part.select(schemas.RAW_BARS.names())
    return out


def _local_times(raw: pl.DataFrame, time_col: str, file: Path) -> pl.Series:
    """Naive New York wall-clock times of each row, from whatever the file holds."""
    col = raw[time_col]
    if time_col == "date" and "time" in raw.columns and col.dtype == pl.String:
        col = (col.str.strip_chars() + " " + raw["time"].cast(pl.String).str.strip_chars()).alias(time_col)
    if col.dtype == pl.Date:
        return col.cast(pl.Datetime("us"))
    if isinstance(col.dtype, pl.Datetime):
        if col.dtype.time_zone is None:
            return col.cast(pl.Datetime("us"))
        return col.dt.convert_time_zone(calendar.NY_TZ).dt.replace_time_zone(None).cast(pl.Datetime("us"))
    if col.dtype != pl.String:
        raise MalformedFileError(f"{file}: column {time_col!r} holds {col.dtype}, not dates")
    text = col.str.strip_chars().str.replace(r"Z$", "+00:00")
    t = pl.col("text")
    naive = pl.coalesce([t.str.to_datetime(f, time_unit="us", strict=False) for f in _NAIVE_FORMATS])
    aware = pl.coalesce([t.str.to_datetime(f, time_unit="us", strict=False) for f in _AWARE_FORMATS])
    aware = aware.dt.convert_time_zone(calendar.NY_TZ).dt.replace_time_zone(None)
    parsed = pl.DataFrame({"text": text}).select(pl.coalesce(naive, aware))[:, 0]
    bad = text.filter(parsed.is_null())
    if len(bad):
        raise MalformedFileError(
            f"{file}: {len(bad)} unparsable date(s) in column {time_col!r} (first: {bad[0]!r}); "
            "expected YYYY-MM-DD[ HH:MM[:SS]], M/D/YYYY[ HH:MM] or an ISO time with offset"
        )
    return parsed


def _checked_symbols(df: pl.DataFrame, file: Path) -> pl.DataFrame:
    """Canonical symbols from a symbol column; an invalid one makes the file malformed."""
    mapping: dict[str, str] = {}
    for raw in df["symbol"].unique().to_list():
        try:
            mapping[raw] = schemas.normalize_symbol(raw if raw is not None else "")
        except schemas.InvalidSymbolError as exc:
            raise MalformedFileError(f"{file}: bad symbol in symbol column: {exc}") from exc
    return df.with_columns(pl.col("symbol").replace_strict(mapping))


def _interval_minutes(part: pl.DataFrame, file: Path) -> int:
    """Modal spacing (minutes) between consecutive bars of the same day."""
    same_day = pl.col("_local").dt.date().diff() == dt.timedelta(0)
    gaps = part.select(gap=pl.col("_local").diff().dt.total_minutes().filter(same_day))["gap"].drop_nulls()
    gaps = gaps.filter(gaps > 0)
    if gaps.is_empty():
        raise MalformedFileError(f"{file}: intraday times but never two bars in a day; interval unknown")
    return int(gaps.mode().min())
