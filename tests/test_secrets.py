"""No secret leaves the machine: alerts (log, webhook JSON, e-mail) and lake errors are redacted."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tradingstation.core.errors import LakeConfigError, LakeUnreachableError
from tradingstation.core.secrets import redact
from tradingstation.lake import Lake
from tradingstation.ops import alerts

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PG_PASSWORD = "pg-Secret-42"
ERROR = f"boto3 said: bad signature for {AWS_SECRET}; postgres: password {PG_PASSWORD} rejected"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", PG_PASSWORD)


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[bytes]]]:
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def test_redact_masks_environment_secrets_and_url_passwords(secret_env: None) -> None:
    text = redact(f"{ERROR} at http://ops:hunter2@minio.local:9000/bucket")
    assert AWS_SECRET not in text and PG_PASSWORD not in text and "hunter2" not in text
    assert "http://ops:***@minio.local:9000/bucket" in text
    assert redact("nothing secret here") == "nothing secret here"


def test_the_webhook_json_carries_no_secret(
    secret_env: None, webhook: tuple[str, list[bytes]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url, received = webhook
    monkeypatch.setenv(alerts.ENV_WEBHOOK, url)
    caplog.set_level(logging.INFO, logger="tradingstation.ops.alerts")
    outcome = alerts.send_alert(f"run failed ({AWS_SECRET})", ERROR, {"error": ERROR, "steps": [ERROR]}, "error")
    assert outcome["webhook"] is True
    (body,) = received
    payload = json.loads(body)
    assert AWS_SECRET not in body.decode() and PG_PASSWORD not in body.decode()
    assert "***" in payload["text"]
    assert AWS_SECRET not in caplog.text and PG_PASSWORD not in caplog.text


def test_the_email_body_carries_no_secret(secret_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[EmailMessage] = []

    class FakeSMTP:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __enter__(self) -> FakeSMTP:  # noqa: PYI034
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def ehlo(self) -> None:
            pass

        def has_extn(self, name: str) -> bool:
            return False

        def send_message(self, message: EmailMessage) -> None:
            sent.append(message)

    monkeypatch.setattr(alerts.smtplib, "SMTP", FakeSMTP)
    env = {
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET, "DAGSTER_PG_PASSWORD": PG_PASSWORD,
        alerts.ENV_SMTP_HOST: "127.0.0.1", alerts.ENV_SMTP_FROM: "ts@example.com", alerts.ENV_SMTP_TO: "ops@example.com",
    }
    assert alerts.send_alert("run failed", ERROR, {"error": ERROR}, "error", env=env)["email"] is True
    (message,) = sent
    text = message.as_string()
    assert AWS_SECRET not in text and PG_PASSWORD not in text and "***" in message.get_content()


def test_a_password_in_the_endpoint_url_never_reaches_a_lake_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-key")
    lake = Lake("s3://bucket/lake", endpoint_url="http://ops:hunter2@127.0.0.1:9")  # port 9: nothing answers
    assert "hunter2" not in repr(lake)
    with pytest.raises((LakeUnreachableError, LakeConfigError)) as caught:
        lake.sessions("daily_bars")
    assert "hunter2" not in str(caught.value) and "secret-key" not in str(caught.value)


@pytest.mark.parametrize(
    "sdk_text",
    [
        "AWS Error ACCESS_DENIED during ListObjectsV2 operation: Access Denied",
        "AWS Error UNKNOWN (HTTP status 403) during HeadObject operation: InvalidAccessKeyId",
        "When listing objects: AWS Error [code 15]: AccessDenied",
        "AWS Error SIGNATURE_DOES_NOT_MATCH during ListObjectsV2 operation",
    ],
)
def test_refused_credentials_are_named_whatever_the_sdk_spelling(sdk_text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-right-secret")
    lake = Lake("s3://bucket/lake", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(LakeConfigError, match="refused the credentials"):
        with lake._errors("bucket/lake"):
            raise OSError(sdk_text + " for not-the-right-secret")
    with pytest.raises(LakeUnreachableError, match="cannot reach the lake"):
        with lake._errors("bucket/lake"):
            raise OSError("curlCode: 7, Couldn't connect to server")
