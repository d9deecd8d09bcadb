"""Resources chosen by configuration (environment variables), live or offline behind one interface.

TRADINGSTATION_SOURCE      synthetic (default) | files | yfinance
TRADINGSTATION_SEED        seed of the synthetic source (default 7)
TRADINGSTATION_FILES_PATH  directory or file of CSV/Parquet bars for the files source
TRADINGSTATION_LAKE_ROOT   ./data/lake (default) or s3://bucket/prefix
TRADINGSTATION_S3_ENDPOINT_URL, TRADINGSTATION_S3_REGION  for Spaces, MinIO, any S3-compatible store
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY                  S3 credentials (only ever from the environment)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tradingstation.lake import LakeSettings
from tradingstation.resources.lake_io import LakeIOManager, LakeResource
from tradingstation.resources.sources import MarketDataSource

SOURCES = ("synthetic", "files", "yfinance")


def make_source(kind: str, env: Mapping[str, str] = os.environ) -> MarketDataSource:
    """The market-data source named ``kind``, configured from ``env``."""
    if kind == "synthetic":
        from tradingstation.resources.sources.synthetic_source import SyntheticSource

        return SyntheticSource(seed=int(env.get("TRADINGSTATION_SEED", "7")))
    if kind == "files":
        from tradingstation.resources.sources.files_source import FilesSource

        path = env.get("TRADINGSTATION_FILES_PATH")
        return FilesSource(path=path) if path else FilesSource()
    if kind == "yfinance":
        from tradingstation.resources.sources.yfinance_source import YFinanceSource

        return YFinanceSource(compact=env.get("TRADINGSTATION_YF_COMPACT", "") in ("1", "true", "yes"))
    raise ValueError(f"unknown market-data source {kind!r}: choose one of {', '.join(SOURCES)}")


def make_lake(env: Mapping[str, str] = os.environ) -> LakeResource:
    settings = LakeSettings.from_env(env)
    return LakeResource(root=settings.root, endpoint_url=settings.endpoint_url, region=settings.region)


def resources_from_env(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Every resource the definitions need, as the environment configures them."""
    lake = make_lake(env)
    return {
        "source": make_source(env.get("TRADINGSTATION_SOURCE", "synthetic"), env),
        "lake": lake,
        "io_manager": LakeIOManager(lake=lake),
    }
