"""The screener scorecard: each screener's track record from its signal outcomes, and the plan score.

For a scorecard session D the window is the ``sessions`` (default 60) sessions ending with D: the
``signal_outcomes`` that became final on those sessions (:mod:`screeners.outcomes`). Rows per
screener, score bucket and market regime, plus roll-ups: regime ``all`` per bucket, and bucket
and regime ``all`` per screener. Figures:

- ``signals``: final outcomes (stopped, target, expired, untriggered; ``invalid`` and ``no_bars``
  are not outcomes and are not counted);
- ``triggered`` = ``targets + stopped + expired``;
- ``hit_rate`` = targets / triggered;
- ``avg_r``: the mean R of the triggered trades;
- ``expectancy``: R per signal, the sum of R over ``signals`` (an untriggered signal earns 0 R):
  what acting on every signal (an order at its entry) earned on average;
- ``worst_losing_run``: the longest run of consecutive losing trades (R < 0), in signal order.

Score buckets: ``0-4``, ``4-6``, ``6-8``, ``8-10`` (a bucket holds its lower bound: 4.0 is 4-6).

**Plan score** (:func:`plan_base`, used by the dashboard): where the signal's screener has at least
``min_signals`` (30) final outcomes in the signal's score bucket (all regimes), the plan score is
its expectancy mapped onto 0-10, ``clip(5 + 5 × expectancy / 1 R, 0, 10)``: 0 at -1 R per signal
or worse, 5 at break-even, 10 at +1 R or better; monotone, so a better track record always ranks
higher, whatever screener it comes from. With less history it is the screener's own score, and
``score_basis`` says which.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from screeners.outcomes import FINAL, TRADES
from tradingstation.core import calendar

BUCKET_EDGES = (4.0, 6.0, 8.0)
BUCKETS = ("0-4", "4-6", "6-8", "8-10")
ALL = "all"
DEFAULT_SESSIONS = 60
MIN_SIGNALS = 30  # final outcomes in a screener's score bucket before its track record scores the plan
FULL_SCALE_R = 1.0  # expectancy (R per signal) that maps to 10; its negative maps to 0

SCORECARD_SCHEMA = pl.Schema(
    {
        "date": pl.Date,  # the scorecard's session: the window ends with it
        "window_sessions": pl.Int64,  # sessions in the window (stored or not)
        "first_session": pl.Date,
        "screener": pl.String,
        "score_bucket": pl.String,  # BUCKETS or 'all'
        "regime": pl.String,  # 'bull' | 'bear' | 'unknown' | 'all'
        "signals": pl.Int64,
        "triggered": pl.Int64,
        "targets": pl.Int64,
        "stopped": pl.Int64,
        "expired": pl.Int64,
        "hit_rate": pl.Float64,  # targets / triggered; null without a trade
        "avg_r": pl.Float64,  # mean R per triggered trade
        "expectancy": pl.Float64,  # R per signal
        "worst_losing_run": pl.Int64,
    }
)


def score_bucket(score: pl.Expr) -> pl.Expr:
    """The bucket label of a 0-10 score (null for a null or NaN score)."""
    expr = pl.when(score.is_nan() | score.is_null()).then(pl.lit(None, pl.String))
    for edge, label in zip(BUCKET_EDGES, BUCKETS):
        expr = expr.when(score < edge).then(pl.lit(label))
    return expr.otherwise(pl.lit(BUCKETS[-1]))


def windows(keys: Sequence[dt.date], sessions: int) -> pl.DataFrame:
    """One row per (scorecard session ``key``, session of its window): ``key, date, first_session``."""
    if sessions < 1:
        raise ValueError(f"the scorecard window must hold at least one session, got {sessions}")
    rows = [(k, d) for k in keys for d in [*calendar.sessions_before(k, sessions - 1), k]]
    frame = pl.DataFrame(rows, schema={"key": pl.Date, "date": pl.Date}, orient="row")
    return frame.with_columns(first_session=pl.col("date").min().over("key"))


def _stats(final: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    status, r = pl.col("status"), pl.col("r_multiple")
    trade = status.is_in(TRADES)
    counts = final.group_by(keys).agg(
        signals=pl.len(),
        triggered=trade.sum(),
        targets=(status == "target").sum(),
        stopped=(status == "stopped").sum(),
        expired=(status == "expired").sum(),
        avg_r=r.filter(trade).mean(),
        expectancy=r.filter(trade).sum() / pl.len(),
    )
    trades = final.filter(trade).sort([*keys, "ts", "symbol"]).with_columns(loss=pl.col("r_multiple") < 0)
    runs = trades.with_columns(run=(pl.col("loss") != pl.col("loss").shift(1)).fill_null(True).cum_sum().over(keys))
    worst = runs.filter("loss").group_by([*keys, "run"]).len().group_by(keys).agg(worst_losing_run=pl.col("len").max())
    out = counts.join(worst, on=keys, how="left", nulls_equal=True)
    return out.with_columns(
        pl.col("worst_losing_run").fill_null(0),
        hit_rate=pl.when(pl.col("triggered") > 0).then(pl.col("targets") / pl.col("triggered")),
    )


def scorecard(outcomes: pl.DataFrame, keys: Sequence[dt.date], sessions: int = DEFAULT_SESSIONS) -> pl.DataFrame:
    """The scorecard of each session in ``keys`` over its window of ``sessions`` (``SCORECARD_SCHEMA``).

    ``outcomes`` are ``signal_outcomes`` rows (``date`` = the session each became final on)."""
    if not keys:
        return pl.DataFrame(schema=SCORECARD_SCHEMA)
    win = windows(sorted(set(keys)), sessions)
    final = (
        outcomes.filter(pl.col("status").is_in(FINAL))
        .with_columns(score_bucket=score_bucket(pl.col("score")), regime=pl.col("regime").fill_null("unknown"))
        .join(win, on="date")
        .drop("date")
        .rename({"key": "date"})
    )
    if final.is_empty():
        return pl.DataFrame(schema=SCORECARD_SCHEMA)
    by = ["date", "first_session", "screener"]
    parts = [
        _stats(final, [*by, "score_bucket", "regime"]),
        _stats(final, [*by, "score_bucket"]).with_columns(regime=pl.lit(ALL)),
        _stats(final, by).with_columns(score_bucket=pl.lit(ALL), regime=pl.lit(ALL)),
    ]
    order = {b: i for i, b in enumerate((*BUCKETS, ALL))}
    out = pl.concat([p.select(sorted(p.columns)) for p in parts], how="diagonal").with_columns(
        window_sessions=pl.lit(sessions, pl.Int64),
        avg_r=pl.col("avg_r").round(4), expectancy=pl.col("expectancy").round(4), hit_rate=pl.col("hit_rate").round(4),
        _b=pl.col("score_bucket").replace_strict(order, default=len(order)),
        _r=pl.col("regime") == ALL,
    )
    out = out.sort(["date", "screener", "_b", "_r", "regime"])
    return out.select(pl.col(c).cast(t) for c, t in SCORECARD_SCHEMA.items())


def plan_base(signals: pl.DataFrame, card: pl.DataFrame | None, min_signals: int = MIN_SIGNALS) -> pl.DataFrame:
    """``signals`` with ``plan_base`` (0-10) and ``score_basis`` (text) by the plan-score rule above.

    ``card`` is a scorecard (its latest session is used); None or empty: every signal keeps its own
    score."""
    bucket = score_bucket(pl.col("score"))
    record = pl.DataFrame(schema={"screener": pl.String, "score_bucket": pl.String, "_n": pl.Int64, "_e": pl.Float64})
    if card is not None and not card.is_empty():
        latest = card.filter(pl.col("date") == pl.col("date").max())
        record = latest.filter((pl.col("regime") == ALL) & (pl.col("score_bucket") != ALL)).select(
            "screener", "score_bucket", _n="signals", _e="expectancy"
        )
    out = signals.with_columns(score_bucket=bucket).join(record, on=["screener", "score_bucket"], how="left",
                                                         maintain_order="left")
    n = pl.col("_n").fill_null(0)
    tracked = (n >= min_signals) & pl.col("_e").is_finite().fill_null(False)
    mapped = (5.0 + 5.0 * pl.col("_e") / FULL_SCALE_R).clip(0.0, 10.0)
    e_text = pl.col("_e").round(2).cast(pl.String)
    sign = pl.when(pl.col("_e") >= 0).then(pl.lit("+")).otherwise(pl.lit(""))
    basis = (
        pl.when(tracked)
        .then(pl.concat_str(pl.lit("record: "), n.cast(pl.String), pl.lit(" signals at "), pl.col("score_bucket"),
                            pl.lit(", E "), sign, e_text, pl.lit("R")))
        .otherwise(pl.concat_str(pl.lit("screener score ("), n.cast(pl.String), pl.lit(f" of {min_signals} signals")
                                 , pl.lit(" needed at "), pl.col("score_bucket").fill_null("?"), pl.lit(")")))
    )
    return out.with_columns(
        plan_base=pl.when(tracked).then(mapped).otherwise(pl.col("score")).round(2), score_basis=basis
    ).drop("_n", "_e", "score_bucket")


def text_table(card: pl.DataFrame, *, regimes: bool = False, min_signals: int = MIN_SIGNALS) -> str:
    """The latest session of ``card`` as an aligned text table (``regimes``: per-regime rows too).

    The ``plan`` column says whether the bucket's record scores the plan (``record``) or not yet."""
    if card.is_empty():
        return "(no final signal outcomes in the window)"
    latest = card.filter(pl.col("date") == pl.col("date").max())
    if not regimes:
        latest = latest.filter(pl.col("regime") == ALL)
    head = ("screener", "bucket", "regime", "signals", "trig", "hit%", "avg R", "E (R/sig)", "worst run", "plan")
    lines = [head]
    for r in latest.iter_rows(named=True):
        hit = "" if r["hit_rate"] is None else f"{100 * r['hit_rate']:.0f}"
        avg = "" if r["avg_r"] is None else f"{r['avg_r']:+.2f}"
        plan = "" if r["score_bucket"] == ALL or r["regime"] != ALL else (
            "record" if r["signals"] >= min_signals else "own score")
        lines.append((r["screener"], r["score_bucket"], r["regime"], str(r["signals"]), str(r["triggered"]), hit, avg,
                      f"{r['expectancy']:+.3f}", str(r["worst_losing_run"]), plan))
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    numeric = set(range(3, 9))
    return "\n".join(
        "  ".join(cell.rjust(w) if i in numeric else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))).rstrip()
        for row in lines
    )


def markdown_table(card: pl.DataFrame, rows: int = 40) -> str:
    """The latest session's per-bucket rows (all regimes) as Markdown, for the Dagster UI."""
    if card.is_empty():
        return "no final signal outcomes in the window yet"
    latest = card.filter((pl.col("date") == pl.col("date").max()) & (pl.col("regime") == ALL))
    lines = ["| screener | bucket | signals | triggered | hit | avg R | E (R/signal) | worst run |", "|" + "---|" * 8]
    for r in latest.head(rows).iter_rows(named=True):
        hit = "" if r["hit_rate"] is None else f"{100 * r['hit_rate']:.0f}%"
        avg = "" if r["avg_r"] is None else f"{r['avg_r']:+.2f}"
        lines.append(f"| {r['screener']} | {r['score_bucket']} | {r['signals']} | {r['triggered']} | {hit} | {avg} "
                     f"| {r['expectancy']:+.3f} | {r['worst_losing_run']} |")
    return "\n".join(lines)
