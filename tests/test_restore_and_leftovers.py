"""Issue #8, items 6 and 7: restore trusts nothing it did not check; leftovers of interrupted writes go.

Restore: the backup's file list must be the manifest's, the manifest must match its own checksum
(``manifest.json.sha256``) and, with $TRADINGSTATION_BACKUP_HMAC_KEY set, its HMAC signature
(``manifest.json.hmac``); anything else is refused by name with the live lake untouched, and a good
backup comes back byte for byte. Cleanup: hidden temp files of interrupted local writes and
unfinished S3 multipart uploads older than an hour are removed (``--dry-run`` only lists them), a
younger one is left alone, and the summary counts them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest

from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.maintenance import BackupError, RetentionPolicy, backup, cleanup, restore
from tradingstation.maintenance.manifest import CHECKSUM, ENV_HMAC_KEY, MANIFEST, SIGNATURE
from tradingstation.testing import TEST_KEY_ID, TEST_SECRET

from lake_data import daily_frame

LABEL = "good"
SESSIONS = [d.isoformat() for d in calendar.sessions_in_range("2025-11-24", "2025-12-02")]
VICTIM = f"daily_bars/date={SESSIONS[-1]}/part-0.parquet"
HMAC_KEY = "correct-horse-battery-staple-8f3a"


def make_lake(lake: Lake) -> Lake:
    lake.write_sessions("daily_bars", daily_frame(SESSIONS, ["AAPL", "MSFT", "BRK.B"]), SESSIONS)
    lake.write("master_dashboard", SESSIONS[-1], schemas.empty(schemas.dataset("master_dashboard").schema))
    lake.write_artifact("master_dashboard", SESSIONS[-1], "dashboard.html", b"<html>plan</html>")
    return lake


def snapshot(lake: Lake) -> dict[str, bytes]:
    return {e.key: lake.read_bytes(e.key) for e in lake.files()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_of(target: Lake) -> dict:
    return json.loads(target.read_bytes(f"{LABEL}/{MANIFEST}"))


def rewrite_manifest(target: Lake, manifest: dict, *, fix_checksum: bool) -> None:
    """What someone editing a backup does: a new manifest, and (``fix_checksum``) its new sha256."""
    body = json.dumps(manifest, indent=1).encode()
    target.write_bytes(f"{LABEL}/{MANIFEST}", body)
    if fix_checksum:
        target.write_bytes(f"{LABEL}/{CHECKSUM}", f"{sha256(body)}  {MANIFEST}\n".encode())


def damage_live(lake: Lake) -> dict[str, bytes]:
    """Lose two partitions of the live lake (the reason to restore); returns the damaged state."""
    lake.delete_partition("daily_bars", SESSIONS[-1])
    lake.delete_partition("daily_bars", SESSIONS[0])
    return snapshot(lake)


def refused(lake: Lake, target: Lake, damaged_state: dict[str, bytes], match: str) -> BackupError:
    with pytest.raises(BackupError, match=match) as caught:
        restore(lake, target, LABEL)
    assert snapshot(lake) == damaged_state  # verified before touching the live lake
    return caught.value


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_HMAC_KEY, raising=False)


@pytest.fixture
def lakes(tmp_path: Path, no_key: None) -> tuple[Lake, Lake, dict[str, bytes]]:
    lake = make_lake(Lake(str(tmp_path / "lake")))
    original = snapshot(lake)
    target = Lake(str(tmp_path / "backups"))
    report = backup(lake, target, LABEL)
    assert report.ok and not report.signed and "unsigned" in report.summary()
    body = target.read_bytes(f"{LABEL}/{MANIFEST}")
    assert target.read_bytes(f"{LABEL}/{CHECKSUM}") == f"{sha256(body)}  {MANIFEST}\n".encode()  # sha256sum -c format
    return lake, target, original


# --- item 6: restore -------------------------------------------------------------------------------


def test_a_manifest_entry_removed_is_refused_naming_the_file(lakes: tuple[Lake, Lake, dict[str, bytes]]) -> None:
    lake, target, _ = lakes
    manifest = manifest_of(target)
    manifest["files"] = [f for f in manifest["files"] if f["key"] != VICTIM]
    state = damage_live(lake)

    rewrite_manifest(target, manifest, fix_checksum=False)  # a careless edit: the checksum catches it
    error = refused(lake, target, state, r"manifest\.json does not match its checksum in manifest\.json\.sha256")
    assert error.damaged == {f"{LABEL}/{MANIFEST}": "sha256 does not match manifest.json.sha256"}

    rewrite_manifest(target, manifest, fix_checksum=True)  # a thorough one: the file list catches it
    error = refused(lake, target, state, re.escape(f"{VICTIM}: in the backup but not in the manifest"))
    assert error.damaged == {VICTIM: "in the backup but not in the manifest"}


@pytest.mark.parametrize("where", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_an_extra_or_a_missing_file_in_the_backup_is_refused(where: str, tmp_path: Path, request: pytest.FixtureRequest,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_HMAC_KEY, raising=False)
    if where == "s3":
        bucket, endpoint = request.getfixturevalue("s3_env"), request.getfixturevalue("s3_endpoint")
        lake = make_lake(Lake(f"s3://{bucket}/prod/lake", endpoint_url=endpoint))
        target = Lake(f"s3://{bucket}/backups", endpoint_url=endpoint)
    else:
        lake, target = make_lake(Lake(str(tmp_path / "lake"))), Lake(str(tmp_path / "backups"))
    backup(lake, target, LABEL)
    state = damage_live(lake)

    extra = f"daily_bars/date={SESSIONS[2]}/part-1.parquet"
    target.write_bytes(f"{LABEL}/{extra}", target.read_bytes(f"{LABEL}/{VICTIM}"))
    error = refused(lake, target, state, re.escape(f"{extra}: in the backup but not in the manifest"))
    assert error.damaged == {extra: "in the backup but not in the manifest"}
    target.delete_key(f"{LABEL}/{extra}")

    gone = f"daily_bars/date={SESSIONS[0]}/part-0.parquet"
    target.delete_key(f"{LABEL}/{gone}")
    with pytest.raises(BackupError, match=re.escape(f"{gone}: missing from the backup")):
        restore(lake, target, LABEL, verify=False)  # the file list is checked even without the full read
    assert snapshot(lake) == state


def test_an_edited_file_with_its_manifest_entry_updated_is_refused_by_the_manifest_checksum(
    lakes: tuple[Lake, Lake, dict[str, bytes]],
) -> None:
    lake, target, _ = lakes
    forged = lake.read_bytes(f"daily_bars/date={SESSIONS[-2]}/part-0.parquet")  # a valid file, other prices
    target.write_bytes(f"{LABEL}/{VICTIM}", forged)
    manifest = manifest_of(target)
    for entry in manifest["files"]:
        if entry["key"] == VICTIM:
            entry.update(size=len(forged), sha256=sha256(forged))
    rewrite_manifest(target, manifest, fix_checksum=False)
    state = damage_live(lake)
    refused(lake, target, state, r"backup 'good' at .*: manifest\.json does not match its checksum")

    target.delete_key(f"{LABEL}/{CHECKSUM}")  # nor is a manifest without a checksum trusted
    refused(lake, target, state, r"has no manifest\.json\.sha256 beside manifest\.json")


def test_with_the_hmac_key_a_rewritten_checksum_or_a_missing_signature_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(ENV_HMAC_KEY, HMAC_KEY)
    lake = make_lake(Lake(str(tmp_path / "lake")))
    target = Lake(str(tmp_path / "backups"))
    made = backup(lake, target, LABEL)
    assert made.signed and SIGNATURE in made.summary()
    genuine = {k: target.read_bytes(f"{LABEL}/{k}") for k in (MANIFEST, CHECKSUM, SIGNATURE, VICTIM)}
    state = damage_live(lake)

    # the attacker edits a file, its manifest entry AND the manifest's .sha256: only the key is missing
    forged = lake.read_bytes(f"daily_bars/date={SESSIONS[-2]}/part-0.parquet")
    target.write_bytes(f"{LABEL}/{VICTIM}", forged)
    manifest = manifest_of(target)
    for entry in manifest["files"]:
        if entry["key"] == VICTIM:
            entry.update(size=len(forged), sha256=sha256(forged))
    rewrite_manifest(target, manifest, fix_checksum=True)
    messages = [str(refused(lake, target, state, r"manifest\.json\.hmac does not match manifest\.json"))]

    target.delete_key(f"{LABEL}/{SIGNATURE}")  # dropping the signature does not help
    messages.append(str(refused(lake, target, state, r"no manifest\.json\.hmac but TRADINGSTATION_BACKUP_HMAC_KEY is set")))

    for key, data in genuine.items():  # the untouched backup, checked under another key
        target.write_bytes(f"{LABEL}/{key}", data)
    monkeypatch.setenv(ENV_HMAC_KEY, "another-key-entirely-0000")
    messages.append(str(refused(lake, target, state, r"signed with another key")))
    monkeypatch.setenv(ENV_HMAC_KEY, HMAC_KEY)
    assert restore(lake, target, LABEL).ok  # and under its own key it restores

    assert not any(HMAC_KEY in m or "another-key" in m for m in messages + [made.summary(), capsys.readouterr().out])


def test_a_good_signed_backup_restores_byte_identically_and_loses_no_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_HMAC_KEY, HMAC_KEY)
    lake = make_lake(Lake(str(tmp_path / "lake")))
    original, rows = snapshot(lake), lake.read("daily_bars").height
    target = Lake(str(tmp_path / "backups"))
    backup(lake, target, LABEL)
    damage_live(lake)
    lake.write_bytes("master_dashboard/date=2025-12-02/dashboard.html", b"<html>stale</html>")

    done = restore(lake, target, LABEL)
    assert done.ok and "HMAC signature verified" in done.summary() and "file list matches" in done.summary()
    assert sorted(f.key for f in done.restored) == sorted([
        f"daily_bars/date={SESSIONS[0]}/part-0.parquet", VICTIM, "master_dashboard/date=2025-12-02/dashboard.html",
    ])
    assert snapshot(lake) == original  # every file byte for byte: no row lost, none changed
    assert rows - lake.read("daily_bars").height == 0
    assert HMAC_KEY not in done.summary()

    monkeypatch.delenv(ENV_HMAC_KEY)  # without the key the signature is not checked, and says so
    again = restore(lake, target, LABEL)
    assert "signature present but not checked" in again.summary() and len(again.unchanged) == len(original)


def test_overwriting_a_signed_backup_unsigned_leaves_no_stale_signature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    lake = make_lake(Lake(str(tmp_path / "lake")))
    target = Lake(str(tmp_path / "backups"))
    monkeypatch.setenv(ENV_HMAC_KEY, HMAC_KEY)
    backup(lake, target, LABEL)
    monkeypatch.delenv(ENV_HMAC_KEY)
    assert not backup(lake, target, LABEL, overwrite=True).signed
    assert {e.key for e in target.files(LABEL)} == {f"{LABEL}/{k}" for k in [*snapshot(lake), MANIFEST, CHECKSUM]}
    assert "unsigned" in restore(lake, target, LABEL).summary()


# --- item 7: leftovers of interrupted writes ------------------------------------------------------

KEEP_ALL = RetentionPolicy(intraday_1m=None, intraday_30m_bars=None, daily_bars=None, signals=None,
                           dashboard=None, universe=None)


def plant_temp(lake_root: Path, key: str, age: dt.timedelta) -> Path:
    """A temp file as KeyStore._write_atomic names it (``.<name>.<uuid hex>.tmp``), modified ``age`` ago."""
    folder, name = (lake_root / key).parent, (lake_root / key).name
    path = folder / f".{name}.{uuid.uuid4().hex}.tmp"
    path.write_bytes(b"PAR1 half a file")
    when = time.time() - age.total_seconds()
    os.utime(path, (when, when))
    return path


def test_cleanup_removes_old_temp_files_and_keeps_fresh_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    lake = make_lake(Lake(str(tmp_path / "lake")))
    content = snapshot(lake)
    old = plant_temp(tmp_path / "lake", VICTIM, dt.timedelta(hours=2))
    fresh = plant_temp(tmp_path / "lake", f"daily_bars/date={SESSIONS[0]}/part-0.parquet", dt.timedelta(minutes=5))
    notes = tmp_path / "lake/daily_bars/.notes.tmp"  # a dot-file that is not one of the writer's: not ours
    notes.write_bytes(b"mine")
    os.utime(notes, (0, 0))

    from tradingstation import cli  # the command and its --dry-run, as the operator runs them

    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "lake"))
    assert cli.main(["lake", "cleanup", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete 1 temp file(s)" in out and "1 younger one(s) left alone" in out
    assert old.name in out and old.exists() and fresh.exists()

    report = cleanup(lake, KEEP_ALL, SESSIONS[-1])
    assert report.ok and report.temp_files == 1 and report.uploads == 0 and report.recent_leftovers == 1
    assert "deleted 1 temp file(s)" in report.summary()
    assert not old.exists() and fresh.exists() and notes.exists()
    assert {k: v for k, v in snapshot(lake).items() if not k.rsplit("/", 1)[-1].startswith(".")} == content
    assert cleanup(lake, KEEP_ALL, SESSIONS[-1], dry_run=True).temp_files == 0  # nothing old left


def interrupted_s3_write(endpoint: str, root: str, key: str) -> None:
    """The lake's own writer killed mid-write (no close): pyarrow's upload is left unfinished."""
    code = (
        "import os\n"
        "from tradingstation.lake import Lake\n"
        f"lake = Lake({root!r}, endpoint_url={endpoint!r})\n"
        f"out = lake._fs.open_output_stream(lake._key_path({key!r}))\n"
        "out.write(b'x' * 1000)\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy(), timeout=120)


@pytest.mark.s3
def test_cleanup_aborts_unfinished_s3_multipart_uploads(s3_env: str, s3_endpoint: str) -> None:
    bucket = s3_env
    lake = make_lake(Lake(f"s3://{bucket}/prod/lake", endpoint_url=s3_endpoint))
    content = snapshot(lake)
    client = boto3.client("s3", endpoint_url=s3_endpoint, aws_access_key_id=TEST_KEY_ID,
                          aws_secret_access_key=TEST_SECRET, region_name="us-east-1")
    started = client.create_multipart_upload(Bucket=bucket, Key=f"prod/lake/{VICTIM}")["UploadId"]
    client.upload_part(Bucket=bucket, Key=f"prod/lake/{VICTIM}", UploadId=started, PartNumber=1, Body=b"x" * 1024)
    interrupted_s3_write(s3_endpoint, f"s3://{bucket}/prod/lake", "daily_bars/date=2025-12-03/part-0.parquet")
    client.create_multipart_upload(Bucket=bucket, Key="backups/good/daily_bars/part-0.parquet")  # not the lake's

    def uploads() -> list[str]:
        return sorted(u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))

    lake_uploads = [f"prod/lake/{VICTIM}", "prod/lake/daily_bars/date=2025-12-03/part-0.parquet"]
    assert uploads() == sorted([*lake_uploads, "backups/good/daily_bars/part-0.parquet"])
    assert snapshot(lake) == content  # an unfinished upload publishes nothing

    # moto's Initiated time is not the real one, so the age threshold is passed explicitly
    young = cleanup(lake, KEEP_ALL, SESSIONS[-1], leftover_age=dt.timedelta(days=365 * 1000))
    assert young.ok and young.uploads == 0 and young.recent_leftovers == 2 and len(uploads()) == 3

    dry = cleanup(lake, KEEP_ALL, SESSIONS[-1], dry_run=True, leftover_age=dt.timedelta(0))
    assert dry.ok and dry.uploads == 2 and "would abort 2 unfinished upload(s)" in dry.summary()
    assert len(uploads()) == 3

    done = cleanup(lake, KEEP_ALL, SESSIONS[-1], leftover_age=dt.timedelta(0))
    assert done.ok, done.summary()
    assert done.uploads == 2 and done.temp_files == 0 and "aborted 2 unfinished upload(s)" in done.summary()
    assert uploads() == ["backups/good/daily_bars/part-0.parquet"]  # another prefix's upload is not the lake's
    assert snapshot(lake) == content
    assert TEST_SECRET not in done.summary() + dry.summary()
