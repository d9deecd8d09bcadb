"""Master dashboard: every screener's recent signals merged into one ranked, sized trade list.

Signals with ``as_of - hours_lookback < ts <= as_of`` (a signal stamped exactly at the previous close is out) and ``score >=
min_score`` are kept and merged into one row per (symbol, side):

- **Plan score.** Each signal gets a base comparable across screeners (``screeners.scorecard.plan_base``):
  its screener's expectancy in its score bucket mapped onto 0-10 when the scorecard holds at least
  ``track_record_signals`` (30) final outcomes there, else its own score; ``score_basis`` says which.
  The row's best signal (highest base, then score, then the latest) is its anchor: entry, stop and
  target come from it. ``plan_score = min(10, base + confluence_bonus × (confluence - 1)) -
  regime_penalty`` when the trade is against the regime, clipped to 0-10; ``composite_score`` is the
  same with the screener's own score as the base.
- **Confluence** counts the distinct screeners with a signal on the same side as the anchor within
  ``confluence_minutes`` (60) of it when both are intraday setups, in the same session when either
  is a daily one. A symbol with rows on both sides is a ``conflict`` (both rows flagged, never
  confluence).
- **Status**: the anchor's outcome by the first-touch rule (``screeners.outcomes``) on the bars
  available at ``as_of``: pending, triggered, stopped, target, expired or untriggered, with
  ``status_ts`` the time it changed. A finished row (stopped, target, expired, untriggered) is
  shown while its session runs and dropped once that session has closed: the after-close plan
  holds the next session's candidates, not the day's finished intraday trades.
- Only the best ``top_n`` (20) rows are kept.
- **Upcoming earnings**: ``next_earnings`` (and its ``earnings_timing``) when a report of the symbol
  trades on the plan's session or within the next ``earnings_sessions`` (10) sessions.

Sizing is ``screeners.risk``'s (``DashboardParams.limits``): R:R from the rounded prices shown,
rows below ``min_reward_risk`` (1.5) or with no valid risk marked in ``blocked_by``; shares from
the risk per trade, capped by the largest position (``max_position_pct`` of the account) and by the
exposure (``max_exposure_pct`` of the buying power) spent in rank order; a row that cannot be sized
within the limits is kept, marked, with 0 shares, after the sized rows. Signals with a score or
price that is not a finite number never reach the plan. The regime is ``regime_symbol``'s last close
against its ``regime_sma``-day SMA as of the dashboard date ('unknown' with less history). Rows
are ranked by plan score, then composite score, confluence and reward:risk.

Inputs: the screeners' signals (``screeners.common.SIGNAL_SCHEMA``), daily bars (regime, charts,
status of daily setups), 1-minute bars (status of intraday setups), the latest scorecard and the
session's universe (each row's ``sector``, ``industry``, ``exchange``: ``screeners.sectors``; and
``chart_url``, its TradingView chart: ``screeners.exports``). Which screeners there are, and what each reads, is ``screeners.registry``'s business.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from screeners import exports, outcomes, risk, sectors
from screeners.common import SIDES, SIGNAL_SCHEMA, daily_from_minutes, finite_numbers
from screeners.risk import RiskLimits
from screeners.scorecard import MIN_SIGNALS, plan_base
from tradingstation.core import calendar


@dataclass(frozen=True)
class DashboardParams:
    hours_lookback: int = 24  # runbook --hours-lookback
    account_size: float = 100_000.0
    risk_per_trade_pct: float = 1.0  # percent of the account risked per trade
    regime_symbol: str = "SPY"
    regime_sma: int = 200
    top_n: int = 20  # rows the plan keeps, best first
    chart_rows: int = 20  # the plan's best rows charted in the HTML page (0: none; the charts are its main cost)
    min_score: float = 0.0  # drop single signals scoring below this
    confluence_bonus: float = 1.0  # extra: composite points per further agreeing screener
    regime_penalty: float = 2.0  # extra: composite points off a trade against the regime
    confluence_minutes: int = 60  # intraday signals agree within this many minutes of the anchor
    track_record_signals: int = MIN_SIGNALS  # final outcomes in a score bucket before its record scores
    buying_power_multiple: float = 1.0  # buying power = this x the account (1 cash, 2 Reg-T margin)
    max_position_pct: float = 25.0  # largest position, percent of the account (never over buying power)
    max_exposure_pct: float = 100.0  # the plan's total position value, percent of the buying power
    min_reward_risk: float = 1.5  # rows below this reward:risk are marked, not sized
    earnings_sessions: int = 10  # a row shows its symbol's next report when it trades within this many sessions

    @property
    def limits(self) -> RiskLimits:
        return RiskLimits(self.account_size, self.risk_per_trade_pct, self.buying_power_multiple,
                          self.max_position_pct, self.max_exposure_pct, self.min_reward_risk)


DASHBOARD_SCHEMA = pl.Schema(
    {
        "date": pl.Date,  # the dashboard's session
        "rank": pl.Int64,  # 1 = best
        "symbol": pl.String,
        "side": pl.String,  # 'long' | 'short'
        "plan_score": pl.Float64,  # 0-10, comparable across screeners: see the module docstring
        "score_basis": pl.String,  # where the anchor's base came from: its screener's record or its own score
        "composite_score": pl.Float64,  # 0-10, see the module docstring
        "confluence": pl.Int64,  # distinct screeners agreeing on this symbol and side
        "screeners": pl.String,  # their names, sorted, comma-separated
        "conflict": pl.Boolean,  # the symbol also has a row on the other side
        "entry": pl.Float64,  # entry/stop/target: from the best-scoring signal
        "stop": pl.Float64,
        "target": pl.Float64,
        "reward_risk": pl.Float64,  # reward / risk from the prices shown, rounded down; null: no risk
        "risk_per_share": pl.Float64,  # entry - stop (long) or stop - entry (short)
        "shares": pl.Int64,  # within the risk limits (screeners.risk); 0 when blocked
        "position_value": pl.Float64,  # shares × entry
        "sized_by": pl.String,  # the limit that set the size: risk | max_position | exposure; null when blocked
        "blocked_by": pl.String,  # the limit the row cannot meet (screeners.risk.BLOCKS); null when sized
        "regime": pl.String,  # 'bull' | 'bear' | 'unknown'
        "against_regime": pl.Boolean,  # long in a bear regime or short in a bull regime
        "reasons": pl.String,  # 'screener: reason' of each contributor, best first, joined ' | '
        "latest_signal_ts": pl.Datetime("us", "UTC"),  # newest contributing signal
        "status": pl.String,  # the anchor's outcome at as_of: pending, triggered, stopped, target, ...
        "status_ts": pl.Datetime("us", "UTC"),  # when the status last changed
        "next_earnings": pl.Date,  # the symbol's next report (date), when it trades within earnings_sessions
        "earnings_timing": pl.String,  # before_open | during_session | after_close | unknown
        "sector": pl.String,  # GICS sector, industry, exchange: from the session's universe (screeners.sectors)
        "industry": pl.String,
        "exchange": pl.String,  # NYSE | NASDAQ where known
        "chart_url": pl.String,  # the symbol's TradingView chart page (screeners.exports)
    }
)

CHART_SESSIONS = 60
PRICE_COLS = ("score", "entry", "stop", "target", "plan_base", "score_basis")
ANCHOR_COLS = ("ts", "date", "screener")  # the anchor signal, whose outcome is the row's status
BEST, BEST_DESC = ["plan_base", "score", "ts", "screener"], [True, True, True, False]  # best signal first


def combine_signals(frames: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """Stack screener outputs on their common signal columns (detail columns dropped)."""
    common = [f.select(pl.col(c).cast(t) for c, t in SIGNAL_SCHEMA.items()) for f in frames]
    if not common:
        return pl.DataFrame(schema=SIGNAL_SCHEMA)
    return pl.concat(common, how="diagonal_relaxed")


def market_regime(daily: pl.DataFrame, date: dt.date, symbol: str, sma: int) -> str:
    """'bull' when ``symbol`` closes above its ``sma``-day SMA as of ``date``, 'bear' when not."""
    bars = daily.filter((pl.col("symbol") == symbol) & (pl.col("date") <= date)).sort("date").tail(sma)
    if sma <= 0 or bars.height < sma or bars["close"].null_count():
        return "unknown"
    return "bull" if bars["close"][-1] > bars["close"].mean() else "bear"


def agreeing(sig: pl.DataFrame, minutes: int) -> pl.DataFrame:
    """Each (symbol, side)'s anchor (its best signal) and the signals that agree with it, best first,
    one per screener: intraday pairs within ``minutes``, pairs with a daily setup in one session."""
    ranked = sig.sort(BEST, descending=BEST_DESC)
    anchor = ranked.unique(["symbol", "side"], keep="first", maintain_order=True).select(
        "symbol", "side", _a_ts="ts", _a_date="date", _a_intraday="_intraday"
    )
    near = (pl.col("ts") - pl.col("_a_ts")).abs() <= pl.duration(minutes=minutes)
    agrees = pl.when(pl.col("_intraday") & pl.col("_a_intraday")).then(near).otherwise(pl.col("date") == pl.col("_a_date"))
    joined = ranked.join(anchor, on=["symbol", "side"], maintain_order="left").filter(agrees)
    return joined.unique(["symbol", "side", "screener"], keep="first", maintain_order=True)


def bars_so_far(daily: pl.DataFrame, minute_bars: pl.DataFrame | None) -> pl.DataFrame:
    """``daily`` plus, for each (symbol, session) it lacks, the daily bar so far from ``minute_bars``
    (during the session today's daily bar does not exist yet; a daily setup's status needs it)."""
    if minute_bars is None or minute_bars.is_empty() or "session" not in minute_bars.columns:
        return daily
    cols = ["date", "symbol", "ts", "open", "high", "low", "close", "volume"]
    today = daily_from_minutes(minute_bars).join(daily.select("symbol", "date"), on=["symbol", "date"], how="anti")
    return pl.concat([daily.select(cols), today.select(pl.col(c).cast(daily.schema[c]) for c in cols)])


def with_status(rows: pl.DataFrame, minute_bars: pl.DataFrame | None, daily: pl.DataFrame, as_of: dt.datetime,
                intraday: Collection[str]) -> pl.DataFrame:
    """``rows`` with ``status`` and ``status_ts``: their anchor signal's outcome at ``as_of``."""
    anchors = rows.select(*(pl.col(f"_a_{c}").alias(c) for c in ANCHOR_COLS), "symbol", "side", "score", "entry",
                          "stop", "target")
    found = outcomes.resolve(anchors, minute_bars, bars_so_far(daily, minute_bars), intraday=intraday, as_of=as_of)
    return rows.with_columns(status=found["status"], status_ts=found["status_ts"])


def build_dashboard(signals: pl.DataFrame, daily: pl.DataFrame, as_of: dt.datetime, date: dt.date,
                    params: DashboardParams = DashboardParams(), *, minute_bars: pl.DataFrame | None = None,
                    scorecard: pl.DataFrame | None = None, intraday: Collection[str] | None = None,
                    universe: pl.DataFrame | None = None, earnings: pl.DataFrame | None = None) -> pl.DataFrame:
    """The best ``top_n`` rows, one per (symbol, side), from the signals of the lookback ending at ``as_of``.

    ``minute_bars`` and ``daily`` (bars up to ``as_of``) give each row its status; ``scorecard``
    (the latest ``screener_scorecard``) the plan score; ``intraday`` names the intraday screeners
    (default: the registry's); ``universe`` (the session's) each row's sector, industry and exchange;
    ``earnings`` (the session's ``earnings`` partition) the symbol's next report (``with_upcoming_earnings``)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware (UTC)")
    start = as_of - dt.timedelta(hours=params.hours_lookback)
    sig = combine_signals([signals]).filter(
        pl.col("ts").is_between(start, as_of, closed="right")
        & (pl.col("score") >= params.min_score) & pl.col("side").is_in(SIDES) & finite_numbers()
    )
    if sig.is_empty():
        return pl.DataFrame(schema=DASHBOARD_SCHEMA)
    regime = market_regime(daily, date, params.regime_symbol, params.regime_sma)
    names = outcomes.registry_intraday() if intraday is None else list(intraday)
    sig = plan_base(sig, scorecard, params.track_record_signals).with_columns(_intraday=pl.col("screener").is_in(names))
    per = agreeing(sig, params.confluence_minutes)
    first = {c: pl.col(c).sort_by(BEST, descending=BEST_DESC).first() for c in PRICE_COLS}
    first |= {f"_a_{c}": pl.col(c).sort_by(BEST, descending=BEST_DESC).first() for c in ANCHOR_COLS}
    rows = per.group_by("symbol", "side").agg(
        confluence=pl.col("screener").n_unique().cast(pl.Int64),
        screeners=pl.col("screener").sort().str.join(", "),
        reasons=(pl.col("screener") + ": " + pl.col("reasons").fill_null("")).sort_by(BEST, descending=BEST_DESC)
        .str.join(" | "),
        latest_signal_ts=pl.col("ts").max(),
        **first,
    )
    rows = with_status(rows, minute_bars, daily, as_of, names)
    long = pl.col("side") == "long"
    against = (long & pl.lit(regime == "bear")) | (~long & pl.lit(regime == "bull"))
    out = rows.with_columns(
        date=pl.lit(date, pl.Date), regime=pl.lit(regime), against_regime=against,
    ).with_columns(
        composite_score=(
            (pl.col("score") + params.confluence_bonus * (pl.col("confluence") - 1)).clip(upper_bound=10.0)
            - pl.when(pl.col("against_regime")).then(params.regime_penalty).otherwise(0.0)
        ).clip(0.0, 10.0).round(2),
    )
    out = risk.with_reward_risk(out, params.limits)  # rounded prices, R:R from them, per-row limits
    out = with_upcoming_earnings(out, earnings, date, params.earnings_sessions)
    out = exports.with_chart_url(sectors.with_sectors(out, universe))  # sector etc. from ``universe`` (its rows)
    return rank_plan(out, as_of, date, params)


def with_upcoming_earnings(rows: pl.DataFrame, earnings: pl.DataFrame | None, date: dt.date,
                           sessions: int) -> pl.DataFrame:
    """``rows`` with ``next_earnings`` and ``earnings_timing``: the symbol's first report whose trading
    session (``session``: the next one after an after-close report) is ``date`` or one of the next
    ``sessions`` sessions: news that trades today (last night's report, this morning's) or soon; null
    when there is none."""
    empty = rows.with_columns(next_earnings=pl.lit(None, pl.Date), earnings_timing=pl.lit(None, pl.String))
    if earnings is None or earnings.is_empty() or sessions < 0:
        return empty
    horizon = calendar.sessions_in_range(date, date + dt.timedelta(days=2 * sessions + 10))[: sessions + 1]
    last = horizon[-1] if horizon else date
    upcoming = (
        earnings.filter(pl.col("session").is_between(date, last))
        .sort("report_date").unique("symbol", keep="first")
        .select("symbol", next_earnings="report_date", earnings_timing="timing")
    )
    return rows.join(upcoming, on="symbol", how="left", maintain_order="left")


def rank_plan(out: pl.DataFrame, as_of: dt.datetime, date: dt.date, params: DashboardParams) -> pl.DataFrame:
    """Plan score, finished rows dropped after their session, conflicts flagged, ranked, top ``top_n``."""
    penalty = pl.when(pl.col("against_regime")).then(params.regime_penalty).otherwise(0.0)
    bonus = params.confluence_bonus * (pl.col("confluence") - 1)
    out = out.with_columns(plan_score=((pl.col("plan_base") + bonus).clip(upper_bound=10.0) - penalty)
                           .clip(0.0, 10.0).round(2))
    session = calendar.session_times(date)
    over = pl.lit(as_of >= session.close) | (pl.col("status_ts") < session.open)  # its session has closed
    out = out.filter(~(pl.col("status").is_in(outcomes.FINAL) & over.fill_null(False)))
    conflict = pl.col("side").n_unique().over("symbol") > 1
    out = out.with_columns(
        conflict=conflict,
        reasons=pl.when(conflict).then(pl.lit("conflict: long and short signals | ") + pl.col("reasons"))
        .otherwise(pl.col("reasons")),
    )
    order = ["plan_score", "composite_score", "confluence", "reward_risk", "symbol", "side"]
    out = out.sort(order, descending=[True] * 4 + [False] * 2, nulls_last=True)
    out = risk.size_positions(out, params.limits).head(params.top_n)  # exposure spent in rank order
    out = out.with_row_index("rank", 1)
    return out.select(pl.col(c).cast(t) for c, t in DASHBOARD_SCHEMA.items())


def markdown_preview(dashboard: pl.DataFrame, rows: int = 10) -> str:
    """A Markdown table of the top ``rows`` rows (for the Dagster UI)."""
    head = ("| # | symbol | side | plan | score | conf | screeners | entry | stop | target | R:R | shares | status "
            "| against |")
    lines = [head, "|" + "---|" * 14]
    for r in dashboard.head(rows).iter_rows(named=True):
        rr = "" if r["reward_risk"] is None else f"{r['reward_risk']:.2f}"
        side = f"{r['side']} (conflict)" if r["conflict"] else r["side"]
        lines.append(
            f"| {r['rank']} | {r['symbol']} | {side} | {r['plan_score']:.2f} | {r['composite_score']:.2f} "
            f"| {r['confluence']} | {r['screeners']} | {r['entry']:.2f} | {r['stop']:.2f} | {r['target']:.2f} | {rr} "
            f"| {r['shares']}{'' if r['blocked_by'] is None else ' (' + r['blocked_by'] + ')'} "
            f"| {r['status']} {_clock(r['status_ts'])} | {'yes' if r['against_regime'] else ''} |"
        )
    return "\n".join(lines)


def _clock(ts: dt.datetime | None) -> str:
    """'11-25 10:42' New York time, or '' (the time a status changed)."""
    return "" if ts is None else ts.astimezone(calendar.NY).strftime("%m-%d %H:%M")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screeners.dashboard``: the CLI layer reads the lake or runs the screeners."""
    from tradingstation.cli.dashboard import main as run_dashboard  # the one upward call

    return run_dashboard(argv)


if __name__ == "__main__":
    raise SystemExit(main())
