"""Backup and restore: whole-lake (or per-dataset) snapshots with a checked, optionally signed manifest.

A backup is ``{target}/{label}/{key}`` for every file of the lake (``label`` defaults to the
snapshot's New York date, ``YYYY-MM-DD``), followed by the manifest
(:mod:`tradingstation.maintenance.manifest`: ``manifest.json`` with every file's size and sha256,
its checksum and, with ``$TRADINGSTATION_BACKUP_HMAC_KEY`` set, its signature), written last, after
the copied sizes were checked, so an interrupted backup has no manifest and restore refuses it.
``target`` is any lake root (a local path or ``s3://bucket/prefix``) and goes through the same
pyarrow filesystem code as the lake itself.

Restore trusts nothing it did not check, and checks everything before it writes anything: the
manifest against its checksum and signature, the backup's files against the manifest (a file
missing, or one the manifest does not list, is refused by name), and the size and sha256 of
**every** file it will restore.

A damaged, incomplete or tampered backup is refused with a BackupError naming what is wrong, and
the live lake is untouched. Only then is each file copied back (each write atomic, each file
checked again as it is read); files identical to the live ones are left alone, and live files the
backup does not hold (e.g. sessions newer than the backup) are kept.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from tradingstation.core import schemas
from tradingstation.lake import FileEntry, Lake, LakeSettings
from tradingstation.maintenance._common import TMP_SUFFIX, human, redact, today_ny
from tradingstation.maintenance.manifest import (
    CHECKSUM,
    ENV_HMAC_KEY,
    FORMAT,
    MANIFEST,
    SIGNATURE,
    BackupError,
    check_label,
    checked_manifest,
    file_problem,
    listing_problems,
    read_optional,
    sha256,
    write_manifest,
)

ENV_BACKUP_ROOT = "TRADINGSTATION_BACKUP_ROOT"
DEFAULT_BACKUP_ROOT = "./data/backups"


def backup_lake(target: Lake | str | None = None) -> Lake:
    """A backup location as a Lake: ``target``, else $TRADINGSTATION_BACKUP_ROOT (default ./data/backups),
    with the lake's S3 endpoint and region settings."""
    if isinstance(target, Lake):
        return target
    root = target or os.environ.get(ENV_BACKUP_ROOT) or DEFAULT_BACKUP_ROOT
    settings = LakeSettings.from_env(root=root)
    return Lake(settings.root, settings.endpoint_url, settings.region)


def _overlap(a: Lake, b: Lake) -> bool:
    """True when one location lies inside the other (same storage)."""
    if a.is_s3 != b.is_s3 or (a.is_s3 and a.endpoint_url != b.endpoint_url):
        return False
    x, y = a.base_uri.rstrip("/") + "/", b.base_uri.rstrip("/") + "/"
    return x.startswith(y) or y.startswith(x)


def _datasets(names: Iterable[str] | None) -> set[str] | None:
    return None if names is None else {schemas.dataset(n).name for n in names}


def _selected(key: str, datasets: set[str] | None) -> bool:
    return datasets is None or key.split("/", 1)[0] in datasets


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class BackupReport:
    label: str
    source: str
    location: str  # where the snapshot is: {target}/{label}
    files: list[FileEntry] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)  # listed, then deleted before it could be read
    manifest: str = ""
    signed: bool = False  # manifest.json.hmac written ($TRADINGSTATION_BACKUP_HMAC_KEY set)

    @property
    def ok(self) -> bool:
        return bool(self.manifest)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def summary(self) -> str:
        lines = [f"backup {self.label}: {len(self.files)} file(s), {human(self.bytes)} from {self.source} to {self.location}"]
        if self.vanished:
            lines.append(f"  {len(self.vanished)} file(s) disappeared during the backup: {', '.join(self.vanished[:5])}")
        sealed = f"with {CHECKSUM}" + (f" and {SIGNATURE} (HMAC-SHA256)" if self.signed else f"; unsigned: {ENV_HMAC_KEY} not set")
        lines.append(f"  manifest {self.manifest} {sealed}" if self.manifest else "  INCOMPLETE: no manifest written")
        return "\n".join(lines)


def backup(
    lake: Lake,
    target: Lake | str | None = None,
    label: str | None = None,
    *,
    datasets: Iterable[str] | None = None,
    overwrite: bool = False,
) -> BackupReport:
    """Copy every file of ``lake`` (or of ``datasets``) to ``{target}/{label}/`` and write the manifest last."""
    dest = backup_lake(target)
    label = check_label(label or today_ny().isoformat())
    if _overlap(lake, dest):
        raise BackupError(f"the backup location {redact(dest.root)} overlaps the lake {redact(lake.root)}")
    wanted = _datasets(datasets)
    manifest_key = f"{label}/{MANIFEST}"
    existing = dest.files(label)
    if any(e.key == manifest_key for e in existing):
        if not overwrite:
            raise BackupError(f"a complete backup {label!r} already exists at {redact(dest.root)}: choose another label or overwrite")
        dest.delete_key(manifest_key)  # from here the old snapshot counts as incomplete
    sources = [f for f in lake.files() if _selected(f.key, wanted) and not f.key.rsplit("/", 1)[-1].endswith(TMP_SUFFIX)]
    if not sources:
        raise BackupError(f"nothing to back up: the lake at {redact(lake.root)} holds no files"
                          + (f" of {sorted(wanted)}" if wanted else ""))
    report = BackupReport(label, redact(lake.root), redact(dest.key_uri(label)))
    created = _now()
    entries = []
    for src in sources:
        try:
            data = lake.read_bytes(src.key)
        except FileNotFoundError:  # deleted by retention or a rewrite while we copied
            report.vanished.append(src.key)
            continue
        dest.write_bytes(f"{label}/{src.key}", data)
        entries.append({"key": src.key, "size": len(data), "sha256": sha256(data)})
        report.files.append(FileEntry(src.key, len(data)))
    stored = {e.key: e.size for e in dest.files(label)}
    short = [e["key"] for e in entries if stored.get(f"{label}/{e['key']}") != e["size"]]
    if short:
        raise BackupError(f"backup {label!r} is incomplete: the copies of {short[:10]} do not have their size", dict.fromkeys(short, "size"))
    for key in sorted(set(stored) - {f"{label}/{e['key']}" for e in entries}):
        dest.delete_key(key)  # left by an earlier interrupted or overwritten backup under this label
    manifest = {
        "format": FORMAT,
        "label": label,
        "created_at": created,
        "completed_at": _now(),
        "source_root": redact(lake.root),
        "source_endpoint": redact(lake.endpoint_url),
        "datasets": sorted({e["key"].split("/", 1)[0] for e in entries}),
        "total_bytes": sum(e["size"] for e in entries),
        "files": entries,
    }
    signed = write_manifest(dest, label, manifest)
    report.manifest, report.signed = dest.key_uri(manifest_key), signed
    return report


@dataclass
class RestoreReport:
    label: str
    source: str
    created_at: str
    restored: list[FileEntry] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already identical in the live lake
    kept: list[str] = field(default_factory=list)  # live files the backup does not hold, left as they are
    verified: bool = True
    signature: str = "unsigned"  # what was checked of manifest.json.hmac

    @property
    def ok(self) -> bool:
        return True  # a damaged, incomplete or failing restore raises BackupError instead

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.restored)

    def summary(self) -> str:
        check = "every file's size and sha256 verified" if self.verified else "files NOT verified beforehand"
        lines = [
            f"restore {self.label} (made {self.created_at}) from {self.source}: manifest checksum verified,"
            f" {self.signature}; file list matches the manifest; {check}",
            f"  restored {len(self.restored)} file(s), {human(self.bytes)}; {len(self.unchanged)} already identical",
        ]
        lines += [f"    {f.key}" for f in self.restored[:20]]
        if len(self.restored) > 20:
            lines.append(f"    ... and {len(self.restored) - 20} more")
        if self.kept:
            lines.append(f"  kept {len(self.kept)} live file(s) the backup does not hold (newer data)")
        return "\n".join(lines)


def restore(
    lake: Lake,
    source: Lake | str | None = None,
    label: str = "",
    verify: bool = True,
    *,
    datasets: Iterable[str] | None = None,
) -> RestoreReport:
    """Bring the files of backup ``label`` back into ``lake``, after verifying every one of them.

    The manifest's checksum (and, with $TRADINGSTATION_BACKUP_HMAC_KEY set, its signature) and the
    backup's file list are always checked first. ``verify=False`` skips only the full read of every
    file beforehand (each file is still checked just before it is written, and a damaged one stops
    the restore there).
    """
    src = backup_lake(source)
    if not label:
        raise BackupError("restore needs the label of a backup (e.g. --date 2024-01-15)")
    if _overlap(lake, src):
        raise BackupError(f"the backup location {redact(src.root)} overlaps the lake {redact(lake.root)}")
    manifest, signature = checked_manifest(src, label)
    wanted = _datasets(datasets)
    entries = [e for e in manifest["files"] if _selected(e["key"], wanted)]
    damaged: dict[str, str] = {}
    for entry in entries:
        try:
            lake.key_uri(entry["key"])
        except ValueError:
            damaged[entry["key"]] = "not a valid lake key"
    for key, problem in listing_problems(src, label, manifest).items():  # the whole backup, not only `datasets`
        damaged.setdefault(key, problem)
    if verify:
        for entry in entries:
            if entry["key"] not in damaged:
                problem = file_problem(read_optional(src, f"{label}/{entry['key']}"), entry)
                if problem:
                    damaged[entry["key"]] = problem
    if damaged:
        shown = "; ".join(f"{k}: {v}" for k, v in list(damaged.items())[:20])
        more = f" (and {len(damaged) - 20} more)" if len(damaged) > 20 else ""
        raise BackupError(
            f"backup {label!r} at {redact(src.root)} is damaged, refusing to restore (the lake was not changed): "
            f"{len(damaged)} bad file(s): {shown}{more}", damaged,
        )
    report = RestoreReport(label, redact(src.key_uri(label)), str(manifest.get("created_at", "?")), verified=verify,
                           signature=signature)
    live = {f.key: f.size for f in lake.files()}
    for entry in entries:
        data = read_optional(src, f"{label}/{entry['key']}")
        problem = file_problem(data, entry)
        if problem:  # changed since the check, or verify=False
            raise BackupError(
                f"backup {label!r}: {entry['key']}: {problem}; stopped after restoring {len(report.restored)} file(s)",
                {entry["key"]: problem},
            )
        assert data is not None
        if live.get(entry["key"]) == len(data) and sha256(read_optional(lake, entry["key"]) or b"") == entry["sha256"]:
            report.unchanged.append(entry["key"])
            continue
        lake.write_bytes(entry["key"], data)
        report.restored.append(FileEntry(entry["key"], len(data)))
    held = {e["key"] for e in entries}
    report.kept = sorted(k for k in live if k not in held and _selected(k, wanted) and not k.endswith(TMP_SUFFIX))
    return report
