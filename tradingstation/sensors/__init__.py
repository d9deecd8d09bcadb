"""Sensors of TradingStation (all created STOPPED; see :mod:`tradingstation.sensors.definitions`)."""

from tradingstation.sensors.definitions import (
    ALL_SENSORS,
    SENSOR_JOBS,
    daily_bars_history_job,
    freshness_sensor,
    run_failure_alert,
    universe_change_sensor,
)

__all__ = [
    "ALL_SENSORS",
    "SENSOR_JOBS",
    "daily_bars_history_job",
    "freshness_sensor",
    "run_failure_alert",
    "universe_change_sensor",
]
