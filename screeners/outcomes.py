"""What happened to each signal: the first-touch outcome rule, vectorized over every signal at once.

The rule (long; a short is the mirror image, lows for highs and the reverse comparisons):

- **Trigger.** A long is triggered by the first bar after the signal whose high reaches ``entry``
  (``high >= entry``). It is triggered at the signal itself when ``entry`` is the signal bar's
  close (within half a cent, the rounding of the stored levels): the case of ORB, the exhaustion
  reversal and the daily screeners, whose entry is the close. Gap & Go's entry lies beyond the
  pre-market range, so it waits for a bar to reach it.
- **Exit.** From the triggering bar on (that bar included), the first bar whose low reaches
  ``stop`` stops it: ``R = -1``; the first bar whose high reaches ``target`` takes the target:
  ``R = (target - entry) / (entry - stop)``. A bar that reaches both counts as **stopped** (the
  order inside a bar is unknown; the rule assumes the worse). Gaps through a level are not
  modelled: the level is the price.
- **Horizon.** Intraday setups (screeners that read 1-minute or 30-minute bars of the session:
  see :func:`intraday_screeners`) resolve on the 1-minute bars of their session that start after
  the signal's ``ts`` and before the regular close (pre-market bars after a pre-market signal
  count, post-market bars do not; a signal stamped at a bar's end, the exhaustion reversal's,
  skips the minute starting at its ``ts``: the rule never reads a bar begun before the signal). Daily setups resolve on the daily bars of the next
  ``daily_sessions`` (10) sessions.
- **At the horizon.** Triggered but neither stopped nor at target: ``expired``, closed at the
  last bar's close with its mark-to-market R, ``(close - entry) / (entry - stop)``. Never
  triggered: ``untriggered`` (no R).

Statuses: ``pending`` (not triggered yet, horizon not over), ``triggered`` (open, horizon not
over), ``stopped``, ``target``, ``expired``, ``untriggered``; and two that are not outcomes:
``invalid`` (levels not finite, or stop/target on the wrong side of entry) and ``no_bars`` (the
horizon is over but the data holds no bar of the symbol in it: missing data, not a result).
``status_ts`` is when the status last changed: the signal's ``ts`` (pending), the triggering
bar's ``ts`` (triggered; the signal's when triggered at once), the exit bar's ``ts`` (stopped,
target), the horizon's end (expired, untriggered). Bar times are bar starts.

:func:`resolve` takes an ``as_of`` instant: only bars complete by then count (a 1-minute bar
starting at ``t`` is complete at ``t + 1 min``; a daily bar counts once it has started: the caller
hands over the daily bars it has, today's so far included), and a horizon ending after ``as_of``
is still open (pending / triggered). Without ``as_of`` every horizon is over: final outcomes.

The lake's ``signal_outcomes[D]`` (:func:`as_dataset`) holds the final outcomes of the signals
whose horizon **ends on session D**: the intraday signals of D and the daily signals of the
session ten before D. Each signal is written once, when its outcome is known, and never changes;
``date`` is that resolution session and ``signal_date`` the signal's own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import polars as pl

from screeners.common import SIDES, SIGNAL_SCHEMA
from tradingstation.core import calendar

TS = pl.Datetime("us", "UTC")
ONE_MINUTE = dt.timedelta(minutes=1)
FINAL = ("stopped", "target", "expired", "untriggered")  # outcomes that no later bar can change
TRADES = ("stopped", "target", "expired")  # triggered and closed: they carry an R
STATUSES = ("pending", "triggered", *FINAL, "invalid", "no_bars")

RESOLVED_SCHEMA = pl.Schema(
    {
        **{c: SIGNAL_SCHEMA[c] for c in ("date", "ts", "symbol", "screener", "side", "score", "entry", "stop", "target")},
        "horizon": pl.String,  # 'intraday' | 'daily'
        "resolves_on": pl.Date,  # the session whose close ends the horizon
        "horizon_end": TS,
        "status": pl.String,  # one of STATUSES
        "status_ts": TS,
        "trigger_ts": TS,
        "exit_ts": TS,
        "exit_price": pl.Float64,
        "r_multiple": pl.Float64,  # stopped -1, target reward/risk, expired mark-to-market; else null
    }
)

# The lake contract of ``signal_outcomes``: ``date`` is the session the outcome became final on.
OUTCOMES_SCHEMA = pl.Schema(
    {
        "date": pl.Date,
        "signal_date": pl.Date,
        **{c: t for c, t in RESOLVED_SCHEMA.items() if c not in ("date", "resolves_on")},
        "regime": pl.String,  # the market regime the signal was made in: 'bull' | 'bear' | 'unknown'
    }
)


@dataclass(frozen=True)
class OutcomeParams:
    daily_sessions: int = 10  # daily setups resolve on this many following sessions' daily bars
    close_tolerance: float = 0.005  # entry "is" the signal bar's close within half a cent


def intraday_screeners(specs: Iterable) -> list[str]:
    """Names of the registry specs (``screeners.registry.ScreenerSpec``) that read intraday bars."""
    out = []
    for spec in specs:
        inputs = [*spec.inputs, *(spec.asset_inputs or ())]
        if any(i.dataset.startswith("intraday_") for i in inputs):
            out.append(spec.name)
    return out


def registry_intraday() -> list[str]:
    from screeners.registry import SCREENERS  # the registry imports the screeners: not at module level

    return intraday_screeners(SCREENERS.values())


def horizons(signals: pl.DataFrame, intraday: Collection[str] | None = None,
             params: OutcomeParams = OutcomeParams()) -> pl.DataFrame:
    """``signals`` with ``horizon``, ``resolves_on`` and ``horizon_end`` (see the module docstring)."""
    names = list(registry_intraday() if intraday is None else intraday)
    n = params.daily_sessions
    if n < 1:
        raise ValueError(f"daily_sessions must be at least 1, got {n}")
    sig = signals.with_columns(horizon=pl.when(pl.col("screener").is_in(names)).then(pl.lit("intraday"))
                               .otherwise(pl.lit("daily")))
    if sig.is_empty() or sig["date"].null_count() == sig.height:
        return sig.with_columns(resolves_on=pl.lit(None, pl.Date), horizon_end=pl.lit(None, TS))
    first, last = sig["date"].min(), sig["date"].max()
    frame = calendar.session_frame(first, last + dt.timedelta(days=2 * n + 14)).select(
        "date", "close", daily_on=pl.col("date").shift(-n), daily_end=pl.col("close").shift(-n)
    )
    daily = pl.col("horizon") == "daily"
    return sig.join(frame, on="date", how="left", maintain_order="left").with_columns(
        resolves_on=pl.when(daily).then(pl.col("daily_on")).otherwise(pl.col("date")),
        horizon_end=pl.when(daily).then(pl.col("daily_end")).otherwise(pl.col("close")),
    ).drop("close", "daily_on", "daily_end")


def _bars(frame: pl.DataFrame | None) -> pl.DataFrame:
    cols = {"symbol": pl.String, "date": pl.Date, "ts": TS, "high": pl.Float64, "low": pl.Float64, "close": pl.Float64}
    if frame is None or frame.is_empty():
        return pl.DataFrame(schema=cols)
    return frame.select(pl.col(c).cast(t) for c, t in cols.items())


def _paths(sig: pl.DataFrame, minute: pl.DataFrame, daily: pl.DataFrame, as_of: dt.datetime | None) -> pl.DataFrame:
    """Every (signal, bar) of the signals' horizons, bars complete by ``as_of``, in time order."""
    cols = ["_sid", "bar_ts", "high", "low", "close"]
    intra = sig.filter(pl.col("horizon") == "intraday").select("_sid", "symbol", "date", sig_ts="ts", end="horizon_end")
    m_path = intra.join(minute.rename({"ts": "bar_ts"}), on=["symbol", "date"]).filter(
        (pl.col("bar_ts") > pl.col("sig_ts")) & (pl.col("bar_ts") < pl.col("end"))
        & ((pl.col("bar_ts") + ONE_MINUTE <= as_of) if as_of is not None else pl.lit(True))
    )
    days = sig.filter(pl.col("horizon") == "daily").select("_sid", "symbol", sig_date="date", last="resolves_on")
    d_path = days.join(daily.rename({"ts": "bar_ts"}), on="symbol").filter(
        (pl.col("date") > pl.col("sig_date")) & (pl.col("date") <= pl.col("last"))
        & ((pl.col("bar_ts") < as_of) if as_of is not None else pl.lit(True))
    )
    return pl.concat([m_path.select(cols), d_path.select(cols)]).sort("_sid", "bar_ts")


def _reference(sig: pl.DataFrame, minute: pl.DataFrame, daily: pl.DataFrame, tolerance: float) -> pl.DataFrame:
    """Per signal: whether a signal bar was found and whether ``entry`` is its close.

    The signal bar of a daily setup is its session's daily bar; of an intraday setup the 1-minute
    bar starting at ``ts`` or the one ending there (screeners stamp a bar's start, ORB and Gap &
    Go, or the end of a 30-minute bar, the exhaustion reversal)."""
    intra = sig.filter(pl.col("horizon") == "intraday").select("_sid", "symbol", "entry", "ts")
    candidates = pl.concat([intra, intra.with_columns(pl.col("ts") - ONE_MINUTE)])
    m_ref = candidates.join(minute.select("symbol", "ts", "close"), on=["symbol", "ts"])
    d_ref = sig.filter(pl.col("horizon") == "daily").select("_sid", "symbol", "entry", "date").join(
        daily.select("symbol", "date", "close"), on=["symbol", "date"]
    )
    both = pl.concat([m_ref.select("_sid", "entry", "close"), d_ref.select("_sid", "entry", "close")])
    return both.group_by("_sid").agg(
        has_ref=pl.lit(True),
        immediate=((pl.col("close") - pl.col("entry")).abs() <= tolerance + 1e-9).any(),
        ref_close=pl.col("close").first(),
    )


def resolve(signals: pl.DataFrame, minute_bars: pl.DataFrame | None, daily_bars: pl.DataFrame | None, *,
            intraday: Collection[str] | None = None, as_of: dt.datetime | None = None,
            params: OutcomeParams = OutcomeParams()) -> pl.DataFrame:
    """The outcome of every signal (``RESOLVED_SCHEMA``), one row per signal in input order.

    ``minute_bars``/``daily_bars`` follow the bar contract (``symbol, date, ts, high, low, close``
    at least); ``intraday`` names the intraday screeners (default: the registry's); ``as_of``
    (UTC) limits the bars and says which horizons are over (default: all of them)."""
    if as_of is not None and as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware (UTC)")
    keep = [c for c in RESOLVED_SCHEMA if c in SIGNAL_SCHEMA]
    base = signals.select(pl.col(c).cast(SIGNAL_SCHEMA[c]) for c in keep)
    if base.is_empty():
        return pl.DataFrame(schema=RESOLVED_SCHEMA)
    sig = horizons(base, intraday, params).with_row_index("_sid")
    minute, daily = _bars(minute_bars), _bars(daily_bars)
    long = pl.col("side") == "long"
    entry, stop, target = pl.col("entry"), pl.col("stop"), pl.col("target")
    risk = pl.when(long).then(entry - stop).otherwise(stop - entry)
    reward = pl.when(long).then(target - entry).otherwise(entry - target)
    finite = pl.all_horizontal(pl.col(c).is_finite().fill_null(False) for c in ("entry", "stop", "target"))
    valid = finite & pl.col("side").is_in(SIDES) & pl.col("ts").is_not_null() & (risk > 0) & (reward > 0)
    sig = sig.with_columns(_valid=valid.fill_null(False), _risk=risk, _reward=reward)

    ref = _reference(sig.filter("_valid"), minute, daily, params.close_tolerance)
    sig = sig.join(ref, on="_sid", how="left").with_columns(
        pl.col("has_ref").fill_null(False), pl.col("immediate").fill_null(False)
    )
    path = _paths(sig.filter("_valid"), minute, daily, as_of).join(
        sig.select("_sid", "side", "entry", "stop", "target", "immediate"), on="_sid"
    )
    reach = pl.when(long).then(pl.col("high") >= entry).otherwise(pl.col("low") <= entry)
    hit_stop = pl.when(long).then(pl.col("low") <= stop).otherwise(pl.col("high") >= stop)
    hit_target = pl.when(long).then(pl.col("high") >= target).otherwise(pl.col("low") <= target)
    path = path.with_columns(_stop=hit_stop, _target=hit_target,
                             _armed=(pl.col("immediate") | reach).cast(pl.Int8).cum_max().over("_sid") == 1)
    touch = pl.col("_armed") & (pl.col("_stop") | pl.col("_target"))
    found = path.group_by("_sid", maintain_order=True).agg(
        n_bars=pl.len(),
        first_armed=pl.col("bar_ts").filter("_armed").first(),
        exit_ts=pl.col("bar_ts").filter(touch).first(),
        stopped=pl.col("_stop").filter(touch).first(),
        last_ts=pl.col("bar_ts").last(),
        last_close=pl.col("close").last(),
    )
    out = sig.join(found, on="_sid", how="left").sort("_sid")

    over = (pl.col("horizon_end") <= as_of).fill_null(False) if as_of is not None else pl.lit(True)
    triggered = pl.col("immediate") | pl.col("first_armed").is_not_null()
    no_data = (pl.col("n_bars").fill_null(0) == 0) & ~pl.col("has_ref")
    status = (
        pl.when(~pl.col("_valid")).then(pl.lit("invalid"))
        .when(pl.col("exit_ts").is_not_null()).then(pl.when(pl.col("stopped")).then(pl.lit("stopped"))
                                                    .otherwise(pl.lit("target")))
        .when(over & no_data).then(pl.lit("no_bars"))
        .when(triggered).then(pl.when(over).then(pl.lit("expired")).otherwise(pl.lit("triggered")))
        .otherwise(pl.when(over).then(pl.lit("untriggered")).otherwise(pl.lit("pending")))
    )
    out = out.with_columns(status=status, trigger_ts=pl.when(pl.col("immediate")).then(pl.col("ts"))
                           .otherwise(pl.col("first_armed")))
    st = pl.col("status")
    exit_price = (
        pl.when(st == "stopped").then(stop).when(st == "target").then(target)
        .when(st == "expired").then(pl.coalesce("last_close", "ref_close"))
    )
    out = out.with_columns(
        exit_ts=pl.when(st.is_in(("stopped", "target"))).then(pl.col("exit_ts"))
        .when(st == "expired").then(pl.coalesce("last_ts", "ts")),
        exit_price=exit_price,
    ).with_columns(
        r_multiple=pl.when(st == "stopped").then(pl.lit(-1.0))
        .when(st == "target").then(pl.col("_reward") / pl.col("_risk"))
        .when(st == "expired").then(pl.when(long).then(pl.col("exit_price") - entry)
                                    .otherwise(entry - pl.col("exit_price")) / pl.col("_risk"))
        .round(4),
        status_ts=pl.when(st == "pending").then(pl.col("ts"))
        .when(st == "triggered").then(pl.col("trigger_ts"))
        .when(st.is_in(("stopped", "target"))).then(pl.col("exit_ts"))
        .when(st.is_in(("expired", "untriggered"))).then(pl.col("horizon_end")),
    )
    return out.select(pl.col(c).cast(t) for c, t in RESOLVED_SCHEMA.items())


def as_dataset(resolved: pl.DataFrame, regimes: pl.DataFrame | None = None) -> pl.DataFrame:
    """Resolved signals as ``signal_outcomes`` rows (``OUTCOMES_SCHEMA``): ``date`` = ``resolves_on``.

    ``regimes`` (``date, horizon, regime``) gives each signal the regime it was made in."""
    out = resolved.rename({"date": "signal_date"}).with_columns(date=pl.col("resolves_on"))
    if regimes is not None and not regimes.is_empty():
        out = out.join(regimes.rename({"date": "signal_date"}), on=["signal_date", "horizon"], how="left")
    if "regime" not in out.columns:
        out = out.with_columns(regime=pl.lit(None, pl.String))
    out = out.with_columns(pl.col("regime").fill_null("unknown"))
    return out.select(pl.col(c).cast(t) for c, t in OUTCOMES_SCHEMA.items()).sort("date", "screener", "symbol", "ts")
