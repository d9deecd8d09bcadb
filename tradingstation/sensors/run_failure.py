"""``run_failure_alert``: every failed run of this code location (all jobs) gives one alert naming the
job, the run id, the failed step(s), the error and the partition (``tradingstation.ops.alerts``).
"""

from __future__ import annotations

import os

import dagster as dg

from tradingstation.ops.alerts import send_alert

ENV_UI_URL = "TRADINGSTATION_UI_URL"  # optional, e.g. https://dagster.example.com: links the run in alerts
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

def _partition(tags: dict[str, str]) -> str | None:
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    if tags.get(RANGE_START) and tags.get(RANGE_END):
        return f"{tags[RANGE_START]}..{tags[RANGE_END]}"
    return None


def _clip(text: str, limit: int = 1500) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dg.run_failure_sensor(
    name="run_failure_alert",
    description="Alerts (log line, webhook, e-mail) on every failed run of any job: job, run id, failed steps, error, partition.",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    steps = [e.step_key for e in step_failures if e.step_key]
    errors = []
    for event in step_failures:
        error = event.step_failure_data.error if event.step_failure_data else None
        while error is not None and error.cause is not None:  # Dagster wraps the user's exception
            error = error.cause
        if error is not None:
            errors.append(f"{event.step_key}: {error.message.strip()}")
    error_text = _clip("\n".join(errors) or context.failure_event.message or "the run failed")
    fields = {
        "job": run.job_name,
        "run_id": run.run_id,
        "failed_steps": steps or "none (the run failed outside its steps)",
        "partition": _partition(dict(run.tags)),
        "error": error_text,
    }
    ui = os.environ.get(ENV_UI_URL, "").rstrip("/")
    if ui:
        fields["run"] = f"{ui}/runs/{run.run_id}"
    send_alert(f"run of {run.job_name} failed", error_text, fields, severity="error")
    context.log.info(f"alerted the failure of run {run.run_id} ({run.job_name})")


# --- universe changes ------------------------------------------------------------------------
