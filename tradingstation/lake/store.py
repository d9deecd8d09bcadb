"""The key store under a lake root: local or S3-compatible, one pyarrow-filesystem code path.

Keys are relative ``a/b/c`` paths under the root. Every write goes through one atomic writer
(:meth:`KeyStore._write_atomic`); storage errors become :class:`LakeConfigError` (bad credentials,
missing bucket) or :class:`LakeUnreachableError` (the endpoint does not answer). Where the lake
lives comes from the environment in one place, :meth:`LakeSettings.from_env`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.fs as pafs

from tradingstation.core.errors import LakeConfigError, LakeUnreachableError

DEFAULT_ROOT = "./data/lake"
ENV_ROOT = "TRADINGSTATION_LAKE_ROOT"
ENV_ENDPOINT = "TRADINGSTATION_S3_ENDPOINT_URL"
ENV_REGION = "TRADINGSTATION_S3_REGION"


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

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ):  # -> Self
        """The lake named by the environment (:meth:`LakeSettings.from_env`)."""
        settings = LakeSettings.from_env(env)
        return cls(settings.root, settings.endpoint_url, settings.region)

    @property
    def is_s3(self) -> bool:
        return isinstance(self._fs, pafs.S3FileSystem)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r}" + (
            f", endpoint_url={self.endpoint_url!r})" if self.endpoint_url else ")"
        )

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

        Locally: write a hidden temp file beside the target, then rename(2) it over the target
        (atomic on one filesystem). On S3: one upload of the whole body (pyarrow sends a large one
        as a multipart upload, which S3 publishes only on completion).
        """
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

    def delete_key(self, key: str) -> bool:
        """Remove one file; False when it did not exist."""
        path = self._key_path(key)
        with self._errors(path):
            if self._fs.get_file_info(path).type != pafs.FileType.File:
                return False
            self._fs.delete_file(path)
        return True

    @contextmanager
    def _errors(self, where: str) -> Iterator[None]:
        """Turn the storage layer's errors into ones that say what is wrong with the lake."""
        try:
            yield
        except (FileNotFoundError, LakeConfigError, LakeUnreachableError):
            raise
        except OSError as exc:
            text = str(exc)
            if any(s in text for s in ("ACCESS_DENIED", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403")):
                raise LakeConfigError(f"the lake at {self.root} refused the credentials: {text}") from exc
            if "NoSuchBucket" in text or "NO_SUCH_BUCKET" in text:
                raise LakeConfigError(f"the bucket of {self.root} does not exist: {text}") from exc
            if self.is_s3:
                endpoint = self.endpoint_url or "the default AWS endpoint"
                raise LakeUnreachableError(f"cannot reach the lake {self.root} at {endpoint}: {text}") from exc
            raise


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
            raise LakeConfigError(f"S3 endpoint URL {endpoint_url!r} must look like https://host[:port]")
        options.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme)
    fs = pafs.S3FileSystem(**options)
    return fs, f"{bucket}/{parsed.path.strip('/')}".rstrip("/")
