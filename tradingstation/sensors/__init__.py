"""Sensors: alert on failed runs, follow universe changes, watch the lake's freshness, alert strong signals.

One module per sensor: :mod:`.run_failure`, :mod:`.universe_change`, :mod:`.freshness`,
:mod:`.strong_signals`. All four are created **STOPPED**: an operator turns them on in the UI
(*Automation*) or with ``dagster sensor start <name>``, and the daemon (``dagster-daemon run``) must
be running.
"""

from tradingstation.sensors.freshness import freshness_sensor
from tradingstation.sensors.run_failure import run_failure_alert
from tradingstation.sensors.strong_signals import strong_signal_alert
from tradingstation.sensors.universe_change import daily_bars_history_job, universe_change_sensor

ALL_SENSORS = [run_failure_alert, universe_change_sensor, freshness_sensor, strong_signal_alert]
SENSOR_JOBS = [daily_bars_history_job]

__all__ = [
    "ALL_SENSORS",
    "SENSOR_JOBS",
    "daily_bars_history_job",
    "freshness_sensor",
    "run_failure_alert",
    "strong_signal_alert",
    "universe_change_sensor",
]
