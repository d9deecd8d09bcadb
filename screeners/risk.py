"""Risk limits and position sizing for the trade plan: pure polars, no loop per row.

``RiskLimits`` holds an account's rules: its size, the risk per trade (percent of the account),
its buying power (``buying_power_multiple`` x the account: 1 for a cash account, 2 for Reg-T
margin, 4 for intraday margin), the largest position (``max_position_pct`` of the account, never
more than the buying power), the most the plan may hold at once (``max_exposure_pct`` of the
buying power) and the least reward:risk worth taking (``min_reward_risk``, 1.5).

Two steps, because the second needs the plan's rank order and the rank order uses the first:

1. ``with_reward_risk`` rounds entry, stop and target to cents, the prices a trader sees, and
   computes ``risk_per_share`` and ``reward_risk`` from those rounded prices, so a row shown as
   "2R" is 2R at the prices shown (``reward_risk`` is rounded *down* to 0.01, never flattering).
   It names the first per-row limit a row breaks in ``blocked_by``: ``prices`` (a price missing,
   NaN, infinite or not positive), ``risk`` (the stop not beyond the entry), ``reward_risk``
   (below ``min_reward_risk``; a target on the wrong side is below it too).
2. ``size_positions`` sizes the rows in the order given (the plan's rank). A row's shares are the
   fewest of: the risk budget over the risk per share, the largest position over the entry, and
   what the exposure left by the rows above it buys; ``sized_by`` names which one decided
   (``risk``, ``max_position``, ``exposure``). Exposure is spent in rank order: the rows above take
   their full size, the first row that no longer fits takes what is left, every row after it is
   blocked. A row that cannot buy one share is blocked too: ``risk_budget`` (one share risks more
   than the budget), ``max_position`` (one share costs more than the largest position),
   ``exposure`` (nothing left). Blocked rows get 0 shares and a null ``sized_by``, and move after
   the sized rows, keeping their order: they stay in the plan, marked, never sized.

So ``position_value <= max_position_value <= buying_power`` on every row and the plan's total
``position_value <= max_exposure <= buying_power``. Shorts count their full value (the margin a
short needs is at least that), like longs.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

PRICES = ("entry", "stop", "target")
PRICE_DECIMALS = 2  # cents: the prices a trader sees and orders with
BLOCKS = ("prices", "risk", "reward_risk", "risk_budget", "max_position", "exposure")  # blocked_by values
EPSILON = 1e-9  # float noise in a ratio of cent prices, never a real difference


@dataclass(frozen=True)
class RiskLimits:
    account_size: float = 100_000.0
    risk_per_trade_pct: float = 1.0  # percent of the account risked per trade
    buying_power_multiple: float = 1.0  # buying power = this x the account (1 = cash account)
    max_position_pct: float = 25.0  # one position's value, percent of the account (capped at buying power)
    max_exposure_pct: float = 100.0  # the plan's total position value, percent of the buying power
    min_reward_risk: float = 1.5  # rows below this reward:risk are blocked

    def __post_init__(self) -> None:
        checks = {
            "account_size": self.account_size > 0,
            "risk_per_trade_pct": 0 < self.risk_per_trade_pct <= 100,
            "buying_power_multiple": self.buying_power_multiple > 0,
            "max_position_pct": self.max_position_pct > 0,
            "max_exposure_pct": 0 < self.max_exposure_pct <= 100,
            "min_reward_risk": self.min_reward_risk >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"risk limits out of range: {', '.join(f'{n}={getattr(self, n)}' for n in bad)}")

    @property
    def buying_power(self) -> float:
        return self.account_size * self.buying_power_multiple

    @property
    def risk_budget(self) -> float:
        """Dollars a trade may lose at its stop."""
        return self.account_size * self.risk_per_trade_pct / 100.0

    @property
    def max_position_value(self) -> float:
        return min(self.account_size * self.max_position_pct / 100.0, self.buying_power)

    @property
    def max_exposure(self) -> float:
        return self.buying_power * self.max_exposure_pct / 100.0


def with_reward_risk(rows: pl.DataFrame, limits: RiskLimits = RiskLimits()) -> pl.DataFrame:
    """``rows`` (``side``, ``entry``, ``stop``, ``target``) with the prices rounded to cents,
    ``risk_per_share``, ``reward_risk`` (from the rounded prices) and ``blocked_by`` (the first
    per-row limit broken, null when none)."""
    long = pl.col("side") == "long"
    rounded = rows.with_columns(
        pl.col(c).cast(pl.Float64).fill_nan(None).round(PRICE_DECIMALS) for c in PRICES
    )
    entry, stop, target = (pl.col(c) for c in PRICES)
    risk = pl.when(long).then(entry - stop).otherwise(stop - entry)
    reward = pl.when(long).then(target - entry).otherwise(entry - target)
    exact = pl.when(risk > 0).then(reward / risk)
    valid = pl.all_horizontal((pl.col(c).is_finite() & (pl.col(c) > 0)).fill_null(False) for c in PRICES)
    blocked = (
        pl.when(~valid).then(pl.lit("prices"))
        .when(~(risk > 0).fill_null(False)).then(pl.lit("risk"))
        .when(~(exact + EPSILON >= limits.min_reward_risk).fill_null(False)).then(pl.lit("reward_risk"))
    )
    return rounded.with_columns(
        risk_per_share=pl.when(valid).then(risk.round(4)),
        reward_risk=pl.when(valid).then(((exact * 100.0 + 1e-6).floor() / 100.0)),  # rounded down
        blocked_by=blocked,
    )


def size_positions(ranked: pl.DataFrame, limits: RiskLimits = RiskLimits()) -> pl.DataFrame:
    """``ranked`` (best first, from ``with_reward_risk``) with ``shares``, ``position_value`` and
    ``sized_by``, exposure spent in that order; ``blocked_by`` completed and blocked rows moved
    after the sized ones (in their order)."""
    open_row = pl.col("blocked_by").is_null()
    entry, risk = pl.col("entry"), pl.col("risk_per_share")
    by_risk = (limits.risk_budget / risk + EPSILON).floor()  # the risk budget, at the stop
    by_position = (limits.max_position_value / entry).floor()  # never a cent over the largest position
    out = ranked.with_columns(
        _by_risk=pl.when(open_row).then(by_risk),
        _by_position=pl.when(open_row).then(by_position),
    ).with_columns(
        blocked_by=pl.when(open_row & (pl.col("_by_risk") < 1)).then(pl.lit("risk_budget"))
        .when(open_row & (pl.col("_by_position") < 1)).then(pl.lit("max_position"))
        .otherwise(pl.col("blocked_by")),
    )
    wanted = pl.when(pl.col("blocked_by").is_null()).then(pl.min_horizontal("_by_risk", "_by_position"))
    out = out.with_columns(_wanted=wanted.fill_null(0.0)).with_columns(
        _value=(pl.col("_wanted") * entry).fill_null(0.0)
    )
    left = limits.max_exposure - (pl.col("_value").cum_sum() - pl.col("_value"))  # after the rows above
    fits = (left.clip(lower_bound=0.0) / entry).floor()
    out = out.with_columns(_shares=pl.min_horizontal("_wanted", fits).fill_null(0.0))
    out = out.with_columns(
        blocked_by=pl.when(pl.col("blocked_by").is_null() & (pl.col("_shares") < 1))
        .then(pl.lit("exposure"))
        .otherwise(pl.col("blocked_by")),
    )
    sized = pl.col("blocked_by").is_null()
    out = out.with_columns(
        shares=pl.when(sized).then(pl.col("_shares")).otherwise(0.0).cast(pl.Int64),
        sized_by=pl.when(~sized).then(None)
        .when(pl.col("_shares") < pl.col("_wanted")).then(pl.lit("exposure"))
        .when(pl.col("_by_position") < pl.col("_by_risk")).then(pl.lit("max_position"))
        .otherwise(pl.lit("risk")),
    ).with_columns(position_value=(pl.col("shares") * entry).round(2).fill_null(0.0))
    out = out.drop("_by_risk", "_by_position", "_wanted", "_value", "_shares")
    return out.sort(pl.col("blocked_by").is_not_null(), maintain_order=True)
