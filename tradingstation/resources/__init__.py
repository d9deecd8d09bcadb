"""Dagster resources: market-data sources and the lake's IO manager."""
