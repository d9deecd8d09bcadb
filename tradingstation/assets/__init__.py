"""Dagster assets, one module per family. Thin wiring: the computation lives in screeners/ and schemas."""

import warnings

import dagster as dg

# BackfillPolicy and pools are beta in Dagster 1.13; we use them on purpose (single-run backfills).
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
