"""The repository's dagster.yaml against the local PostgreSQL: runs and events stored there."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from tradingstation.definitions import MARKET_DATA_ASSETS
from tradingstation.lake import Lake
from tradingstation.resources.lake_io import LakeIOManager, LakeResource
from tradingstation.resources.sources.synthetic_source import SyntheticSource

from conftest import REPO

pytestmark = [pytest.mark.postgres, pytest.mark.s3]


def test_materialization_is_recorded_in_postgres(
    pg_database: dict[str, str], s3_env: str, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg2

    for var, key in [("HOST", "host"), ("PORT", "port"), ("USER", "user"), ("PASSWORD", "password"), ("DB", "dbname")]:
        monkeypatch.setenv(f"DAGSTER_PG_{var}", pg_database[key])
    # The shipped file keeps compute logs on S3 (tests/test_compute_logs.py): the moto server here.
    monkeypatch.setenv("TRADINGSTATION_COMPUTE_LOG_BUCKET", s3_env)
    monkeypatch.setenv("TRADINGSTATION_COMPUTE_LOG_PREFIX", "dagster/compute-logs")
    monkeypatch.setenv("TRADINGSTATION_S3_ENDPOINT_URL", s3_endpoint)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())  # the file as shipped
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
        lake = LakeResource(root=str(tmp_path / "lake"))
        result = dg.materialize(
            MARKET_DATA_ASSETS[:2],
            partition_key="2025-11-28",
            instance=instance,
            resources={"source": SyntheticSource(), "lake": lake, "io_manager": LakeIOManager(lake=lake)},
        )
        assert result.success
        record = instance.get_latest_materialization_event(dg.AssetKey("daily_bars"))
        assert record is not None and record.run_id == result.run_id
        assert record.asset_materialization.partition == "2025-11-28"

    connection = psycopg2.connect(**pg_database)
    with connection, connection.cursor() as cur:
        cur.execute("select count(*) from runs where run_id = %s", (result.run_id,))
        assert cur.fetchone() == (1,)
        cur.execute(
            "select count(*) from event_logs where run_id = %s and dagster_event_type = 'ASSET_MATERIALIZATION'",
            (result.run_id,),
        )
        assert cur.fetchone() == (2,)
    connection.close()
    assert Lake(str(tmp_path / "lake")).sessions("daily_bars")[0].isoformat() == "2025-11-28"
