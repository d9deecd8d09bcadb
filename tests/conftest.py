"""Shared fixtures: a real S3-compatible server (moto, HTTP on 127.0.0.1) and PostgreSQL databases."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REAL_DATA = REPO.parent / "shared" / "data" / "real"
S3_KEY, S3_SECRET = "test-key-id", "test-secret-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server in its own process on 127.0.0.1: real HTTP, real S3 protocol."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("moto S3 server did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Credentials in the environment (as in production) and a fresh bucket; returns its name."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id=S3_KEY, aws_secret_access_key=S3_SECRET, region_name="us-east-1"
    ).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def pg_database() -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database on the local server; dropped afterwards."""
    psycopg2 = pytest.importorskip("psycopg2")
    settings = {
        "host": os.environ.get("TEST_PG_HOST", "127.0.0.1"),
        "port": os.environ.get("TEST_PG_PORT", "5432"),
        "user": os.environ.get("TEST_PG_USER", "postgres"),
        "password": os.environ.get("TEST_PG_PASSWORD", ""),
    }
    name = f"ts_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="test", **settings)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield {**settings, "dbname": name}
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
