"""Lake maintenance: retention, backup and restore, verification and gap detection.

Library functions the command line calls (runbook: *Data Management*, *Data Retention Policies*,
*Data Corruption Recovery*). Each returns a small report with ``ok`` and ``summary()``; nothing
secret (credentials, signed URLs) goes into a report. No Dagster here.

- ``cleanup(lake, policy, today, dry_run)``: delete partitions older than their retention
- ``backup(lake, target, label)``: snapshot to ``{target}/{label}/`` with ``manifest.json`` last
- ``restore(lake, source, label, verify=True)``: verify every file, then copy back
- ``verify(lake, datasets, check_gaps)`` and ``detect_gaps(lake, dataset, start, end)``
"""

from tradingstation.maintenance.backup import (
    DEFAULT_BACKUP_ROOT,
    ENV_BACKUP_ROOT,
    MANIFEST,
    BackupError,
    BackupReport,
    RestoreReport,
    backup,
    backup_lake,
    read_manifest,
    restore,
)
from tradingstation.maintenance.integrity import GAP_SCHEMA, Issue, VerifyReport, detect_gaps, verify
from tradingstation.maintenance.retention import (
    CleanupReport,
    Deletion,
    RetentionPolicy,
    cleanup,
    regular_bars,
    sessions_for_bars,
)

__all__ = [
    "DEFAULT_BACKUP_ROOT", "ENV_BACKUP_ROOT", "GAP_SCHEMA", "MANIFEST",
    "BackupError", "BackupReport", "CleanupReport", "Deletion", "Issue", "RestoreReport", "RetentionPolicy",
    "VerifyReport", "backup", "backup_lake", "cleanup", "detect_gaps", "read_manifest", "regular_bars",
    "restore", "sessions_for_bars", "verify",
]
