"""Alerts: one structured log line always, plus a chat webhook, Telegram and/or e-mail when configured.

``send_alert(title, body, fields, severity)`` never raises: an alert that cannot be delivered is
logged (without the secret parts of its destination) and the caller goes on.

Where an alert goes, all from the environment (credentials never appear in code, logs or metadata):

TRADINGSTATION_ALERT_WEBHOOK_URL   Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat,
                                   Discord's ``/slack`` endpoint, ...): POST ``{"text": ..., "blocks": [...]}``
TRADINGSTATION_ALERT_SMTP_HOST     SMTP server; e-mail is sent when set, together with
TRADINGSTATION_ALERT_SMTP_PORT     (default 25; 465 means implicit TLS; STARTTLS is used whenever offered)
TRADINGSTATION_ALERT_SMTP_FROM     sender address
TRADINGSTATION_ALERT_SMTP_TO       recipients, comma separated
TRADINGSTATION_ALERT_SMTP_USER     optional login
TRADINGSTATION_ALERT_SMTP_PASSWORD optional password
TRADINGSTATION_ALERT_TELEGRAM_TOKEN   a Telegram bot's token; a message is sent when set, to
TRADINGSTATION_ALERT_TELEGRAM_CHAT_ID the chat (a user, group or channel id; the bot must be in it)
TRADINGSTATION_ALERT_TELEGRAM_API     the Bot API's base URL (default https://api.telegram.org)

Telegram: the Bot API's ``sendMessage`` (POST ``{api}/bot{token}/sendMessage``, JSON ``chat_id`` and
plain ``text``, at most 4,096 characters). The token is part of that URL, so the URL is never logged;
it ends in ``_TOKEN``, so :func:`tradingstation.core.secrets.redact` masks it in any text as well.

The log line goes through ``logging.getLogger("tradingstation.ops.alerts")`` with ``component="alerts"``,
so with TRADINGSTATION_LOG_FORMAT=json it is one JSON object (``jq 'select(.component=="alerts")'``).
Its message reads ``ALERT [severity] title: body | key=value ...``.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from tradingstation.core.secrets import redact

log = logging.getLogger("tradingstation.ops.alerts")

ENV_WEBHOOK = "TRADINGSTATION_ALERT_WEBHOOK_URL"
ENV_SMTP_HOST = "TRADINGSTATION_ALERT_SMTP_HOST"
ENV_SMTP_PORT = "TRADINGSTATION_ALERT_SMTP_PORT"
ENV_SMTP_FROM = "TRADINGSTATION_ALERT_SMTP_FROM"
ENV_SMTP_TO = "TRADINGSTATION_ALERT_SMTP_TO"
ENV_SMTP_USER = "TRADINGSTATION_ALERT_SMTP_USER"
ENV_SMTP_PASSWORD = "TRADINGSTATION_ALERT_SMTP_PASSWORD"
ENV_TELEGRAM_TOKEN = "TRADINGSTATION_ALERT_TELEGRAM_TOKEN"
ENV_TELEGRAM_CHAT_ID = "TRADINGSTATION_ALERT_TELEGRAM_CHAT_ID"
ENV_TELEGRAM_API = "TRADINGSTATION_ALERT_TELEGRAM_API"
TELEGRAM_API = "https://api.telegram.org"
_MAX_TELEGRAM = 4096  # the Bot API's limit on a message's text

TIMEOUT_SECONDS = 5.0
SEVERITIES = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL}
_EMOJI = {"info": ":information_source:", "warning": ":warning:", "error": ":rotating_light:", "critical": ":rotating_light:"}
_MAX_FIELD = 1900  # Slack caps a field's text at 2000 characters
_MAX_FIELDS = 10  # and a section at 10 fields


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _redact(text: str, env: Mapping[str, str]) -> str:
    return redact(text, env)


def _redacted(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(str(v), env) for v in value]
    return value if value is None or isinstance(value, (bool, int, float)) else redact(str(value), env)


def format_line(title: str, body: str, fields: Mapping[str, Any], severity: str) -> str:
    pairs = " ".join(f"{k}={_text(v)}" for k, v in fields.items() if v not in (None, ""))
    return f"ALERT [{severity}] {title}: {body}" + (f" | {pairs}" if pairs else "")


def slack_payload(title: str, body: str, fields: Mapping[str, Any], severity: str) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (the notification and fallback) plus Block Kit blocks."""
    head = f"{_EMOJI.get(severity, '')} [{severity.upper()}] {title}".strip()
    shown = [(k, _text(v)) for k, v in fields.items() if v not in (None, "")]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(f"[{severity.upper()}] {title}", 150)}},
    ]
    if body:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(body, 2900)}})
    for i in range(0, len(shown), _MAX_FIELDS):
        chunk = shown[i : i + _MAX_FIELDS]
        blocks.append(
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": _clip(f"*{k}*\n{v}", _MAX_FIELD)} for k, v in chunk],
            }
        )
    return {"text": f"{head}\n{body}" if body else head, "blocks": blocks}


def post_webhook(url: str, payload: Mapping[str, Any], env: Mapping[str, str]) -> bool:
    """POST ``payload`` as JSON; True on a 2xx answer. Failures are logged (URL redacted), never raised."""
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "tradingstation-alerts"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning(_redact(f"alert webhook failed: {type(exc).__name__}: {exc}", env), extra={"component": "alerts"})
        return False
    if not 200 <= status < 300:
        log.warning(f"alert webhook answered HTTP {status}", extra={"component": "alerts"})
        return False
    return True


def send_email(title: str, body: str, fields: Mapping[str, Any], severity: str, env: Mapping[str, str]) -> bool:
    """Send the alert by SMTP as configured in ``env``; failures are logged (no password), never raised."""
    host = env.get(ENV_SMTP_HOST, "")
    sender = env.get(ENV_SMTP_FROM, "")
    recipients = [a.strip() for a in env.get(ENV_SMTP_TO, "").split(",") if a.strip()]
    if not sender or not recipients:
        log.warning(
            f"alert e-mail not sent: {ENV_SMTP_HOST} is set but {ENV_SMTP_FROM} and {ENV_SMTP_TO} are needed too",
            extra={"component": "alerts"},
        )
        return False
    message = EmailMessage()
    message["Subject"] = f"[TradingStation {severity.upper()}] {title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    lines = [body, ""] + [f"{k}: {_text(v)}" for k, v in fields.items() if v not in (None, "")]
    message.set_content("\n".join(lines).strip() + "\n")
    user, password = env.get(ENV_SMTP_USER), env.get(ENV_SMTP_PASSWORD)
    try:
        port = int(env.get(ENV_SMTP_PORT) or 25)
        context = ssl.create_default_context()
        if port == 465:
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_SECONDS, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
        with server:
            server.ehlo()
            if port != 465 and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
            if user and password:
                server.login(user, password)
            server.send_message(message)
    except (TimeoutError, smtplib.SMTPException, OSError, ValueError) as exc:
        log.warning(_redact(f"alert e-mail failed: {type(exc).__name__}: {exc}", env), extra={"component": "alerts"})
        return False
    return True


def telegram_text(title: str, body: str, fields: Mapping[str, Any], severity: str) -> str:
    """The alert as one plain-text Telegram message: title, body, then ``key: value`` lines."""
    lines = [f"[{severity.upper()}] {title}", body, ""] + [f"{k}: {_text(v)}" for k, v in fields.items()
                                                          if v not in (None, "")]
    return _clip("\n".join(lines).strip(), _MAX_TELEGRAM)


def send_telegram(title: str, body: str, fields: Mapping[str, Any], severity: str, env: Mapping[str, str]) -> bool:
    """POST the alert to the Bot API's sendMessage; True when it answers ``ok``. Never raises; the
    token (in the URL) never reaches a log line."""
    token = env.get(ENV_TELEGRAM_TOKEN, "").strip()
    chat = env.get(ENV_TELEGRAM_CHAT_ID, "").strip()
    if not chat:
        log.warning(f"alert not sent to Telegram: {ENV_TELEGRAM_TOKEN} is set but {ENV_TELEGRAM_CHAT_ID} is needed too",
                    extra={"component": "alerts"})
        return False
    api = (env.get(ENV_TELEGRAM_API) or TELEGRAM_API).strip().rstrip("/")
    payload = {"chat_id": chat, "text": telegram_text(title, body, fields, severity), "disable_web_page_preview": True}
    request = urllib.request.Request(
        f"{api}/bot{token}/sendMessage",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "tradingstation-alerts"},
        method="POST",
    )

    def hidden(text: str) -> str:  # the token even when shorter than redact() masks
        return _redact(text.replace(token, "***") if token else text, env)

    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, exc.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning(hidden(f"alert to Telegram failed: {type(exc).__name__}: {exc}"), extra={"component": "alerts"})
        return False
    try:
        reply = json.loads(answer or b"{}")
    except ValueError:
        reply = {}
    if not 200 <= status < 300 or not isinstance(reply, dict) or reply.get("ok") is not True:
        why = reply.get("description", "") if isinstance(reply, dict) else ""
        log.warning(hidden(f"alert to Telegram answered HTTP {status}{': ' + str(why) if why else ''}"),
                    extra={"component": "alerts"})
        return False
    return True


def send_alert(
    title: str,
    body: str = "",
    fields: Mapping[str, Any] | None = None,
    severity: str = "error",
    *,
    env: Mapping[str, str] | None = None,
) -> dict[str, bool]:
    """Log the alert, then deliver it to every configured channel. Never raises.

    ``severity`` is info, warning, error or critical (the log level follows it). Returns what was
    attempted and whether it got through, e.g. ``{"log": True, "webhook": True}``.
    """
    env = os.environ if env is None else env
    severity = severity.lower() if severity and severity.lower() in SEVERITIES else "error"
    # The one place every outgoing text passes through: the log line, the webhook JSON, the e-mail.
    title, body = redact(title, env), redact(body, env)
    fields = {k: _redacted(v, env) for k, v in (fields or {}).items()}
    extra: dict[str, Any] = {"component": "alerts", "alert_title": title, "alert_severity": severity}
    if fields.get("partition"):
        extra["partition"] = str(fields["partition"])
    outcome = {"log": True}
    try:
        log.log(SEVERITIES[severity], _redact(format_line(title, body, fields, severity), env), extra=extra)
    except Exception:  # noqa: BLE001 - a broken handler must not take the sensor down
        outcome["log"] = False
    url = env.get(ENV_WEBHOOK, "").strip()
    if url:
        try:
            outcome["webhook"] = post_webhook(url, slack_payload(title, body, fields, severity), env)
        except Exception as exc:  # noqa: BLE001 - an alert never raises
            log.warning(_redact(f"alert webhook failed: {type(exc).__name__}: {exc}", env), extra={"component": "alerts"})
            outcome["webhook"] = False
    if env.get(ENV_TELEGRAM_TOKEN, "").strip():
        try:
            outcome["telegram"] = send_telegram(title, body, fields, severity, env)
        except Exception as exc:  # noqa: BLE001 - an alert never raises
            token = env.get(ENV_TELEGRAM_TOKEN, "").strip()
            log.warning(_redact(f"alert to Telegram failed: {type(exc).__name__}: {exc}".replace(token, "***"), env),
                        extra={"component": "alerts"})
            outcome["telegram"] = False
    if env.get(ENV_SMTP_HOST, "").strip():
        try:
            outcome["email"] = send_email(title, body, fields, severity, env)
        except Exception as exc:  # noqa: BLE001
            log.warning(_redact(f"alert e-mail failed: {type(exc).__name__}: {exc}", env), extra={"component": "alerts"})
            outcome["email"] = False
    return outcome
