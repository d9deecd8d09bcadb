"""Shared fixtures: a real S3-compatible server (moto, HTTP on 127.0.0.1) and PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The real bars' sessions (2017-12-29 and the 200 sessions before it) must be partition keys; read
# when tradingstation.partitions is first imported, so set before any test imports it.
os.environ.setdefault("TRADINGSTATION_HISTORY_START", "2017-01-03")

from tradingstation.testing import TEST_KEY_ID as S3_KEY
from tradingstation.testing import TEST_SECRET as S3_SECRET
from tradingstation.testing import create_bucket, moto_s3_server

REPO = Path(__file__).resolve().parent.parent
# Real bars, kept in the repository (tests/data/real, see its README); TRADINGSTATION_REAL_DATA overrides.
REAL_DATA = Path(os.environ.get("TRADINGSTATION_REAL_DATA", Path(__file__).resolve().parent / "data" / "real"))
if not REAL_DATA.is_dir():
    raise RuntimeError(f"real market-data fixtures not found at {REAL_DATA}: set TRADINGSTATION_REAL_DATA")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first (those on a prepared history, and the slow ones), so that on two
    workers they overlap the many short ones instead of ending the run alone. A stable sort: the
    order is the same in every xdist worker, as xdist requires."""
    import history

    def long(item: pytest.Item) -> bool:
        return item.get_closest_marker("slow") is not None or any(n in history.RECIPES for n in item.fixturenames)

    items.sort(key=lambda item: not long(item))


def pytest_configure(config: pytest.Config) -> None:
    """The xdist controller (``make test``: ``-n 2``) makes the directory its workers share the
    history builds in (tests/history.py)."""
    import history

    if getattr(config.option, "numprocesses", None) and "PYTEST_XDIST_WORKER" not in os.environ:
        history.share_builds()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the history the collected tests need (tests/history.py), behind the other tests."""
    import history

    if not session.config.option.collectonly:
        history.start(item.fixturenames for item in session.items)


def pytest_sessionfinish(session: pytest.Session) -> None:
    import history

    history.stop()
    if "PYTEST_XDIST_WORKER" not in os.environ:
        history.unshare_builds()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server in its own process on 127.0.0.1: real HTTP, real S3 protocol."""
    with moto_s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Credentials in the environment (as in production) and a fresh bucket; returns its name."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    create_bucket(s3_endpoint, bucket)
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
