"""Strong-signal alerts: sent once per session/symbol/side/screeners, and Telegram as a channel
(a local HTTP server on 127.0.0.1 plays the webhook and the Bot API; the token never reaches a log)."""

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

from tradingstation.core import calendar
from tradingstation.lake import Lake
from tradingstation.ops import alerts
from tradingstation.sensors import ALL_SENSORS
from tradingstation.sensors.strong_signals import (
    ENV_MIN_PLAN_SCORE,
    min_plan_score,
    strong_signal_alert,
    strong_signals_tick,
)

from plan_frames import DAY, plan

BOT_TOKEN = "123456789:AAH-secretBotToken_xyz"
CHAT = "-1001234567890"


def at(clock: str, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(clock), tzinfo=calendar.NY)


@pytest.fixture(autouse=True)
def only_test_channels(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for name in (alerts.ENV_WEBHOOK, alerts.ENV_SMTP_HOST, alerts.ENV_TELEGRAM_TOKEN, alerts.ENV_TELEGRAM_CHAT_ID,
                 alerts.ENV_TELEGRAM_API, ENV_MIN_PLAN_SCORE):
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.INFO, logger="tradingstation.ops.alerts")


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict], dict]]:
    """127.0.0.1: records every POST (path and JSON); ``reply`` sets the next answers' status and body."""
    received: list[dict] = []
    reply = {"status": 200, "body": {"ok": True, "result": {"message_id": 1}}}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "json": json.loads(body)})
            self.send_response(reply["status"])
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(reply["body"]).encode())

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", received, reply
    finally:
        httpd.shutdown()
        httpd.server_close()


def strong_plan() -> pl.DataFrame:
    return plan(
        dict(symbol="NVDA", plan_score=8.6, screeners="gapgo, orb", entry=181.46, stop=177.0, target=190.0,
             shares=224, exchange="NASDAQ", chart_url="https://www.tradingview.com/chart/?symbol=NASDAQ%3ANVDA",
             reasons="gapgo: gap +6.2% on 3.4x pre-market volume | orb: broke the 15-minute range",
             status="triggered"),
        dict(symbol="XOM", side="short", plan_score=8.0, entry=110.0, stop=112.5, target=105.0, shares=400),
        dict(symbol="WEAK", plan_score=7.9),  # below the threshold
        dict(symbol="BLOCK", plan_score=9.5, shares=0, blocked_by="max_position"),  # strong, cannot be sized
        dict(symbol="OVER", plan_score=9.0, status="stopped"),  # strong, finished already
    )


def test_a_strong_row_is_alerted_once_with_its_trade(tmp_path: Path, server, monkeypatch) -> None:
    url, received, _ = server
    monkeypatch.setenv(alerts.ENV_WEBHOOK, f"{url}/services/hook")
    lake = Lake(str(tmp_path))
    lake.write("master_dashboard", DAY, strong_plan())
    first = strong_signals_tick(lake, at("09:47"), None)
    assert first.skip_reason.skip_message == "alerted 2 row(s) with plan score >= 8: NVDA long, XOM short"
    nvda, xom = (post["json"] for post in received)
    assert nvda["text"].startswith(":information_source: [INFO] NVDA long (plan 8.6): entry 181.46, stop 177.00, "
                                   "target 190.00, 224 shares")
    assert "gapgo: gap +6.2% on 3.4x pre-market volume" in nvda["text"]  # the reasons sentence
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for b in nvda["blocks"] for f in b.get("fields", [])}
    assert {k: fields[f"*{k}*"] for k in ("symbol", "side", "entry", "stop", "target", "shares")} == {
        "symbol": "NVDA", "side": "long", "entry": "181.46", "stop": "177.00", "target": "190.00", "shares": "224"}
    assert fields["*chart*"].endswith("NASDAQ%3ANVDA") and fields["*screeners*"] == "gapgo, orb"
    assert xom["text"].startswith(":information_source: [INFO] XOM short (plan 8.0): entry 110.00")

    second = strong_signals_tick(lake, at("09:49"), first.cursor)  # the same plan two minutes later
    assert len(received) == 2  # nothing sent again
    assert second.skip_reason.skip_message.startswith("no new row with plan score >= 8 in the plan of 2025-11-25 (2 already")


def test_a_further_screener_makes_a_new_alert_and_the_threshold_is_configurable(tmp_path: Path, monkeypatch) -> None:
    sent: list[str] = []
    monkeypatch.setattr("tradingstation.sensors.strong_signals.send_alert",
                        lambda title, body, fields, severity: sent.append(title))
    lake = Lake(str(tmp_path))
    lake.write("master_dashboard", DAY, strong_plan())
    cursor = strong_signals_tick(lake, at("09:47"), None).cursor
    nvda = pl.col("symbol") == "NVDA"
    joined = strong_plan().with_columns(screeners=pl.when(nvda).then(pl.lit("breakout, gapgo, orb"))
                                        .otherwise(pl.col("screeners")))
    lake.write("master_dashboard", DAY, joined)
    strong_signals_tick(lake, at("10:02"), cursor)
    assert [t.split(" (")[0] for t in sent] == ["NVDA long", "XOM short", "NVDA long"]  # confluence grew: once more
    monkeypatch.setenv(ENV_MIN_PLAN_SCORE, "8.5")
    sent.clear()
    strong_signals_tick(lake, at("10:04"), None)
    assert [t.split(" (")[0] for t in sent] == ["NVDA long"]  # XOM's 8.0 is below 8.5 now


def test_ticks_outside_the_session_window_or_without_a_plan_are_skipped(tmp_path: Path, monkeypatch) -> None:
    sent: list[str] = []
    monkeypatch.setattr("tradingstation.sensors.strong_signals.send_alert",
                        lambda title, body, fields, severity: sent.append(title))
    lake = Lake(str(tmp_path))
    assert strong_signals_tick(lake, at("08:00"), None).skip_reason.skip_message == "no master_dashboard for 2025-11-25 yet"
    lake.write("master_dashboard", DAY, strong_plan())
    assert strong_signals_tick(lake, at("03:59"), None).skip_reason.skip_message.startswith("outside 04:00 ET - the close")
    assert strong_signals_tick(lake, at("16:00"), None).skip_reason.skip_message.startswith("outside 04:00 ET - the close (16:00")
    assert "not an NYSE session" in strong_signals_tick(lake, at("10:00", dt.date(2025, 11, 27)), None).skip_reason.skip_message
    assert sent == []
    premarket = strong_signals_tick(lake, at("08:00"), None)  # the pre-market counts
    assert premarket.skip_reason.skip_message.startswith("alerted 2 row(s)") and len(sent) == 2


def test_the_cursor_forgets_old_sessions_and_survives_garbage(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("tradingstation.sensors.strong_signals.send_alert", lambda *a, **k: None)
    lake = Lake(str(tmp_path))
    lake.write("master_dashboard", DAY, strong_plan())
    old = json.dumps({"sent": ["2025-10-01:AAPL:long:orb"]})
    kept = json.loads(strong_signals_tick(lake, at("10:00"), old).cursor)["sent"]
    assert kept == ["2025-11-25:NVDA:long:gapgo, orb", "2025-11-25:XOM:short:breakout"]
    assert json.loads(strong_signals_tick(lake, at("10:00"), "not json").cursor)["sent"] == kept


def test_min_plan_score_refuses_a_bad_setting() -> None:
    assert min_plan_score({}) == 8.0 and min_plan_score({ENV_MIN_PLAN_SCORE: " 6.5 "}) == 6.5
    with pytest.raises(ValueError, match="is not a number"):
        min_plan_score({ENV_MIN_PLAN_SCORE: "high"})
    with pytest.raises(ValueError, match="outside the plan score's 0-10"):
        min_plan_score({ENV_MIN_PLAN_SCORE: "11"})


def test_the_sensor_is_registered_stopped() -> None:
    assert strong_signal_alert in ALL_SENSORS
    assert strong_signal_alert.default_status == dg.DefaultSensorStatus.STOPPED
    assert strong_signal_alert.minimum_interval_seconds == 120


# --- Telegram --------------------------------------------------------------------------------


def telegram_env(url: str) -> dict[str, str]:
    return {alerts.ENV_TELEGRAM_TOKEN: BOT_TOKEN, alerts.ENV_TELEGRAM_CHAT_ID: CHAT, alerts.ENV_TELEGRAM_API: url}


def test_telegram_send_message_payload_and_no_token_in_logs(server, caplog: pytest.LogCaptureFixture) -> None:
    url, received, _ = server
    fields = {"symbol": "NVDA", "side": "long", "entry": "181.46", "stop": "177.00", "target": "190.00",
              "shares": "224", "empty": None}
    outcome = alerts.send_alert("NVDA long (plan 8.6)", "gapgo: gap +6.2%", fields, "info", env=telegram_env(url))
    assert outcome == {"log": True, "telegram": True}
    (post,) = received
    assert post["path"] == f"/bot{BOT_TOKEN}/sendMessage"
    assert post["json"]["chat_id"] == CHAT and post["json"]["disable_web_page_preview"] is True
    assert post["json"]["text"] == ("[INFO] NVDA long (plan 8.6)\ngapgo: gap +6.2%\n\nsymbol: NVDA\nside: long\n"
                                    "entry: 181.46\nstop: 177.00\ntarget: 190.00\nshares: 224")
    assert BOT_TOKEN not in caplog.text and "secretBotToken" not in caplog.text


def test_telegram_failures_are_logged_without_the_token(server, caplog: pytest.LogCaptureFixture) -> None:
    url, _, reply = server
    reply.update(status=400, body={"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    assert alerts.send_alert("x", "y", {}, "error", env=telegram_env(url))["telegram"] is False
    assert "alert to Telegram answered HTTP 400: Bad Request: chat not found" in caplog.text
    refused = telegram_env("http://127.0.0.1:9")  # the discard port: connection refused
    assert alerts.send_alert("x", "y", {}, "error", env=refused)["telegram"] is False
    assert "alert to Telegram failed: URLError" in caplog.text
    reply.update(status=200, body={"ok": False, "description": f"echo {BOT_TOKEN}"})  # a reply echoing the token
    assert alerts.send_alert("x", "y", {}, "error", env=telegram_env(url))["telegram"] is False
    assert BOT_TOKEN not in caplog.text and "secretBotToken" not in caplog.text


def test_telegram_needs_a_chat_id(server, caplog: pytest.LogCaptureFixture) -> None:
    url, received, _ = server
    env = {alerts.ENV_TELEGRAM_TOKEN: BOT_TOKEN, alerts.ENV_TELEGRAM_API: url}
    assert alerts.send_alert("x", "y", {}, "error", env=env)["telegram"] is False
    assert received == [] and "TRADINGSTATION_ALERT_TELEGRAM_CHAT_ID is needed too" in caplog.text
