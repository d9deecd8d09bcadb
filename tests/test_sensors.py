"""Alerts and sensors: run failures, universe changes, freshness (only 127.0.0.1 is ever contacted)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.ops import alerts
from tradingstation.ops.logs import JsonFormatter
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.quality import freshness
from tradingstation.resources.lake_io import LakeResource
from tradingstation.sensors import (
    ALL_SENSORS,
    SENSOR_JOBS,
    freshness_sensor,
    run_failure_alert,
    universe_change_sensor,
)
from tradingstation.sensors.universe_change import HISTORY_SESSIONS, universe_change

from lake_data import daily_frame

TOKEN = "T0SECRET/B0SECRET/xoxTOKEN123"


def at(when: str) -> dt.datetime:
    return dt.datetime.fromisoformat(when).replace(tzinfo=calendar.NY)


def alert_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tradingstation.ops.alerts" and r.getMessage().startswith("ALERT")]


@pytest.fixture(autouse=True)
def quiet_env(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for name in (alerts.ENV_WEBHOOK, alerts.ENV_SMTP_HOST, alerts.ENV_SMTP_PASSWORD):
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.INFO, logger="tradingstation.ops.alerts")


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A tiny HTTP server on 127.0.0.1 recording the JSON bodies POSTed to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "json": json.loads(body)})
            self.send_response(500 if self.path.endswith("/fail") else 200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/{TOKEN}", received
    finally:
        server.shutdown()
        server.server_close()


# --- alerts ----------------------------------------------------------------------------------


def test_alert_is_one_json_log_line_without_the_webhook_secret(
    webhook: tuple[str, list[dict]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url, received = webhook
    monkeypatch.setenv(alerts.ENV_WEBHOOK, url)
    outcome = alerts.send_alert("disk full", "the lake is at 99%", {"partition": "2025-12-01", "url": url}, "warning")
    assert outcome == {"log": True, "webhook": True}
    (record,) = alert_lines(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert line["component"] == "alerts" and line["level"] == "WARNING" and line["partition"] == "2025-12-01"
    assert line["message"].startswith("ALERT [warning] disk full: the lake is at 99%")
    assert TOKEN not in caplog.text and "xoxTOKEN123" not in caplog.text
    (post,) = received
    assert post["json"]["text"].startswith(":warning: [WARNING] disk full")
    assert {"type": "mrkdwn", "text": "*partition*\n2025-12-01"} in post["json"]["blocks"][-1]["fields"]


def test_webhook_failures_are_logged_not_raised(webhook: tuple[str, list[dict]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    url, _ = webhook
    monkeypatch.setenv(alerts.ENV_WEBHOOK, url + "/fail")
    assert alerts.send_alert("x", "y", {}, "error")["webhook"] is False
    assert "alert webhook answered HTTP 500" in caplog.text
    monkeypatch.setenv(alerts.ENV_WEBHOOK, f"http://127.0.0.1:9/{TOKEN}")  # discard port: refused
    assert alerts.send_alert("x", "y", {}, "error")["webhook"] is False
    assert "alert webhook failed" in caplog.text and TOKEN not in caplog.text


def test_email_goes_through_smtp_with_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    sent: list = []

    class FakeSMTP:
        def __init__(self, host: str, port: int, timeout: float) -> None:
            sent.append(("connect", host, port, timeout))

        def __enter__(self) -> FakeSMTP:  # noqa: PYI034
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def ehlo(self) -> None:
            pass

        def has_extn(self, name: str) -> bool:
            return False

        def login(self, user: str, password: str) -> None:
            sent.append(("login", user, password))

        def send_message(self, message) -> None:
            sent.append(("message", message))

    monkeypatch.setattr(alerts.smtplib, "SMTP", FakeSMTP)
    env = {
        alerts.ENV_SMTP_HOST: "127.0.0.1", alerts.ENV_SMTP_PORT: "2525", alerts.ENV_SMTP_FROM: "ts@example.com",
        alerts.ENV_SMTP_TO: "ops@example.com, me@example.com", alerts.ENV_SMTP_USER: "ts", alerts.ENV_SMTP_PASSWORD: "hunter22",
    }
    assert alerts.send_alert("run failed", "boom", {"run_id": "abc"}, "error", env=env) == {"log": True, "email": True}
    assert sent[0] == ("connect", "127.0.0.1", 2525, alerts.TIMEOUT_SECONDS) and sent[1] == ("login", "ts", "hunter22")
    message = sent[2][1]
    assert message["Subject"] == "[TradingStation ERROR] run failed" and message["To"] == "ops@example.com, me@example.com"
    assert "run_id: abc" in message.get_content()
    assert "hunter22" not in caplog.text
    monkeypatch.setattr(alerts.smtplib, "SMTP", lambda *a, **k: (_ for _ in ()).throw(OSError("refused hunter22")))
    assert alerts.send_alert("x", "y", {}, "error", env=env)["email"] is False
    assert "alert e-mail failed: OSError: refused ***" in caplog.text and "hunter22" not in caplog.text


# --- run failures ----------------------------------------------------------------------------


@dg.asset(partitions_def=SESSION_PARTITIONS)
def exploding() -> None:
    raise ValueError("the vendor returned garbage for NVDA")


def failed_run(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions(
        assets=[exploding],
        jobs=[dg.define_asset_job("nightly_job", selection=[exploding], partitions_def=SESSION_PARTITIONS)],
    )
    result = defs.resolve_job_def("nightly_job").execute_in_process(
        instance=instance, partition_key="2025-12-01", raise_on_error=False
    )
    assert not result.success
    return result


def failure_context(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> dg.RunFailureSensorContext:
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()


def test_run_failure_alert_names_job_run_step_error_and_partition(caplog: pytest.LogCaptureFixture) -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = failed_run(instance)
    run_failure_alert(failure_context(instance, result))
    (record,) = alert_lines(caplog)
    text = record.getMessage()
    assert text.startswith("ALERT [error] run of nightly_job failed")
    for part in ("job=nightly_job", f"run_id={result.run_id}", "failed_steps=exploding", "partition=2025-12-01",
                 "ValueError: the vendor returned garbage for NVDA"):
        assert part in text
    assert record.levelno == logging.ERROR and record.partition == "2025-12-01"


def test_run_failure_alert_posts_to_the_webhook(webhook: tuple[str, list[dict]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    url, received = webhook
    monkeypatch.setenv(alerts.ENV_WEBHOOK, url)
    instance = dg.DagsterInstance.ephemeral()
    result = failed_run(instance)
    run_failure_alert(failure_context(instance, result))
    (post,) = received
    assert post["path"] == f"/services/{TOKEN}"
    assert "run of nightly_job failed" in post["json"]["text"] and result.run_id in json.dumps(post["json"])
    assert TOKEN not in caplog.text


# --- universe changes ------------------------------------------------------------------------


def universe_frame(session: str, included: list[str], excluded: list[str] = ()) -> pl.DataFrame:
    day = calendar.session(session)
    rows = [{"date": day, "symbol": s, "included": True, "reason": "", "last_close": 50.0, "avg_dollar_volume": 2e7} for s in included]
    rows += [{"date": day, "symbol": s, "included": False, "reason": "last close 1.0 below $5.0", "last_close": 1.0, "avg_dollar_volume": 2e7} for s in excluded]
    frame = pl.DataFrame(rows).with_columns(list_name=pl.lit("explicit"), list_as_of=pl.lit(None, dtype=pl.Date),
                                            sector=pl.lit(None, pl.String), industry=pl.lit(None, pl.String),
                                            exchange=pl.lit(None, pl.String))
    return schemas.conform(frame, schemas.UNIVERSE)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path))


def lake_resources(lake: Lake) -> dict:
    return {"lake": LakeResource(root=lake.root)}


def repository(lake: Lake) -> dg.RepositoryDefinition:
    from tradingstation.assets.market_data import daily_bars
    from tradingstation.resources.sources.synthetic_source import SyntheticSource

    resources = {"lake": LakeResource(root=lake.root), "source": SyntheticSource()}
    return dg.Definitions(assets=[daily_bars], sensors=ALL_SENSORS, resources=resources).get_repository_def()


def test_universe_change_requests_one_history_run_for_new_symbols(lake: Lake, caplog: pytest.LogCaptureFixture) -> None:
    lake.write("universe", "2025-11-26", universe_frame("2025-11-26", ["AAPL", "MSFT"], ["PENNY"]))
    lake.write("universe", "2025-11-28", universe_frame("2025-11-28", ["AAPL", "NVDA", "PENNY"]))
    request = universe_change(lake, "2025-11-28")
    assert isinstance(request, dg.RunRequest)
    history = calendar.sessions_before("2025-11-28", HISTORY_SESSIONS)
    assert len(history) == 199 and history[-1] == dt.date(2025, 11, 26)  # Thanksgiving is no session
    assert request.tags["dagster/asset_partition_range_start"] == history[0].isoformat() == "2025-02-13"
    assert request.tags["dagster/asset_partition_range_end"] == "2025-11-26"
    assert request.tags["tradingstation/added_symbols"] == "NVDA,PENNY"
    assert request.asset_selection == [dg.AssetKey("daily_bars")]
    assert request.run_key.startswith("universe-history:2025-11-28:")
    (record,) = alert_lines(caplog)
    assert "added=NVDA, PENNY" in record.getMessage() and "removed=MSFT" in record.getMessage()
    # The same change asks for the same run (run key), a different new-symbol set for another one.
    assert universe_change(lake, "2025-11-28").run_key == request.run_key
    lake.write("universe", "2025-11-28", universe_frame("2025-11-28", ["AAPL", "MSFT", "NVDA"]))
    other = universe_change(lake, "2025-11-28")
    assert other.run_key != request.run_key and other.tags["tradingstation/added_symbols"] == "NVDA"


def test_universe_without_new_symbols_is_skipped(lake: Lake) -> None:
    lake.write("universe", "2025-11-26", universe_frame("2025-11-26", ["AAPL", "MSFT"]))
    lake.write("universe", "2025-11-28", universe_frame("2025-11-28", ["AAPL"], ["MSFT"]))
    skip = universe_change(lake, "2025-11-28")
    assert isinstance(skip, dg.SkipReason)
    assert skip.skip_message == "universe[2025-11-28]: no new symbols since 2025-11-26 (1 removed: MSFT)"
    first = universe_change(lake, "2025-11-26")
    assert "no earlier stored universe session" in first.skip_message


def test_universe_change_sensor_on_a_materialization(lake: Lake) -> None:
    lake.write("universe", "2025-11-26", universe_frame("2025-11-26", ["AAPL"]))
    lake.write("universe", "2025-11-28", universe_frame("2025-11-28", ["AAPL", "NVDA"]))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, repository_def=repository(lake), resources=lake_resources(lake))
        assert "No new materialization" in universe_change_sensor.evaluate_tick(context).skip_message
        instance.report_runless_asset_event(dg.AssetMaterialization("universe", partition="2025-11-28"))
        context = dg.build_sensor_context(instance=instance, repository_def=repository(lake), resources=lake_resources(lake))
        tick = universe_change_sensor.evaluate_tick(context)
        (request,) = tick.run_requests
        assert request.tags["dagster/asset_partition_range_end"] == "2025-11-26"
        assert request.asset_selection == [dg.AssetKey("daily_bars")]
        assert tick.cursor  # the next tick starts after this materialization
        again = universe_change_sensor.evaluate_tick(
            dg.build_sensor_context(
                instance=instance, cursor=tick.cursor, repository_def=repository(lake), resources=lake_resources(lake)
            )
        )
        assert not again.run_requests


# --- freshness -------------------------------------------------------------------------------


def freshness_tick(lake: Lake, when: str, cursor: str | None, monkeypatch: pytest.MonkeyPatch) -> dg.SensorExecutionData:
    monkeypatch.setattr(freshness, "now", lambda: at(when))
    context = dg.build_sensor_context(cursor=cursor, resources={"lake": LakeResource(root=lake.root)})
    return freshness_sensor.evaluate_tick(context)


def test_freshness_sensor_alerts_once_per_dataset_and_session(lake: Lake, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    lake.write("daily_bars", "2025-11-28", daily_frame(["2025-11-28"], ["AAPL"]))
    first = freshness_tick(lake, "2025-12-01T10:00", None, monkeypatch)
    assert not first.run_requests and first.skip_message.startswith("alerted: intraday_1m[2025-12-01]")
    (record,) = alert_lines(caplog)
    assert record.getMessage().startswith("ALERT [warning] intraday_1m is stale: intraday_1m has no partition for 2025-12-01")
    assert json.loads(first.cursor) == {"alerted": ["intraday_1m:2025-12-01"]}
    second = freshness_tick(lake, "2025-12-01T10:05", first.cursor, monkeypatch)
    assert second.skip_message == "still stale, already alerted: intraday_1m[2025-12-01]"
    assert len(alert_lines(caplog)) == 1  # not twice
    nextday = freshness_tick(lake, "2025-12-02T10:00", second.cursor, monkeypatch)
    assert {"intraday_1m:2025-12-02", "daily_bars:2025-12-01"} <= set(json.loads(nextday.cursor)["alerted"])
    assert len(alert_lines(caplog)) == 3


def test_freshness_sensor_skips_with_the_reason(lake: Lake, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    holiday = freshness_tick(lake, "2025-12-25T10:00", None, monkeypatch)
    assert holiday.skip_message == "2025-12-25 is not a session (an NYSE holiday): nothing expected"
    from lake_data import minute_frame

    lake.write("intraday_1m", "2025-12-01", minute_frame("2025-12-01", ["AAPL"], 29))
    lake.write("daily_bars", "2025-11-28", daily_frame(["2025-11-28"], ["AAPL"]))
    fresh = freshness_tick(lake, "2025-12-01T10:00", None, monkeypatch)
    assert fresh.skip_message.startswith("all fresh: intraday_1m[2025-12-01]: latest regular bar 09:58 ET")
    assert not alert_lines(caplog)


def test_sensors_are_stopped_by_default_and_load() -> None:
    assert {s.name for s in ALL_SENSORS} == {"run_failure_alert", "universe_change_sensor", "freshness_sensor",
                                             "strong_signal_alert"}
    assert all(s.default_status == dg.DefaultSensorStatus.STOPPED for s in ALL_SENSORS)
    assert freshness_sensor.minimum_interval_seconds == 300
    from tradingstation.checks import FRESHNESS_CHECKS
    from tradingstation.definitions import ALL_ASSETS
    from tradingstation.resources.config import resources_from_env

    defs = dg.Definitions(
        assets=ALL_ASSETS, asset_checks=FRESHNESS_CHECKS, sensors=ALL_SENSORS, jobs=SENSOR_JOBS,
        resources=resources_from_env({}),
    )
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("daily_bars_history_job").partitions_def == SESSION_PARTITIONS
