"""TradingStation: session-partitioned market data and screeners on Dagster."""

__version__ = "0.1.0"
