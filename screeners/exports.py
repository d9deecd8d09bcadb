"""Exports of a plan: a TradingView watchlist, a bracket-order CSV, and each row's chart link.

- **Chart link** (``chart_url``, a plan column): ``https://www.tradingview.com/chart/?symbol=`` and
  the TradingView symbol, ``EXCHANGE:SYMBOL`` when the universe knows the listing (``NYSE:MMM``, the
  colon URL-encoded) else the plain symbol, which TradingView resolves itself (its first match:
  right for S&P 500 names, a guess for a symbol listed in several countries).
- **Watchlist** (``watchlist.txt``): TradingView's import format, one line of comma-separated
  symbols with sections marked ``###``: ``###Long,NASDAQ:NVDA,AAPL,###Short,NYSE:XOM``. Every plan
  row is listed (blocked and finished ones too: it is a list to watch), in rank order, once per
  side. The exchange comes from the universe (pytickersymbols' Google symbols); where it is unknown
  (about half the S&P 500, every synthetic symbol) the plain symbol is written, which the import
  accepts. An empty plan gives an empty file.
- **Bracket orders** (``orders.csv``): ``symbol, side, quantity, entry, stop, target``, one order
  per row that can be placed: sized within the risk limits (``shares > 0`` and no ``blocked_by``)
  and live (status ``pending``, ``triggered``, ``no_bars`` or unknown; a stopped, target, expired,
  untriggered or invalid row is over). Triggered rows stay: a daily setup's entry is its signal
  bar's close, so it is triggered from the start, and the after-close plan is mostly such rows.
  ``side`` is the order's: ``buy`` for a long, ``sell`` (short) for a short; prices in dollars and
  cents, as the plan shows them. Rank order. A file with the header only when no row qualifies.

Pure polars on the plan frame (``screeners.dashboard.DASHBOARD_SCHEMA``); writing the files is the
caller's (the ``master_dashboard`` asset beside each partition, ``tradingstation export``).
"""

from __future__ import annotations

import polars as pl

CHART_URL = "https://www.tradingview.com/chart/?symbol="
WATCHLIST_NAME = "watchlist.txt"
ORDERS_NAME = "orders.csv"
ORDERABLE = ("pending", "triggered", "no_bars")  # live statuses (null counts as pending)
ORDER_SIDE = {"long": "buy", "short": "sell"}
ORDER_SCHEMA = pl.Schema(
    {
        "symbol": pl.String,
        "side": pl.String,  # 'buy' | 'sell' (to open a short)
        "quantity": pl.Int64,
        "entry": pl.Float64,
        "stop": pl.Float64,
        "target": pl.Float64,
    }
)
SECTIONS = (("long", "Long"), ("short", "Short"))


def tradingview_symbol(columns: list[str]) -> pl.Expr:
    """``EXCHANGE:SYMBOL`` where the frame (with ``columns``) has an exchange, else ``SYMBOL``."""
    if "exchange" not in columns:
        return pl.col("symbol")
    return pl.when(pl.col("exchange").is_not_null() & (pl.col("exchange") != "")).then(
        pl.col("exchange") + ":" + pl.col("symbol")
    ).otherwise(pl.col("symbol"))


def with_chart_url(plan: pl.DataFrame) -> pl.DataFrame:
    """``plan`` with ``chart_url``: the symbol's TradingView chart page."""
    symbol = tradingview_symbol(plan.columns).str.replace_all(":", "%3A", literal=True)
    return plan.with_columns(chart_url=pl.lit(CHART_URL) + symbol)


def _ranked(plan: pl.DataFrame) -> pl.DataFrame:
    return plan.sort("rank") if "rank" in plan.columns else plan


def watchlist_text(plan: pl.DataFrame) -> str:
    """The plan as a TradingView watchlist: ``###Long,...,###Short,...`` (sections without rows left out)."""
    ranked = _ranked(plan).with_columns(_tv=tradingview_symbol(plan.columns))
    parts: list[str] = []
    for side, title in SECTIONS:
        symbols = ranked.filter(pl.col("side") == side)["_tv"].unique(maintain_order=True).to_list()
        if symbols:
            parts += [f"###{title}", *symbols]
    return ",".join(parts)


def bracket_orders(plan: pl.DataFrame) -> pl.DataFrame:
    """One bracket order per sized, live row (``ORDER_SCHEMA``), in rank order."""
    if plan.is_empty():
        return pl.DataFrame(schema=ORDER_SCHEMA)
    status = pl.col("status") if "status" in plan.columns else pl.lit(None, pl.String)
    placeable = (
        (pl.col("shares") > 0)
        & pl.col("blocked_by").is_null()
        & (status.is_null() | status.is_in(ORDERABLE))
        & pl.col("side").is_in(list(ORDER_SIDE))
    )
    return _ranked(plan).filter(placeable).select(
        pl.col("symbol").cast(pl.String),
        pl.col("side").replace_strict(ORDER_SIDE, return_dtype=pl.String),
        pl.col("shares").cast(pl.Int64).alias("quantity"),
        *(pl.col(c).cast(pl.Float64).round(2) for c in ("entry", "stop", "target")),
    )


def orders_csv(plan: pl.DataFrame) -> str:
    """``bracket_orders(plan)`` as CSV text with a header line (prices with two decimals)."""
    return bracket_orders(plan).write_csv(float_precision=2)
