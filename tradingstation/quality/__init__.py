"""Data-quality rules: frames (or a lake) in, findings out; no Dagster.

``findings`` (what a rule returns), ``bar_contract``, ``gaps``, ``steps``, ``coverage`` (the bar
rules: pure polars), ``lake_checks`` (those rules over a range of stored sessions, reading the lake
once), ``freshness`` (session-aware judgement of what must exist at an instant), ``replacement``
(whether a write would make a stored partition much worse), ``universe`` (the universe a session's
bars are fetched for and judged against).
"""
