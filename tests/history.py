"""Prepared workspaces: a lake and a Dagster instance holding a session's history, built once per
test session and copied into each test that asks for one.

Before a session's screeners can run, the CLI backfills the history they read (``ensure_history``
of ``tradingstation.cli.runs``: 199 daily sessions and 10 of 30-minute bars before the session, as
two single-run backfills through the Dagster instance, asset checks included). That costs 20-30 s
whatever the number of symbols: it is Dagster recording ~200 partitions of materializations and
check evaluations in SQLite. So each *recipe* (a session, plus the environment the test runs
with: source, universe, ...) is built once per test session by that same function, and every test
gets a fresh copy (``shutil.copytree``) of the resulting lake and ``DAGSTER_HOME``: the tests stay
independent and each starts from the state the CLI's backfill leaves, with its output in
``history.log`` beside them.

A test module declares its recipe with :func:`prepared_workspace`; requesting the fixture gives a
copy, with ``TRADINGSTATION_LAKE_ROOT``, ``DAGSTER_HOME`` and the recipe's variables set for the
test. Once pytest has collected the tests, :func:`start` builds the recipes they need one after
another in a background process (`python tests/history.py`), so the builds overlap the other
tests on a second core; a test whose recipe is not ready yet waits for it. Under pytest-xdist
(``make test``: two workers) the first worker to need a recipe builds it, on first use, into a
directory every worker shares (``$TRADINGSTATION_TEST_BUILDS``, made and removed by the controller),
under a file lock: a worker that needs it too waits and copies the same build, so no recipe is built
twice. With ``TRADINGSTATION_TEST_HISTORY=inline`` a recipe is built in the test process on first use.

Builds and copies go to /dev/shm when it is there (a Dagster run commits to SQLite for every
event; on disk those fsyncs cost wall time), else to the system's temporary directory, and are
removed at the end. The copied instance's history events still name the build directory in
their ``lake_key`` metadata (informational: every read goes through $TRADINGSTATION_LAKE_ROOT),
as after an operator moved a lake.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()
LOG = "history.log"
ENV_MODE = "TRADINGSTATION_TEST_HISTORY"  # "inline": build in the test process, on first use
SHARED = "TRADINGSTATION_TEST_BUILDS"  # under xdist: the builds' directory, shared by the workers


@dataclass(frozen=True)
class Recipe:
    name: str
    day: str  # the session the history comes before
    env: tuple[tuple[str, str], ...]  # variables the test runs with, besides the lake root and DAGSTER_HOME


@dataclass
class _Build:
    recipe: Recipe
    path: Path
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


RECIPES: dict[str, Recipe] = {}
_builds: dict[str, _Build] = {}
_lock = threading.RLock()
_root: Path | None = None
_process: subprocess.Popen | None = None
_stopping = False


def _fast_temp() -> str | None:
    """/dev/shm when it is there and writable (a Dagster run commits to SQLite for every event), else
    the system's temporary directory."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def scratch() -> Path:
    """This test process's directory for builds and copies."""
    global _root
    with _lock:
        if _root is None:
            _root = Path(tempfile.mkdtemp(prefix="tradingstation-tests-", dir=_fast_temp()))
        return _root


def share_builds() -> Path:
    """The controller of an xdist run: a directory for the workers' shared builds (inherited by them
    through the environment); removed by :func:`unshare_builds`."""
    shared = Path(tempfile.mkdtemp(prefix="tradingstation-builds-", dir=_fast_temp()))
    os.environ[SHARED] = str(shared)
    return shared


def unshare_builds() -> None:
    shared = os.environ.pop(SHARED, None)
    if shared:
        shutil.rmtree(shared, ignore_errors=True)


def _built_shared(name: str, shared: Path) -> Path:
    """An xdist worker: the shared build of ``name``, made here under a lock unless another worker
    made it (or failed to: its reason is kept beside it)."""
    path, failed = shared / name, shared / f"{name}.failed"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (path / ".built").exists() and not failed.exists():
            shutil.rmtree(path, ignore_errors=True)  # what a killed worker left half built
            build = _Build(RECIPES[name], path)
            _run(build, _environment(build.recipe, build.path))
            if build.error:
                failed.write_text(build.error)
            else:
                (path / ".built").touch()
    if failed.exists():
        pytest.fail(failed.read_text(), pytrace=False)
    return path


def _environment(recipe: Recipe, path: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(recipe.env)
    env.update(TRADINGSTATION_LAKE_ROOT=str(path / "lake"), DAGSTER_HOME=str(path / "home"))
    return env


def _command(recipe: Recipe, path: Path) -> list[str]:
    return [sys.executable, str(HERE), recipe.day, str(path)]


def _run(build: _Build, env: dict[str, str]) -> None:
    """Build one recipe in a child process; record why it failed, if it did."""
    global _process
    recipe, path = build.recipe, build.path
    try:
        path.mkdir(parents=True)
        with open(path / LOG, "wb") as log:
            with _lock:
                if _stopping:
                    raise RuntimeError("test session ending")
                _process = subprocess.Popen(_command(recipe, path), env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
            code = _process.wait()
        if code != 0:
            tail = (path / LOG).read_text(errors="replace")[-3000:]
            build.error = f"history {recipe.name!r} ({recipe.day}) failed with exit code {code}:\n{tail}"
    except Exception as exc:  # surfaced by the test that needs the recipe
        build.error = f"history {recipe.name!r} could not be built: {exc!r}"
    finally:
        with _lock:
            _process = None
        build.done.set()


def _inline() -> bool:
    return os.environ.get(ENV_MODE) == "inline" or "PYTEST_XDIST_WORKER" in os.environ


def start(fixture_names: Iterable[Iterable[str]]) -> None:
    """Build, in the background and in order of first use, the recipes these tests ask for."""
    if _inline():
        return
    wanted = list(dict.fromkeys(n for names in fixture_names for n in names if n in RECIPES))
    if not wanted:
        return
    base = dict(os.environ)  # as the tests find it, before any of them runs
    queue = []
    with _lock:
        for name in wanted:
            if name not in _builds:
                _builds[name] = _Build(RECIPES[name], scratch() / "builds" / name)
                queue.append(_builds[name])

    def work() -> None:
        for build in queue:
            _run(build, _environment(build.recipe, build.path, base))

    threading.Thread(target=work, name="history-builds", daemon=True).start()


def built(name: str) -> Path:
    """The directory of a finished build of recipe ``name`` (building it here if nobody started it)."""
    shared = os.environ.get(SHARED)
    if shared and "PYTEST_XDIST_WORKER" in os.environ:
        return _built_shared(name, Path(shared))
    with _lock:
        build = _builds.get(name)
        if build is None:
            build = _builds[name] = _Build(RECIPES[name], scratch() / "builds" / name)
            inline = True
        else:
            inline = False
    if inline:
        _run(build, _environment(build.recipe, build.path))
    build.done.wait()
    if build.error:
        pytest.fail(build.error, pytrace=False)
    return build.path


def stop() -> None:
    """End a build still running (the session is over) and remove the builds and copies."""
    global _stopping, _root
    with _lock:
        _stopping = True
        process = _process
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()
    for build in list(_builds.values()):
        build.done.wait(timeout=30)
    with _lock:
        root, _root = _root, None
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


def prepared_workspace(name: str, *, day: str, env: dict[str, str] | None = None) -> Callable[..., Path]:
    """A fixture named ``name``: a fresh copy of the history of ``day`` built with ``env``.

    It sets ``TRADINGSTATION_LAKE_ROOT`` (``<copy>/lake``), ``DAGSTER_HOME`` (``<copy>/home``) and
    ``env`` for the test, and returns the copy's directory (``<copy>/history.log`` holds what the
    backfill printed).
    """
    recipe = Recipe(name, day, tuple(sorted((env or {}).items())))
    if RECIPES.setdefault(name, recipe) != recipe:
        raise ValueError(f"two different recipes are named {name!r}")

    @pytest.fixture(name=name)
    def _workspace(monkeypatch: pytest.MonkeyPatch) -> Path:
        source = built(name)
        copy = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=scratch()))
        shutil.copytree(source, copy, dirs_exist_ok=True)
        for key, value in _environment(recipe, copy, {}).items():
            monkeypatch.setenv(key, value)
        # Kept until the session ends (stop()), like tmp_path: Dagster keeps process-wide references
        # to an instance a test used (its defs-state storage), which a later test may still open.
        return copy

    return _workspace


def _build_here(day: str, path: str) -> int:
    """The child process: the CLI's own history backfill, into the lake and instance of the environment."""
    from tradingstation.cli import runs
    from tradingstation.core import calendar

    assert os.environ["DAGSTER_HOME"] == str(Path(path) / "home")
    return 0 if runs.ensure_history(calendar.session(day), "WARNING") else 1


if __name__ == "__main__":
    sys.exit(_build_here(*sys.argv[1:]))
