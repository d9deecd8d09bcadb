"""Pure, vectorized polars screeners: data frames in, data frames out; no Dagster."""
