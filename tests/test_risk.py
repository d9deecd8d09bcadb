"""Risk limits and sizing (screeners/risk.py), alone and through the dashboard, on frames built here."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from screeners import common, risk
from screeners.dashboard import DashboardParams, build_dashboard
from screeners.risk import RiskLimits
from tradingstation.core import calendar, schemas

DATE = dt.date(2025, 11, 25)
AS_OF = calendar.session_close(DATE)
NO_REGIME = pl.DataFrame(schema=schemas.DAILY_BARS)


def _rows(*rows: tuple[str, str, float, float, float]) -> pl.DataFrame:
    """Plan rows in rank order: (symbol, side, entry, stop, target)."""
    return pl.DataFrame(rows, schema=["symbol", "side", "entry", "stop", "target"], orient="row")


def _size(rows: pl.DataFrame, limits: RiskLimits = RiskLimits()) -> pl.DataFrame:
    return risk.size_positions(risk.with_reward_risk(rows, limits), limits)


def _signals(n: int, seed: int = 7) -> pl.DataFrame:
    """``n`` random signals with unrounded prices, cheap and dear stocks, tight and wide stops,
    reward:risk from 0.3 to 4, both sides."""
    rng = np.random.default_rng(seed)
    entry = np.exp(rng.uniform(np.log(2.0), np.log(900.0), n)) + rng.uniform(0, 0.01, n)
    risk_ = entry * rng.uniform(0.001, 0.08, n)
    rr = rng.uniform(0.3, 4.0, n)
    long = rng.random(n) < 0.6
    sign = np.where(long, 1.0, -1.0)
    return pl.DataFrame({
        "date": [DATE] * n,
        "ts": [AS_OF - dt.timedelta(minutes=int(m)) for m in rng.integers(1, 600, n)],
        "symbol": [f"S{i:03d}" for i in range(n)],
        "screener": rng.choice(["orb", "breakout", "gapgo", "ema_pullback"], n).tolist(),
        "side": np.where(long, "long", "short").tolist(),
        "score": rng.uniform(0, 10, n),
        "entry": entry,
        "stop": entry - sign * risk_,
        "target": entry + sign * rr * risk_,
        "reasons": ["why"] * n,
    }, schema=common.SIGNAL_SCHEMA)


def _check_limits(plan: pl.DataFrame, limits: RiskLimits) -> pl.DataFrame:
    """Every limit on a plan; returns its sized rows."""
    sized = plan.filter(pl.col("blocked_by").is_null())
    assert (sized["shares"] >= 1).all() and (plan.filter(pl.col("blocked_by").is_not_null())["shares"] == 0).all()
    assert (sized["position_value"] <= limits.max_position_value).all()
    assert sized["position_value"].sum() <= limits.max_exposure <= limits.buying_power
    assert (sized["shares"] * sized["risk_per_share"] <= limits.risk_budget + 1e-6).all()
    # R:R recomputed from the prices as shown (cents) is what the row says, and never under the minimum
    long = pl.col("side") == "long"
    shown = sized.select(
        rr=pl.when(long).then(pl.col("target") - pl.col("entry")).otherwise(pl.col("entry") - pl.col("target"))
        / pl.when(long).then(pl.col("entry") - pl.col("stop")).otherwise(pl.col("stop") - pl.col("entry")),
        reward_risk="reward_risk",
        cents=pl.all_horizontal((pl.col(c) * 100 - (pl.col(c) * 100).round()).abs() < 1e-6 for c in risk.PRICES),
    )
    assert shown["cents"].all()
    assert (shown["rr"] >= limits.min_reward_risk - 1e-9).all()
    assert (shown["reward_risk"] <= shown["rr"] + 1e-9).all() and (shown["rr"] - shown["reward_risk"] < 0.01).all()
    return sized


@pytest.mark.parametrize("limits", [
    RiskLimits(),
    RiskLimits(account_size=25_000, risk_per_trade_pct=2.0, max_position_pct=100.0),
    RiskLimits(buying_power_multiple=4.0, max_position_pct=150.0, max_exposure_pct=50.0, min_reward_risk=2.0),
    RiskLimits(buying_power_multiple=0.5, max_position_pct=80.0),  # a position cap above the buying power
])
def test_no_row_over_buying_power_or_under_the_minimum_reward_risk(limits: RiskLimits) -> None:
    sig = _signals(400)
    params = DashboardParams(
        top_n=400, account_size=limits.account_size, risk_per_trade_pct=limits.risk_per_trade_pct,
        buying_power_multiple=limits.buying_power_multiple, max_position_pct=limits.max_position_pct,
        max_exposure_pct=limits.max_exposure_pct, min_reward_risk=limits.min_reward_risk,
    )
    assert params.limits == limits
    plan = build_dashboard(sig, NO_REGIME, AS_OF, DATE, params)
    sized = _check_limits(plan, limits)
    # what the old sizing gave these signals: positions over the account and R:R under 1, now marked
    budget = limits.risk_budget
    raw = sig.with_columns(risk=(pl.col("entry") - pl.col("stop")).abs())
    assert (budget / raw["risk"] * raw["entry"] > limits.account_size).sum() > 50
    assert plan.filter(pl.col("blocked_by") == "reward_risk").height > 50
    assert 0 < sized.height < plan.height and set(plan["blocked_by"].drop_nulls()) <= set(risk.BLOCKS)
    blocked_first = plan["blocked_by"].is_not_null().arg_true()
    assert blocked_first.min() == sized.height  # every sized row ranks above every blocked row


def test_reward_risk_is_computed_from_the_rounded_prices() -> None:
    rows = _rows(
        # unrounded 1.488 / 0.992 = 1.5 exactly; shown 20.00 / 19.00 / 21.48: 1.48, under the minimum
        ("LOW", "long", 19.996, 19.004, 21.484),
        # unrounded 1.495 / 0.998 = 1.498; shown 20.00 / 19.01 / 21.50: 1.50 / 0.99 = 1.515
        ("UP", "long", 20.004, 19.006, 21.499),
        # a short, 2R exactly at the shown prices
        ("SHO", "short", 50.001, 51.004, 47.999),
    )
    out = risk.with_reward_risk(rows).rows_by_key("symbol", named=True, unique=True)
    assert (out["LOW"]["entry"], out["LOW"]["stop"], out["LOW"]["target"]) == (20.0, 19.0, 21.48)
    assert out["LOW"]["reward_risk"] == 1.48 and out["LOW"]["blocked_by"] == "reward_risk"
    assert out["UP"]["reward_risk"] == 1.51 and out["UP"]["blocked_by"] is None  # 1.5151.. rounded down
    assert out["SHO"]["reward_risk"] == 2.0 and out["SHO"]["risk_per_share"] == 1.0


def test_exposure_is_spent_in_rank_order() -> None:
    limits = RiskLimits(account_size=100_000, max_position_pct=40.0, max_exposure_pct=100.0)
    rows = _rows(
        ("A", "long", 100.0, 99.0, 103.0),  # $1,000 risk: 1,000 shares, capped at $40,000: 400
        ("B", "long", 50.0, 48.0, 56.0),  # 500 shares, $25,000
        ("C", "short", 20.0, 20.5, 19.0),  # 2,000 shares ($40,000) wanted, $35,000 left: 1,750
        ("D", "long", 10.0, 9.0, 12.0),  # nothing left
        ("E", "long", 5.0, 4.9, 5.1),  # R:R 1: blocked whatever the exposure
        ("F", "long", 1.0, 0.5, 2.0),  # would fit the last $... but nothing is left
    )
    out = _size(rows, limits)
    assert out["symbol"].to_list() == ["A", "B", "C", "D", "E", "F"]
    assert out["shares"].to_list() == [400, 500, 1750, 0, 0, 0]
    assert out["sized_by"].to_list() == ["max_position", "risk", "exposure", None, None, None]
    assert out["blocked_by"].to_list() == [None, None, None, "exposure", "reward_risk", "exposure"]
    assert out["position_value"].sum() == 100_000.0
    # a blocked row above the others spends nothing: E first still leaves A, B and C their sizes
    again = _size(rows[[4, 0, 1, 2, 3, 5]], limits)
    assert again["symbol"].to_list() == ["A", "B", "C", "E", "D", "F"]  # blocked rows after the sized
    assert again["shares"].to_list()[:3] == [400, 500, 1750]


def test_rows_that_cannot_buy_one_share_are_blocked_not_sized() -> None:
    limits = RiskLimits(account_size=10_000, risk_per_trade_pct=1.0, max_position_pct=20.0)  # $100 risk, $2,000
    rows = _rows(
        ("WIDE", "long", 500.0, 350.0, 900.0),  # one share risks $150 > $100
        ("DEAR", "long", 2_500.0, 2_499.5, 2_501.0),  # one share costs more than $2,000
        ("NAN", "long", float("nan"), 9.0, 12.0),
        ("NEG", "short", 10.0, 9.5, 8.0),  # a short's stop under its entry
        ("WRONG", "long", 10.0, 9.0, 9.5),  # target on the wrong side: R:R below the minimum
        ("OK", "long", 10.0, 9.0, 12.0),
    )
    out = _size(rows, limits).rows_by_key("symbol", named=True, unique=True)
    expect = {"WIDE": "risk_budget", "DEAR": "max_position", "NAN": "prices", "NEG": "risk", "WRONG": "reward_risk"}
    assert {s: out[s]["blocked_by"] for s in expect} == expect
    assert all(out[s]["shares"] == 0 and out[s]["position_value"] == 0.0 for s in expect)
    assert out["OK"]["shares"] == 100 and out["OK"]["blocked_by"] is None  # $100 / $1: 100 shares, $1,000


def test_limits_out_of_range_are_refused() -> None:
    for bad in ({"account_size": 0}, {"max_exposure_pct": 150.0}, {"risk_per_trade_pct": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            RiskLimits(**bad)


def test_a_nan_signal_never_reaches_the_plan() -> None:
    sig = _signals(5).with_columns(
        score=pl.when(pl.col("symbol") == "S000").then(float("nan")).otherwise(pl.col("score")),
        entry=pl.when(pl.col("symbol") == "S001").then(float("inf")).otherwise(pl.col("entry")),
    )
    plan = build_dashboard(sig, NO_REGIME, AS_OF, DATE)
    assert not {"S000", "S001"} & set(plan["symbol"])
    floats = [c for c, t in plan.schema.items() if t.is_float()]
    assert not plan.select(pl.any_horizontal(pl.col(floats).is_nan()).any()).item()
