"""Structured JSON logs: the fields the runbook's jq filters rely on, from our code and from Dagster runs."""


import json
import logging

import dagster as dg
import pytest

from tradingstation.ops import logs


def test_plain_records_become_json_lines() -> None:
    record = logging.LogRecord("tradingstation.ops.alerts", logging.ERROR, __file__, 1, "run %s failed", ("x",), None)
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["level"] == "ERROR" and line["component"] == "tradingstation.ops.alerts"
    assert line["message"] == "run x failed" and line["timestamp"].endswith("+00:00")


def test_dagster_runs_log_json_with_run_step_and_partition(capsys: pytest.CaptureFixture) -> None:
    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["2025-11-28"]))
    def probe(context: dg.AssetExecutionContext) -> None:
        context.log.warning("bars look thin")

    job = dg.define_asset_job("probe_job", selection=[probe])
    defs = dg.Definitions(assets=[probe], jobs=[job], loggers=logs.dagster_loggers("json"))
    result = defs.resolve_job_def("probe_job").execute_in_process(
        partition_key="2025-11-28", run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    )
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    warning = next(x for x in lines if x["message"] == "bars look thin")
    assert warning == {
        "timestamp": warning["timestamp"],
        "level": "WARNING",
        "component": "probe",
        "message": "bars look thin",
        "run_id": result.run_id,
        "job": "probe_job",
        "partition": "2025-11-28",
    }


def test_text_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(logs.ENV_FORMAT, raising=False)
    assert logs.dagster_loggers() == {} and not logs.wants_json()
    monkeypatch.setenv(logs.ENV_FORMAT, "json")
    assert "console" in logs.dagster_loggers()
