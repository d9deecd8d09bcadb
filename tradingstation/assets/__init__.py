"""Dagster assets, one module per family. Thin wiring: the computation lives in screeners/ and schemas."""
