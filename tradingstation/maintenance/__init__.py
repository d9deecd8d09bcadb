"""Lake maintenance: retention, backup and restore, verification and gap detection.

Library functions the command line calls (runbook: *Data Management*, *Data Retention Policies*,
*Data Corruption Recovery*). Each returns a small report with ``ok`` and ``summary()``; nothing
secret (credentials, signed URLs) goes into a report. No Dagster here.

- ``cleanup(lake, policy, today, dry_run)``: delete partitions older than their retention
- ``backup(lake, target, label)``: snapshot to ``{target}/{label}/`` with ``manifest.json`` last
- ``restore(lake, source, label, verify=True)``: verify every file, then copy back
- ``verify(lake, datasets, check_gaps, deep)``: every kind of damage by default (unreadable or
  garbled files, stray files, leftovers of interrupted writes, missing sessions, a missing bucket);
  ``deep`` adds the content contract
- ``find_gaps(lake, dataset, start, end)`` (``detect_gaps``: its frame): per-symbol gaps, going on
  past damaged files and naming them; ``check_partition`` / ``damaged_partitions``: verify's file
  check for some sessions of one dataset; ``universe_pairs``: the (date, symbol) pairs each session's
  universe includes, which the bar assets write and the gap rule expects
"""

from tradingstation.maintenance.backup import (
    DEFAULT_BACKUP_ROOT,
    ENV_BACKUP_ROOT,
    BackupReport,
    RestoreReport,
    backup,
    backup_lake,
    restore,
)
from tradingstation.maintenance.file_check import FileCheck, Issue, check_partition, damaged_partitions
from tradingstation.maintenance.gap_report import GAP_SCHEMA, GapReport, detect_gaps, find_gaps
from tradingstation.maintenance.integrity import ARTIFACTS, VerifyReport, verify
from tradingstation.maintenance.manifest import MANIFEST, BackupError, read_manifest
from tradingstation.maintenance.retention import (
    CleanupReport,
    Deletion,
    RetentionPolicy,
    cleanup,
    regular_bars,
    sessions_for_bars,
)
from tradingstation.quality.universe import universe_pairs

__all__ = [
    "ARTIFACTS", "DEFAULT_BACKUP_ROOT", "ENV_BACKUP_ROOT", "GAP_SCHEMA", "MANIFEST",
    "BackupError", "BackupReport", "CleanupReport", "Deletion", "FileCheck", "GapReport", "Issue", "RestoreReport",
    "RetentionPolicy", "VerifyReport", "backup", "backup_lake", "check_partition", "cleanup", "damaged_partitions",
    "detect_gaps", "find_gaps", "read_manifest", "regular_bars", "restore", "sessions_for_bars", "universe_pairs", "verify",
]
