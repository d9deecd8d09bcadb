"""Logs: structured JSON when asked for (TRADINGSTATION_LOG_FORMAT=json or --log-format json),
readable text otherwise.

A JSON line carries ``timestamp`` (UTC, ISO 8601), ``level``, ``component``, ``message`` and, when
there is one, the ``run_id``, ``job`` and ``partition``, so the runbook's ``jq`` filters work
(``grep '"component":"daily_bars"' | jq .``). Dagster's own log lines go through the same format.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Dagster itself is imported where its logger is built: the CLI logs without it
    import dagster as dg

ENV_FORMAT = "TRADINGSTATION_LOG_FORMAT"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; Dagster records contribute their run, job, step and partition."""

    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        line = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "component": meta.get("step_key") or getattr(record, "component", None) or record.name,
            "message": meta.get("orig_message") or record.getMessage(),
        }
        for key, value in (("run_id", meta.get("run_id")), ("job", meta.get("job_name"))):
            if value:
                line[key] = value
        tags = meta.get("job_tags") or {}
        partition = (
            getattr(event, "partition", None)
            or tags.get("dagster/partition")
            or ("..".join(r) if all(r := (tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end"))) else None)
            or getattr(record, "partition", None)
        )
        if partition:
            line["partition"] = partition
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def wants_json(fmt: str | None = None) -> bool:
    return (fmt or os.environ.get(ENV_FORMAT, "text")).lower() == "json"


def configure(fmt: str | None = None, level: str = "INFO") -> None:
    """Set up the root logger of a TradingStation process (the CLI, the daemon's code server)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if wants_json(fmt) else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # libraries (alembic, botocore) only when something is wrong
    logging.getLogger("tradingstation").setLevel(level)


def json_log_lines(init_context: dg.InitLoggerContext) -> logging.Logger:
    """The JSON logger's body: JSON lines on stderr, at the run's configured level."""
    logger = logging.getLogger("tradingstation.dagster")
    logger.propagate = False
    logger.setLevel(init_context.logger_config["log_level"])
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.handlers[:] = [handler]
    return logger


@functools.cache
def json_logger() -> dg.LoggerDefinition:
    """The Dagster logger, built on first use, so `tradingstation --help` never imports Dagster."""
    import dagster as dg

    return dg.logger(
        config_schema={"log_level": dg.Field(str, is_required=False, default_value="INFO")},
        description="JSON lines on stderr: timestamp, level, component, message, run_id, job, partition.",
    )(json_log_lines)


def dagster_loggers(fmt: str | None = None) -> dict[str, dg.LoggerDefinition]:
    """The Definitions' loggers: our JSON logger as "console" when JSON is asked for, else Dagster's."""
    return {"console": json_logger()} if wants_json(fmt) else {}
