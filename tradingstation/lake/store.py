"""The key store under a lake root: local or S3-compatible, one pyarrow-filesystem code path.

Keys are relative ``a/b/c`` paths under the root. Every write goes through one atomic writer
(:meth:`KeyStore._write_atomic`); storage errors become :class:`LakeConfigError` (bad credentials,
missing bucket) or :class:`LakeUnreachableError` (the endpoint does not answer). Where the lake
lives comes from the environment in one place, :meth:`LakeSettings.from_env`.

Longer than ~300 lines: one class owns every storage call (local and S3) so that errors are translated in one place.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlparse

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs

from tradingstation.core.errors import LakeConfigError, LakeUnreachableError
from tradingstation.core.secrets import redact

DEFAULT_ROOT = "./data/lake"
# Error codes of refused credentials, upper-cased without underscores (both SDK spellings match).
_CREDENTIAL_CODES = ("ACCESSDENIED", "INVALIDACCESSKEYID", "SIGNATUREDOESNOTMATCH", "FORBIDDEN", "403")
ENV_ROOT = "TRADINGSTATION_LAKE_ROOT"
ENV_ENDPOINT = "TRADINGSTATION_S3_ENDPOINT_URL"
ENV_REGION = "TRADINGSTATION_S3_REGION"
# Larger S3 bodies go out in one PUT rather than pyarrow's multipart upload (KeyStore._put_object).
SINGLE_PUT_BYTES = 8 * 2**20
# The name of a temp file of KeyStore._write_atomic: .<name>.<uuid4 hex>.tmp beside its target.
TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")
S3_FILES_AT_ONCE = 8  # S3 requests in flight when many files are read or written (each waits on the network)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class LakeSettings:
    """Where a lake lives: its root and, for S3, the endpoint and region (credentials stay in the
    environment: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``)."""

    root: str = DEFAULT_ROOT
    endpoint_url: str | None = None
    region: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ, *, root: str | None = None) -> LakeSettings:
        """$TRADINGSTATION_LAKE_ROOT (default ./data/lake) or ``root``, with the S3 endpoint and region
        from $TRADINGSTATION_S3_ENDPOINT_URL / $TRADINGSTATION_S3_REGION (else AWS_ENDPOINT_URL / AWS_REGION)."""
        return cls(
            root or env.get(ENV_ROOT) or DEFAULT_ROOT,
            env.get(ENV_ENDPOINT) or env.get("AWS_ENDPOINT_URL") or None,
            env.get(ENV_REGION) or env.get("AWS_REGION") or None,
        )


@dataclass(frozen=True, order=True)
class UnfinishedWrite:
    """A write that never finished: a local temp file of :meth:`KeyStore._write_atomic` (the process
    died before the rename), or an S3 multipart upload never completed (nothing readable, but S3
    keeps, and bills, its parts until the upload is aborted)."""

    key: str  # the temp file's own key, or the key the upload was writing
    started: dt.datetime  # UTC: the temp file's last modification, the upload's Initiated time
    size: int | None = None  # a temp file's bytes; None for an upload (its parts are not listed)
    upload_id: str = ""  # S3 only

    @property
    def is_upload(self) -> bool:
        return bool(self.upload_id)


@dataclass(frozen=True, order=True)
class FileEntry:
    """One stored file: its key relative to the lake root (``daily_bars/date=2025-01-02/part-0.parquet``)
    and its size in bytes."""

    key: str
    size: int


class KeyStore:
    """Files under one root, local or S3-compatible."""

    def __init__(self, root: str = DEFAULT_ROOT, endpoint_url: str | None = None, region: str | None = None):
        self.root = root.rstrip("/") or "/"
        self.endpoint_url = endpoint_url or None
        self.region = region or None
        self._fs, self._base = _filesystem(self.root, self.endpoint_url, self.region)
        self._boto = None  # the boto3 client of single-PUT writes, made on first use (by one thread)
        self._boto_lock = threading.Lock()

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ):  # -> Self
        """The lake named by the environment (:meth:`LakeSettings.from_env`)."""
        settings = LakeSettings.from_env(env)
        return cls(settings.root, settings.endpoint_url, settings.region)

    @property
    def is_s3(self) -> bool:
        return isinstance(self._fs, pafs.S3FileSystem)

    @property
    def files_at_once(self) -> int:
        """How many files :meth:`each` handles at once: on S3 each request mostly waits on the network;
        a local file's time goes to encoding or decoding it, so one per core this process may use
        (more only contend for Python's lock: on 2 cores, verify of the 645 files of a ``make run`` lake
        took 0.82-1.18 s 8 at a time, 0.66 s 2 at a time; 199 daily partitions were written in 0.39 s
        one at a time, 0.30 s 2 at a time, and on a local S3 server 3.1 s and 1.75 s 8 at a time)."""
        if self.is_s3:
            return S3_FILES_AT_ONCE
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return min(S3_FILES_AT_ONCE, cores or 1)

    def each(self, work: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[work(item) for item in items]``, :attr:`files_at_once` of them at a time, results in order.
        On the first failure the calls not yet started are not made; those running end (each write
        is atomic on its own), then the first failure in ``items``' order is raised, as a loop would
        raise it. The wait is in short slices, so an interrupt (Ctrl-C, a run's termination) is seen
        at once rather than when the running call ends."""
        if len(items) < 2 or self.files_at_once < 2:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.files_at_once, len(items))) as pool:
            futures = [pool.submit(work, item) for item in items]
            try:
                pending: set = set(futures)
                while pending:
                    done, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
                    if any(f.exception() is not None for f in done):
                        break
            finally:
                for future in futures:  # those not started yet (after a failure or an interrupt)
                    future.cancel()
            return [future.result() for future in futures]

    def __repr__(self) -> str:
        return redact(f"{type(self).__name__}({self.root!r}" + (
            f", endpoint_url={self.endpoint_url!r})" if self.endpoint_url else ")"
        ))

    def storage_options(self) -> dict[str, str]:
        """Options for polars/object_store to read this lake directly (empty for a local lake)."""
        if not self.is_s3:
            return {}
        opts = {
            "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
            "aws_region": self.region or "us-east-1",
        }
        if self.endpoint_url:
            opts["aws_endpoint_url"] = self.endpoint_url
            opts["aws_allow_http"] = str(self.endpoint_url.startswith("http://")).lower()
        return opts

    # --- raw files (maintenance: retention, backup, restore, verification) -------------------

    @property
    def base_uri(self) -> str:
        """The root as an absolute location: ``s3://bucket/prefix`` or an absolute local path."""
        return f"s3://{self._base}" if self.is_s3 else self._base

    def _key_path(self, key: str) -> str:
        parts = key.split("/")
        if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"lake key {key!r} must be a relative 'a/b/c' path without '.', '..' or empty parts")
        return f"{self._base.rstrip('/')}/{key}"

    def key_uri(self, key: str) -> str:
        """The full location of a key relative to the root."""
        path = self._key_path(key)
        return f"s3://{path}" if self.is_s3 else path

    def files(self, prefix: str = "") -> list[FileEntry]:
        """Every file under the root, or under the folder ``prefix``, sorted by key (one listing call)."""
        base = self._key_path(prefix.rstrip("/")) if prefix.strip("/") else self._base
        cut = len(self._base.rstrip("/")) + 1
        with self._errors(base):
            infos = self._fs.get_file_info(pafs.FileSelector(base, allow_not_found=True, recursive=True))
        return sorted(FileEntry(i.path[cut:], i.size) for i in infos if i.type == pafs.FileType.File)

    def open_file(self, key: str) -> pa.NativeFile:
        """A random-access handle on one file (e.g. for ``pyarrow.parquet.ParquetFile``: footer only)."""
        path = self._key_path(key)
        with self._errors(path):
            return self._fs.open_input_file(path)

    def read_bytes(self, key: str) -> bytes:
        """The whole content of one file; FileNotFoundError when it does not exist."""
        path = self._key_path(key)
        with self._errors(path):
            if self._fs.get_file_info(path).type != pafs.FileType.File:
                raise FileNotFoundError(f"no file {self.key_uri(key)}")
            with self._fs.open_input_stream(path) as stream:
                return stream.read()

    def write_bytes(self, key: str, data: bytes | memoryview) -> int:
        """Atomically create or replace one file; returns its size. See :meth:`_write_atomic`."""
        path = self._key_path(key)
        with self._errors(path):
            return self._write_atomic(path, data)

    def _write_atomic(self, path: str, data: bytes | memoryview) -> int:
        """The one atomic writer: readers see the old file or the whole new one, never a part.

        Locally: write a hidden temp file ``.<name>.<uuid>.tmp`` beside the target, then rename(2)
        it over the target (atomic on one filesystem). On S3: pyarrow sends the body as a multipart
        upload (create, parts, complete; with its default settings even a small body), and S3
        publishes the object only when the upload completes; a body over ``SINGLE_PUT_BYTES`` goes
        in one PUT instead (:meth:`_put_object`). An interrupted write leaves a temp file or an
        unfinished upload: :meth:`unfinished_writes` finds them.
        """
        if self.is_s3 and len(data) > SINGLE_PUT_BYTES:
            return self._put_object(path, data)
        if self.is_s3:
            with self._fs.open_output_stream(path) as out:
                out.write(data)
            return len(data)
        directory, name = path.rsplit("/", 1)
        self._fs.create_dir(directory, recursive=True)
        tmp = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
        try:
            with self._fs.open_output_stream(tmp) as out:
                out.write(data)
            self._fs.move(tmp, path)
        except BaseException:
            _remove_quietly(self._fs, tmp)
            raise
        return len(data)

    def _put_object(self, path: str, data: bytes | memoryview) -> int:
        """One S3 PUT of the whole body (boto3): S3 stores an object sent in one request whole or
        not at all, and an interrupted PUT leaves nothing behind (S3 takes up to 5 GB in one PUT).
        For a body of several upload parts it was the faster way: 33 MB in 0.16 s against 0.32 to
        0.48 s by pyarrow's multipart upload of the same buffer, on a local S3 server (moto)."""
        with self._boto_lock:  # partitions are written from a few threads at once (each)
            if self._boto is None:
                self._boto = self._s3_client()
        bucket, _, key = path.partition("/")
        with _boto_errors():
            self._boto.put_object(Bucket=bucket, Key=key, Body=bytes(data))
        return len(data)

    def delete_key(self, key: str) -> bool:
        """Remove one file; False when it did not exist."""
        path = self._key_path(key)
        with self._errors(path):
            if self._fs.get_file_info(path).type != pafs.FileType.File:
                return False
            self._fs.delete_file(path)
        return True

    def unfinished_writes(self) -> list[UnfinishedWrite]:
        """Writes interrupted (or still in flight) under the root, sorted by key: the temp files of
        :meth:`_write_atomic` locally; on S3 the multipart uploads never completed or aborted, listed
        with boto3 against the lake's endpoint (credentials from the environment)."""
        if self.is_s3:
            return self._unfinished_uploads()
        cut = len(self._base.rstrip("/")) + 1
        with self._errors(self._base):
            infos = self._fs.get_file_info(pafs.FileSelector(self._base, allow_not_found=True, recursive=True))
        return sorted(
            UnfinishedWrite(i.path[cut:], _utc(i.mtime), i.size)
            for i in infos
            if i.type == pafs.FileType.File and TEMP_NAME.match(i.path.rsplit("/", 1)[-1])
        )

    def discard_unfinished(self, write: UnfinishedWrite) -> bool:
        """Delete a leftover temp file or abort an unfinished upload; False when it was already gone."""
        if not write.is_upload:
            return self.delete_key(write.key)
        from botocore.exceptions import ClientError

        bucket, prefix = self._bucket_prefix()
        key = f"{prefix}/{write.key}" if prefix else write.key
        with self._errors(self.base_uri), _boto_errors():
            try:
                self._s3_client().abort_multipart_upload(Bucket=bucket, Key=key, UploadId=write.upload_id)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                    return False
                raise
        return True

    def _bucket_prefix(self) -> tuple[str, str]:
        bucket, _, prefix = self._base.partition("/")
        return bucket, prefix

    def _s3_client(self):  # -> botocore S3 client
        import boto3
        from botocore.config import Config

        # A session of its own: boto3's default session may not be used from several threads at once.
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region or "us-east-1",
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=os.environ.get("AWS_SESSION_TOKEN") or None,
            config=Config(connect_timeout=3, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}),
        )

    def _unfinished_uploads(self) -> list[UnfinishedWrite]:
        bucket, prefix = self._bucket_prefix()
        head = prefix + "/" if prefix else ""
        found = []
        with self._errors(self.base_uri), _boto_errors():
            pages = self._s3_client().get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=head)
            for page in pages:
                for upload in page.get("Uploads", []):
                    key = upload["Key"]
                    if key.startswith(head) and len(key) > len(head):  # the store may ignore Prefix
                        found.append(UnfinishedWrite(key[len(head):], _utc(upload["Initiated"]), None, upload["UploadId"]))
        return sorted(found)

    @contextmanager
    def _errors(self, where: str) -> Iterator[None]:
        """Turn the storage layer's errors into ones that say what is wrong with the lake."""
        try:
            yield
        except (FileNotFoundError, LakeConfigError, LakeUnreachableError):
            raise
        except (OSError, pl.exceptions.ComputeError) as exc:  # pyarrow's and polars' storage errors
            text = redact(str(exc))
            folded = text.upper().replace("_", "")  # AWS SDKs spell codes ACCESS_DENIED or AccessDenied
            if any(code in folded for code in _CREDENTIAL_CODES):
                raise LakeConfigError(f"the lake at {redact(self.root)} refused the credentials: {text}") from None
            if "NOSUCHBUCKET" in folded:
                raise LakeConfigError(f"the bucket of {redact(self.root)} does not exist: {text}") from None
            if self.is_s3:
                endpoint = redact(self.endpoint_url or "the default AWS endpoint")
                raise LakeUnreachableError(f"cannot reach the lake {redact(self.root)} at {endpoint}: {text}") from None
            raise


@contextmanager
def _boto_errors() -> Iterator[None]:
    """boto3's errors as OSError, so :meth:`KeyStore._errors` classifies them like pyarrow's."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise OSError(str(exc)) from None


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _remove_quietly(fs: pafs.FileSystem, path: str) -> None:
    try:
        fs.delete_file(path)
    except OSError:
        pass


def _filesystem(root: str, endpoint_url: str | None, region: str | None) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and base path for a lake root; clear errors for what cannot work."""
    parsed = urlparse(root)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and root[1:3] in (":\\", ":/")):
        path = parsed.path if scheme == "file" else root
        return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path))
    if scheme != "s3":
        raise LakeConfigError(
            f"unknown lake scheme {scheme!r} in {root!r}: use a local path or s3://bucket/prefix"
        )
    bucket = parsed.netloc
    if not bucket:
        raise LakeConfigError(f"lake root {root!r} names no bucket: use s3://bucket/prefix")
    key_id, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        raise LakeConfigError(
            f"the S3 lake {root} needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "in the environment (for DigitalOcean Spaces, a Spaces access key)"
        )
    options: dict = {
        "access_key": key_id,
        "secret_key": secret,
        "region": region or "us-east-1",
        "connect_timeout": 3,
        "request_timeout": 60,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=3),
    }
    if endpoint_url:
        endpoint = urlparse(endpoint_url)
        if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
            raise LakeConfigError(f"S3 endpoint URL {redact(endpoint_url)!r} must look like https://host[:port]")
        options.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme)
    fs = pafs.S3FileSystem(**options)
    return fs, f"{bucket}/{parsed.path.strip('/')}".rstrip("/")
