"""Secrets never leave the machine: the one redaction every outgoing text passes through.

Credentials come only from the environment. :func:`redact` replaces, in any text, the value of
every secret-bearing variable (``SECRET_VARIABLES``, and any variable whose name ends in
``_PASSWORD``, ``_SECRET``, ``_SECRET_ACCESS_KEY`` or ``_TOKEN``) with ``***``, and the password
of any ``scheme://user:password@host`` URL. Alerts (log line, webhook JSON, e-mail), lake errors
and the CLI's error line call it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

MASK = "***"
SECRET_VARIABLES = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "DAGSTER_PG_PASSWORD",
    "TRADINGSTATION_ALERT_WEBHOOK_URL",  # a Slack webhook URL is itself the credential
    "TRADINGSTATION_ALERT_SMTP_PASSWORD",
    "TRADINGSTATION_BACKUP_HMAC_KEY",
)
_SECRET_SUFFIXES = ("_PASSWORD", "_SECRET", "_SECRET_ACCESS_KEY", "_TOKEN")
_MIN_LENGTH = 4  # shorter values would mask ordinary words
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/:@]*:)(?P<password>[^\s/@]+)(?P<at>@)")


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """The secret values set in ``env`` (default: the process environment), longest first."""
    env = os.environ if env is None else env
    names = {*SECRET_VARIABLES, *(n for n in env if n.upper().endswith(_SECRET_SUFFIXES))}
    values = {v for name in names for raw in [env.get(name) or ""] for v in (raw, raw.strip()) if len(v.strip()) >= _MIN_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret of ``env`` and every URL password replaced by ``***``."""
    for secret in secret_values(env):
        text = text.replace(secret, MASK)
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}{m['at']}", text)
