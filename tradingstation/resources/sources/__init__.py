"""Market-data sources: one interface (``MarketDataSource``), several implementations."""

from tradingstation.resources.sources.base import EarningsResult, FetchResult, Interval, MarketDataSource

__all__ = ["EarningsResult", "FetchResult", "Interval", "MarketDataSource"]
