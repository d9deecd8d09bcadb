"""Master dashboard: every screener's recent signals merged into one ranked, sized trade list.

Signals with ``as_of - hours_lookback < ts <= as_of`` (a signal stamped exactly at the previous close is out) and ``score >=
min_score`` are kept; each screener's best signal per symbol and side (highest score, then the
latest) is merged into one row per (symbol, side). ``confluence`` is the number of distinct
screeners agreeing; the composite score is ``min(10, best score + confluence_bonus × (confluence -
1)) - regime_penalty`` when the trade is against the market regime, clipped to 0-10. Entry, stop
and target come from the best-scoring signal; shares = floor(account_size × risk_per_trade_pct% /
risk per share), 0 when the risk is not positive. The regime is ``regime_symbol``'s last close
against its ``regime_sma``-day SMA as of the dashboard date ('unknown' with less history). A
symbol with both long and short rows keeps both, flagged in ``reasons``. Rows are ranked by
composite score, then confluence, then reward:risk.

Inputs: the screeners' signals (``screeners.common.SIGNAL_SCHEMA``) and daily bars (regime, charts).
Which screeners there are, and what each reads, is ``screeners.registry``'s business.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from screeners.common import SIDES, SIGNAL_SCHEMA


@dataclass(frozen=True)
class DashboardParams:
    hours_lookback: int = 24  # runbook --hours-lookback
    account_size: float = 100_000.0
    risk_per_trade_pct: float = 1.0  # percent of the account risked per trade
    regime_symbol: str = "SPY"
    regime_sma: int = 200
    top_n: int = 20  # rows charted in the HTML page
    min_score: float = 0.0  # drop single signals scoring below this
    confluence_bonus: float = 1.0  # extra: composite points per further agreeing screener
    regime_penalty: float = 2.0  # extra: composite points off a trade against the regime


DASHBOARD_SCHEMA = pl.Schema(
    {
        "date": pl.Date,  # the dashboard's session
        "rank": pl.Int64,  # 1 = best
        "symbol": pl.String,
        "side": pl.String,  # 'long' | 'short'
        "composite_score": pl.Float64,  # 0-10, see the module docstring
        "confluence": pl.Int64,  # distinct screeners agreeing on this symbol and side
        "screeners": pl.String,  # their names, sorted, comma-separated
        "entry": pl.Float64,  # entry/stop/target: from the best-scoring signal
        "stop": pl.Float64,
        "target": pl.Float64,
        "reward_risk": pl.Float64,  # reward / risk per share; null when the risk is not positive
        "risk_per_share": pl.Float64,  # entry - stop (long) or stop - entry (short)
        "shares": pl.Int64,  # floor(account × risk% / risk_per_share); 0 when risk <= 0
        "position_value": pl.Float64,  # shares × entry
        "regime": pl.String,  # 'bull' | 'bear' | 'unknown'
        "against_regime": pl.Boolean,  # long in a bear regime or short in a bull regime
        "reasons": pl.String,  # 'screener: reason' of each contributor, best first, joined ' | '
        "latest_signal_ts": pl.Datetime("us", "UTC"),  # newest contributing signal
    }
)

CHART_SESSIONS = 60
PRICE_COLS = ("score", "entry", "stop", "target")


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


def build_dashboard(signals: pl.DataFrame, daily: pl.DataFrame, as_of: dt.datetime, date: dt.date,
                    params: DashboardParams = DashboardParams()) -> pl.DataFrame:
    """One ranked row per (symbol, side) from the signals of the lookback window ending at ``as_of``."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware (UTC)")
    start = as_of - dt.timedelta(hours=params.hours_lookback)
    sig = combine_signals([signals]).filter(
        pl.col("ts").is_between(start, as_of, closed="right")
        & (pl.col("score") >= params.min_score) & pl.col("side").is_in(SIDES)
    )
    if sig.is_empty():
        return pl.DataFrame(schema=DASHBOARD_SCHEMA)
    regime = market_regime(daily, date, params.regime_symbol, params.regime_sma)
    best, desc = [pl.col("score"), pl.col("ts"), pl.col("screener")], [True, True, False]  # best first
    per = sig.sort(best, descending=desc)  # keep each screener's best signal per symbol and side
    per = per.unique(["symbol", "side", "screener"], keep="first", maintain_order=True)
    first = {c: pl.col(c).sort_by(best, descending=desc).first() for c in PRICE_COLS}
    rows = per.group_by("symbol", "side").agg(
        confluence=pl.col("screener").n_unique().cast(pl.Int64),
        screeners=pl.col("screener").sort().str.join(", "),
        reasons=(pl.col("screener") + ": " + pl.col("reasons").fill_null("")).sort_by(best, descending=desc)
        .str.join(" | "),
        latest_signal_ts=pl.col("ts").max(),
        **first,
    )
    long = pl.col("side") == "long"
    entry, stop, target = pl.col("entry"), pl.col("stop"), pl.col("target")
    reward = pl.when(long).then(target - entry).otherwise(entry - target)
    risk = pl.when(long).then(entry - stop).otherwise(stop - entry)
    budget = params.account_size * params.risk_per_trade_pct / 100.0
    against = (long & pl.lit(regime == "bear")) | (~long & pl.lit(regime == "bull"))
    both = pl.col("side").n_unique().over("symbol") > 1
    out = rows.with_columns(
        date=pl.lit(date, pl.Date), regime=pl.lit(regime), against_regime=against,
        risk_per_share=risk.round(4),
        reward_risk=pl.when(risk > 0).then((reward / risk).round(2)),
        shares=pl.when(risk > 0).then((budget / risk + 1e-9).floor()).otherwise(0).cast(pl.Int64),
        reasons=pl.when(both).then(pl.lit("opposite-side signals too | ") + pl.col("reasons"))
        .otherwise(pl.col("reasons")),
    ).with_columns(
        composite_score=(
            (pl.col("score") + params.confluence_bonus * (pl.col("confluence") - 1)).clip(upper_bound=10.0)
            - pl.when(pl.col("against_regime")).then(params.regime_penalty).otherwise(0.0)
        ).clip(0.0, 10.0).round(2),
        position_value=(pl.col("shares") * pl.col("entry")).round(2),
    )
    order = ["composite_score", "confluence", "reward_risk", "symbol", "side"]
    out = out.sort(order, descending=[True] * 3 + [False] * 2, nulls_last=True).with_row_index("rank", 1)
    return out.select(pl.col(c).cast(t) for c, t in DASHBOARD_SCHEMA.items())


def markdown_preview(dashboard: pl.DataFrame, rows: int = 10) -> str:
    """A Markdown table of the top ``rows`` rows (for the Dagster UI)."""
    head = "| # | symbol | side | score | conf | screeners | entry | stop | target | R:R | shares | against |"
    lines = [head, "|" + "---|" * 12]
    for r in dashboard.head(rows).iter_rows(named=True):
        rr = "" if r["reward_risk"] is None else f"{r['reward_risk']:.2f}"
        lines.append(
            f"| {r['rank']} | {r['symbol']} | {r['side']} | {r['composite_score']:.2f} | {r['confluence']} "
            f"| {r['screeners']} | {r['entry']:.2f} | {r['stop']:.2f} | {r['target']:.2f} | {rr} "
            f"| {r['shares']} | {'yes' if r['against_regime'] else ''} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m screeners.dashboard``: the CLI layer reads the lake or runs the screeners."""
    from tradingstation.cli.dashboard import main as run_dashboard  # the one upward call

    return run_dashboard(argv)


if __name__ == "__main__":
    raise SystemExit(main())
