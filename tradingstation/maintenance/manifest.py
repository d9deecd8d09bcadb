"""The backup manifest: its format, its checksum and its signature, written and checked.

A complete backup ``{target}/{label}/`` holds ``manifest.json``::

    {"format": 1, "label": "2025-11-28", "created_at": "...Z", "completed_at": "...Z",
     "source_root": "s3://bucket/lake", "datasets": [...], "total_bytes": 123,
     "files": [{"key": "daily_bars/date=2025-11-28/part-0.parquet", "size": 1234, "sha256": "..."}]}

Beside it, ``manifest.json.sha256`` holds the manifest's own sha256 (``sha256sum -c`` format), and,
when ``$TRADINGSTATION_BACKUP_HMAC_KEY`` is set, ``manifest.json.hmac`` holds its HMAC-SHA256 under
that key (hex). :func:`write_manifest` writes both before the manifest, and the manifest last, so
an interrupted backup has no manifest and restore refuses it.

Reading a manifest trusts nothing it did not check (:func:`checked_manifest`):

1. the manifest matches ``manifest.json.sha256`` (a manifest edited, damaged, or without that file
   is refused);
2. with ``$TRADINGSTATION_BACKUP_HMAC_KEY`` set, ``manifest.json.hmac`` is present and matches
   (an unsigned backup, or one signed with another key, is refused). Without the key a signature
   is not checked, and the sha256 only catches accidents: someone who can write the backup can
   recompute it. The key is never printed;
3. it is a format-1 manifest listing each file once.

:func:`listing_problems` holds the backup's files against it (a file missing, or one the manifest
does not list, by name) and :func:`file_problem` one file's bytes against its entry (size,
sha256). Every refusal is a :class:`BackupError` naming what is wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections import Counter

from tradingstation.core.errors import TradingStationError
from tradingstation.lake import Lake
from tradingstation.maintenance._common import redact

MANIFEST = "manifest.json"
CHECKSUM = MANIFEST + ".sha256"  # the manifest's own sha256, beside it
SIGNATURE = MANIFEST + ".hmac"  # its HMAC-SHA256 under $TRADINGSTATION_BACKUP_HMAC_KEY, when set
FORMAT = 1
ENV_HMAC_KEY = "TRADINGSTATION_BACKUP_HMAC_KEY"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class BackupError(TradingStationError):
    """A backup that cannot be made or restored; ``damaged`` maps each bad key to its problem."""

    def __init__(self, message: str, damaged: dict[str, str] | None = None):
        super().__init__(message)
        self.damaged = damaged or {}


def check_label(label: str) -> str:
    """``label`` when it is a valid backup label (letters, digits, '.', '_', '-'); BackupError otherwise."""
    if not _LABEL.match(label):
        raise BackupError(f"backup label {label!r} must be letters, digits, '.', '_' or '-' (e.g. 2024-01-15)")
    return label


def sha256(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def hmac_key() -> bytes | None:
    """The manifest signing key from $TRADINGSTATION_BACKUP_HMAC_KEY, or None when unset or blank."""
    raw = os.environ.get(ENV_HMAC_KEY, "")
    return raw.encode() if raw.strip() else None


def sign(key: bytes, data: bytes) -> str:
    """The hex HMAC-SHA256 of ``data`` under ``key``."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def write_manifest(dest: Lake, label: str, manifest: dict) -> bool:
    """Write ``manifest`` for backup ``label`` at ``dest``: ``manifest.json.sha256``, then
    ``manifest.json.hmac`` when $TRADINGSTATION_BACKUP_HMAC_KEY is set, then the manifest itself last
    (from there the backup is complete). True when it was signed."""
    body = json.dumps(manifest, indent=1).encode()
    key = hmac_key()
    dest.write_bytes(f"{label}/{CHECKSUM}", f"{sha256(body)}  {MANIFEST}\n".encode())
    if key is not None:
        dest.write_bytes(f"{label}/{SIGNATURE}", f"{sign(key, body)}\n".encode())
    dest.write_bytes(f"{label}/{MANIFEST}", body)  # last: from here the backup is complete
    return key is not None


def read_manifest(source: Lake, label: str) -> dict:
    """The manifest of backup ``label``, after checking it against ``manifest.json.sha256`` and, with
    $TRADINGSTATION_BACKUP_HMAC_KEY set, ``manifest.json.hmac``; BackupError when it is missing
    (incomplete), does not match its checksum or signature, or is unreadable."""
    return checked_manifest(source, label)[0]


def checked_manifest(source: Lake, label: str) -> tuple[dict, str]:
    """(manifest, what was checked of its signature) for backup ``label``; see :func:`read_manifest`."""
    key = f"{check_label(label)}/{MANIFEST}"
    where = f"backup {label!r} at {redact(source.root)}"
    try:
        body = source.read_bytes(key)
    except FileNotFoundError:
        present = source.files(label)
        if present:
            raise BackupError(
                f"{where} is incomplete: {len(present)} file(s) but no {MANIFEST} "
                "(the backup was interrupted); refusing to restore it", {key: "missing manifest"}
            ) from None
        labels = sorted({e.key.split("/", 1)[0] for e in source.files() if e.key.endswith("/" + MANIFEST)})
        raise BackupError(
            f"no backup {label!r} at {redact(source.root)}; complete backups there: {', '.join(labels) or 'none'}"
        ) from None
    checksum = read_optional(source, f"{label}/{CHECKSUM}")
    if checksum is None:
        raise BackupError(
            f"{where} has no {CHECKSUM} beside {MANIFEST}, so its manifest cannot be checked; refusing to restore it "
            f"(made before manifest checksums? check it yourself, then: sha256sum {MANIFEST} > {CHECKSUM})",
            {f"{label}/{CHECKSUM}": "missing manifest checksum"},
        )
    expected = (checksum.decode("ascii", "replace").split() or [""])[0].lower()
    if not _HEX64.match(expected):
        raise BackupError(f"{where}: {CHECKSUM} does not hold a sha256; refusing to restore it",
                          {f"{label}/{CHECKSUM}": "unreadable manifest checksum"})
    if not hmac.compare_digest(sha256(body), expected):
        raise BackupError(
            f"{where}: {MANIFEST} does not match its checksum in {CHECKSUM} (edited or damaged); refusing to restore it",
            {key: "sha256 does not match manifest.json.sha256"},
        )
    secret = hmac_key()
    signature = read_optional(source, f"{label}/{SIGNATURE}")
    if secret is None:
        signed = f"signature present but not checked ({ENV_HMAC_KEY} not set)" if signature is not None else "unsigned"
    elif signature is None:
        raise BackupError(
            f"{where} has no {SIGNATURE} but {ENV_HMAC_KEY} is set: an unsigned backup is refused",
            {f"{label}/{SIGNATURE}": "missing signature"},
        )
    elif not hmac.compare_digest(signature.decode("ascii", "replace").strip().lower(), sign(secret, body)):
        raise BackupError(
            f"{where}: {SIGNATURE} does not match {MANIFEST} under {ENV_HMAC_KEY} "
            "(the manifest was changed, or signed with another key); refusing to restore it",
            {f"{label}/{SIGNATURE}": "HMAC does not match"},
        )
    else:
        signed = "HMAC signature verified"
    try:
        manifest = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"backup {label!r}: {MANIFEST} is not valid JSON ({exc})", {key: "unreadable manifest"}) from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list) or manifest.get("format") != FORMAT or not all(
        isinstance(f, dict) and isinstance(f.get("key"), str) and isinstance(f.get("size"), int)
        and isinstance(f.get("sha256"), str) for f in files
    ):
        raise BackupError(f"backup {label!r}: {MANIFEST} is not a format-{FORMAT} manifest", {key: "invalid manifest"})
    twice = sorted(k for k, n in Counter(f["key"] for f in files).items() if n > 1)
    if twice:
        raise BackupError(f"backup {label!r}: {MANIFEST} lists {twice[:10]} more than once", dict.fromkeys(twice, "listed twice"))
    return manifest, signed


def listing_problems(source: Lake, label: str, manifest: dict) -> dict[str, str]:
    """The backup's actual files against the manifest: each missing or unlisted file, by key."""
    present = {e.key.split("/", 1)[1] for e in source.files(label)}
    listed = {f["key"] for f in manifest["files"]}
    problems = dict.fromkeys(sorted(listed - present), "missing from the backup (listed in the manifest)")
    for key in sorted(present - listed - {MANIFEST, CHECKSUM, SIGNATURE}):
        problems[key] = "in the backup but not in the manifest"
    return problems


def file_problem(data: bytes | None, entry: dict) -> str | None:
    """What is wrong with a backup file's bytes against its manifest entry, or None."""
    if data is None:
        return "missing from the backup"
    if len(data) != entry["size"]:
        return f"size {len(data)}, manifest says {entry['size']}"
    if sha256(data) != entry["sha256"]:
        return "sha256 does not match the manifest"
    return None


def read_optional(source: Lake, key: str) -> bytes | None:
    """The bytes at ``key``, or None when there is no such file."""
    try:
        return source.read_bytes(key)
    except FileNotFoundError:
        return None
