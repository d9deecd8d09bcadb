"""The production dagster.yaml keeps step stdout/stderr on S3 (dagster-aws's S3ComputeLogManager).

Against the moto S3 server and the local PostgreSQL: a run through the shipped instance leaves its
captured stdout and stderr as objects under the configured prefix, another instance (another host)
reads them back, and the lake under the same bucket never sees them.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import boto3
import dagster as dg
import pytest
from dagster._core.storage.compute_log_manager import ComputeIOType

from tradingstation.lake import Lake
from tradingstation.testing import TEST_KEY_ID, TEST_SECRET

from conftest import REPO

pytestmark = [pytest.mark.postgres, pytest.mark.s3]

STDOUT_MARK = "tradingstation-stdout-mark"
STDERR_MARK = "tradingstation-stderr-mark"
LOG_MARK = "tradingstation-context-log-mark"
PREFIX = "dagster/compute-logs"


def use_production_instance(
    monkeypatch: pytest.MonkeyPatch, home: Path, pg: dict[str, str], endpoint: str, bucket: str
) -> None:
    """DAGSTER_HOME holding the repository's dagster.yaml as shipped, with its variables set."""
    for var, key in [("HOST", "host"), ("PORT", "port"), ("USER", "user"), ("PASSWORD", "password"),
                     ("DB", "dbname")]:
        monkeypatch.setenv(f"DAGSTER_PG_{var}", pg[key])
    monkeypatch.setenv("TRADINGSTATION_COMPUTE_LOG_BUCKET", bucket)
    monkeypatch.setenv("TRADINGSTATION_COMPUTE_LOG_PREFIX", PREFIX)
    monkeypatch.setenv("TRADINGSTATION_S3_ENDPOINT_URL", endpoint)
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))


@dg.asset
def chatty(context) -> int:  # noqa: ANN001 - dagster resolves the context type itself
    print(STDOUT_MARK)
    print(STDERR_MARK, file=sys.stderr)
    context.log.info(LOG_MARK)
    return 1


def s3_client(endpoint: str):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=TEST_KEY_ID, aws_secret_access_key=TEST_SECRET,
        region_name="us-east-1",
    )


def test_step_logs_land_in_the_bucket_and_read_back_from_another_instance(
    pg_database: dict[str, str], s3_env: str, s3_endpoint: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_production_instance(monkeypatch, tmp_path / "home", pg_database, s3_endpoint, s3_env)
    lake = Lake(f"s3://{s3_env}/lake", endpoint_url=s3_endpoint)  # the lake shares the bucket

    with dg.DagsterInstance.get() as instance:
        assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
        result = dg.materialize([chatty], instance=instance)
        assert result.success
        captured = [e for e in result.all_events if e.event_type == dg.DagsterEventType.LOGS_CAPTURED]
        assert len(captured) == 1 and captured[0].logs_captured_data.step_keys == ["chatty"]
        log_key = instance.compute_log_manager.build_log_key_for_run(
            result.run_id, captured[0].logs_captured_data.file_key
        )

    keys = [o["Key"] for o in s3_client(s3_endpoint).list_objects_v2(Bucket=s3_env).get("Contents", [])]
    run_prefix = f"{PREFIX}/storage/{result.run_id}/compute_logs/"
    assert sorted(k.rsplit(".", 1)[-1] for k in keys if k.startswith(run_prefix)) == ["err", "out"], keys
    assert lake.files() == []  # logs sit beside the lake root, never inside it

    # The webserver on another host: a fresh instance without the run's local staging files
    # (dagster-aws stages in the system temp directory) has to fetch the objects from S3.
    with dg.DagsterInstance.get() as other:
        manager = other.compute_log_manager
        staged = Path(manager.local_manager.get_captured_local_path(log_key, "out")).parent
        assert staged.is_dir()
        shutil.rmtree(staged)
        assert manager.is_capture_complete(log_key)
        data = manager.get_log_data(log_key)
        assert data.stdout is not None and STDOUT_MARK in data.stdout.decode()
        assert data.stderr is not None and STDERR_MARK in data.stderr.decode()
        assert LOG_MARK in data.stderr.decode()  # context.log lines reach stderr too
        stored = manager.display_path_for_type(log_key, ComputeIOType.STDOUT)
        assert stored == f"s3://{s3_env}/{run_prefix}{log_key[-1]}.out"
        shutil.rmtree(staged)  # what the download staged in the system temp directory


def test_missing_compute_log_variable_fails_the_run_naming_it(
    pg_database: dict[str, str], s3_env: str, s3_endpoint: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_production_instance(monkeypatch, tmp_path / "home", pg_database, s3_endpoint, s3_env)
    monkeypatch.delenv("TRADINGSTATION_COMPUTE_LOG_BUCKET")
    with dg.DagsterInstance.get() as instance:
        # The instance loads its compute log manager lazily: the first run is what fails, naming the variable.
        result = dg.materialize([chatty], instance=instance, raise_on_error=False)
        assert not result.success
        failure = instance.get_run_record_by_id(result.run_id)
        assert failure is not None and failure.dagster_run.status == dg.DagsterRunStatus.FAILURE
        failures = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        error = failures[0].dagster_event.event_specific_data.error  # what the UI shows for the run
        assert "TRADINGSTATION_COMPUTE_LOG_BUCKET" in error.to_string()
        with pytest.raises(dg.DagsterInvalidConfigError, match="TRADINGSTATION_COMPUTE_LOG_BUCKET"):
            instance.compute_log_manager  # noqa: B018 - loading it is the point
