"""Signal outcomes and the screener scorecard: thin wiring of ``screeners.outcomes`` and ``screeners.scorecard``.

``signal_outcomes[D]`` holds the final outcomes, by the first-touch rule, of the signals whose
horizon ends on session D: every screener's intraday signals of D (resolved on D's 1-minute bars)
and its daily signals of the session ten before D (resolved on the daily bars of the ten sessions
after it), each with the market regime it was made in (SPY against its 200-day SMA, as the
dashboard computes it: as of the session before for an intraday signal, as of its own close for a
daily one). A partition is known at D's close and never changes afterwards, so a scorecard read
from it never looks ahead. ``no_bars`` rows (no bar of the symbol in the horizon) are kept and
counted, never scored.

``screener_scorecard[D]`` is every screener's track record over the 60 sessions of
``signal_outcomes`` ending with D: per score bucket and regime, signals, triggered, hit rate,
average R, expectancy and the worst run of losses (``screeners.scorecard``). Its metadata says how
many of those sessions the lake holds: a young lake's scorecard says so, it does not pretend.

Both take a range of sessions in one run (single-run backfills): the outcomes session by session
(each reads only its own 1-minute bars, of the symbols with intraday signals), the scorecard of
every session at once.
"""


import datetime as dt

import dagster as dg
import polars as pl

from screeners import outcomes, scorecard
from screeners.dashboard import DashboardParams, combine_signals, market_regime
from screeners.registry import SCREENERS, signals_dataset
from tradingstation.assets.signals import sessions_of
from tradingstation.core import calendar
from tradingstation.ops.tables import markdown_table
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.resources.lake_io import LakeResource
from tradingstation.resources.windows import window_in

HORIZON = outcomes.OutcomeParams().daily_sessions
REGIME = DashboardParams()  # regime_symbol and regime_sma: the dashboard's
INTRADAY = outcomes.intraday_screeners(SCREENERS.values())
MINUTE_COLUMNS = ["symbol", "ts", "high", "low", "close"]
# What the UI shows (two lines, like the other assets); the rules are this module's docstring and the README.
OUTCOMES_DESCRIPTION = (
    "What happened to each signal (first-touch rule), written once on the session its outcome became final: "
    f"an intraday signal's own session, a daily signal's {HORIZON}th session after it.\n\n"
    f"After the close; reads every screener's signals ({HORIZON} sessions before and the session), "
    f"{HORIZON + REGIME.regime_sma} daily bars before the session, the session's intraday_1m."
)
SCORECARD_DESCRIPTION = (
    f"Each screener's track record per score bucket and regime over the {scorecard.DEFAULT_SESSIONS} sessions of "
    "signal_outcomes ending with the session: signals, triggered, hit rate, average R, expectancy, worst losing run.\n\n"
    f"After the close; reads signal_outcomes ({scorecard.DEFAULT_SESSIONS - 1} sessions before and the session)."
)


def _asset(**kwargs):
    return dg.asset(
        partitions_def=SESSION_PARTITIONS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="scorecard",
        kinds={"polars", "parquet"},
        **kwargs,
    )


def regimes(daily: pl.DataFrame, resolved: pl.DataFrame) -> pl.DataFrame:
    """``date, horizon, regime`` of each signal session: the regime when the signal was made.

    One ``market_regime`` call per signal session and horizon (not per signal), on the regime
    symbol's bars only."""
    spy = daily.filter(pl.col("symbol") == REGIME.regime_symbol)
    pairs = resolved.select("date", "horizon").unique().sort("date", "horizon").rows()
    rows = []
    for day, horizon in pairs:
        as_of = calendar.previous_session(day) if horizon == "intraday" else day
        rows.append((day, horizon, market_regime(spy, as_of, REGIME.regime_symbol, REGIME.regime_sma)))
    return pl.DataFrame(rows, schema={"date": pl.Date, "horizon": pl.String, "regime": pl.String}, orient="row")


def resolve_session(day: dt.date, due: pl.DataFrame, daily: pl.DataFrame, lake: LakeResource) -> pl.DataFrame:
    """The outcomes of the signals ``due`` on ``day`` (``resolves_on == day``), as of its close."""
    symbols = due.filter(pl.col("horizon") == "intraday")["symbol"].unique().to_list()
    minute = None
    if symbols:
        lake_store = lake.get()
        minute = lake_store.read("intraday_1m", sessions=[day], symbols=symbols, columns=MINUTE_COLUMNS)
    return outcomes.resolve(due, minute, daily, intraday=INTRADAY, as_of=calendar.session_close(day))


# Same-session edges; the history windows are loaded by the IO manager (tradingstation.resources.windows).
# history_optional: a young lake lacks the earlier sessions, and the metadata says so (no warning)
SIGNAL_INS = {signals_dataset(name): window_in(signals_dataset(name), HORIZON, history_optional=True)
              for name in SCREENERS}


@_asset(
    ins={**SIGNAL_INS, "daily_bars": window_in("daily_bars", HORIZON + REGIME.regime_sma, history_optional=True)},
    deps=["intraday_1m"],  # read in the asset: one session at a time, only the symbols with intraday signals
    description=OUTCOMES_DESCRIPTION,
)
def signal_outcomes(context: dg.AssetExecutionContext, lake: LakeResource, **inputs: pl.DataFrame) -> dg.Output:
    daily = inputs.pop("daily_bars")
    keys = sessions_of(context)
    signals = outcomes.horizons(combine_signals(inputs.values()), INTRADAY)
    due = signals.filter(pl.col("resolves_on").is_in(pl.Series(keys, dtype=pl.Date).implode()))
    parts = [resolve_session(day, due.filter(pl.col("resolves_on") == day), daily, lake)
             for day in keys]  # one session's bars at a time; each resolve is vectorized over its signals
    resolved = pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=outcomes.RESOLVED_SCHEMA)
    rows = outcomes.as_dataset(resolved, regimes(daily, resolved))
    statuses = dict(rows.group_by("status").len().iter_rows()) if rows.height else {}
    last = rows.filter(pl.col("date") == keys[-1])
    return dg.Output(
        rows,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rows.height),
            "by_status": dg.MetadataValue.json(statuses),
            "no_bars": dg.MetadataValue.int(statuses.get("no_bars", 0)),
            "by_screener": dg.MetadataValue.json(dict(rows.group_by("screener").len().sort("screener").iter_rows())
                                                 if rows.height else {}),
            "rule": dg.MetadataValue.text("first touch: long triggers at high >= entry (at once when entry is the "
                                          "signal bar's close); low <= stop -> -1R, high >= target -> target R; "
                                          "both in one bar = stopped; intraday: the session's 1-minute bars, "
                                          f"daily: the next {HORIZON} sessions' bars"),
            "preview": dg.MetadataValue.md(_preview(last)),
        },
    )


def _preview(rows: pl.DataFrame) -> str:
    cols = ["signal_date", "symbol", "screener", "side", "score", "status", "r_multiple"]
    return markdown_table(rows.sort("screener", "symbol").select(cols))


@_asset(
    ins={"signal_outcomes": window_in("signal_outcomes", scorecard.DEFAULT_SESSIONS - 1, history_optional=True)},
    description=SCORECARD_DESCRIPTION,
)
def screener_scorecard(context: dg.AssetExecutionContext, lake: LakeResource, signal_outcomes: pl.DataFrame) -> dg.Output:
    keys = sessions_of(context)
    card = scorecard.scorecard(signal_outcomes, keys, scorecard.DEFAULT_SESSIONS)
    window = [*calendar.sessions_before(keys[-1], scorecard.DEFAULT_SESSIONS - 1), keys[-1]]
    stored = set(lake.get().sessions("signal_outcomes")).intersection(window)
    history = f"{len(stored)} of the {len(window)} sessions {window[0]} .. {window[-1]} have signal_outcomes"
    tracked = card.filter((pl.col("date") == keys[-1]) & (pl.col("regime") == scorecard.ALL)
                          & (pl.col("score_bucket") != scorecard.ALL) & (pl.col("signals") >= scorecard.MIN_SIGNALS))
    return dg.Output(
        card,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(card.height),
            "history": dg.MetadataValue.text(history + ("" if len(stored) == len(window) else ": not enough history yet")),
            "buckets_with_a_record": dg.MetadataValue.int(tracked.height),
            "scorecard": dg.MetadataValue.md(scorecard.markdown_table(card.filter(pl.col("date") == keys[-1]))),
        },
    )


OUTCOME_ASSETS = [signal_outcomes, screener_scorecard]
