"""Market-data sources: one interface (``MarketDataSource``), several implementations."""

from tradingstation.resources.sources.base import FetchResult, Interval, MarketDataSource

__all__ = ["FetchResult", "Interval", "MarketDataSource"]
