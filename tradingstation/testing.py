"""Helpers for tests and benchmarks: a real S3-compatible server on 127.0.0.1 (moto, own process)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout

TEST_KEY_ID, TEST_SECRET = "test-key-id", "test-secret-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float) -> None:
    """Return once 127.0.0.1:port accepts connections; RuntimeError if ``proc`` died or time ran out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the moto S3 server did not start") from None
            time.sleep(0.1)


@contextmanager
def moto_s3_server(startup_timeout: float = 30.0) -> Iterator[str]:
    """Run moto's S3 server (needs the `moto[server]` extra) and yield its endpoint URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port, proc, startup_timeout)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class RestartableS3Server:
    """moto's S3 server in its own process whose HTTP server can be stopped and started again on
    the same port while the process, and with it every bucket and object, lives on: an endpoint
    that goes away (open connections cut, new ones refused) and comes back with its data, as a real
    S3 outage does. Use as a context manager; :attr:`endpoint` is its URL."""

    def __init__(self, startup_timeout: float = 30.0):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._timeout = startup_timeout
        self._proc = subprocess.Popen(
            [sys.executable, "-c", f"from tradingstation.testing import _serve_s3; _serve_s3({self.port})"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )

    def _command(self, command: str) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        if self._proc.stdout.readline().strip() != command:
            raise RuntimeError(f"the moto S3 server did not {command}")

    def start(self) -> None:
        self._command("start")
        _wait_listening(self.port, self._proc, self._timeout)

    def stop(self) -> None:
        self._command("stop")

    def __enter__(self) -> RestartableS3Server:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait(timeout=10)


def _serve_s3(port: int) -> None:
    """The process of :class:`RestartableS3Server`: moto's S3 application, its HTTP server started
    and stopped by the commands ``start`` and ``stop`` read from stdin (each acknowledged on stdout)."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)  # the state: kept across restarts
    connections: set[socket.socket] = set()

    class Handler(MotoRequestHandler):
        def setup(self) -> None:
            super().setup()
            connections.add(self.connection)

        def finish(self) -> None:
            connections.discard(self.connection)
            super().finish()

    server = None
    for line in sys.stdin:
        command = line.strip()
        if command == "start" and server is None:
            server = make_server("127.0.0.1", port, app, threaded=True, request_handler=Handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        elif command == "stop" and server is not None:
            server.shutdown()
            server.server_close()  # new connections refused
            server = None
            for connection in list(connections):  # keep-alive and in-flight ones cut
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        print(command, flush=True)
    os._exit(0)


def cli_env(dagster_home: os.PathLike | str, lake_root: os.PathLike | str, **more: str) -> dict[str, str]:
    """This process's environment for a CLI process of a test: its own lake root and Dagster home,
    the synthetic source on eight symbols, and ``more``."""
    return {
        **os.environ,
        "TRADINGSTATION_LAKE_ROOT": str(lake_root),
        "DAGSTER_HOME": str(dagster_home),
        "TRADINGSTATION_SOURCE": "synthetic",
        "TRADINGSTATION_UNIVERSE": "AAPL,MSFT,NVDA,AMZN,META,GOOGL,TSLA,JPM",
        **more,
    }


def start_cli(argv: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen:
    """``tradingstation ARGV`` in a new process with the environment ``env``; stdout and stderr piped."""
    code = f"import sys; from tradingstation.cli import main; sys.exit(main({list(argv)!r}))"
    return subprocess.Popen(
        [sys.executable, "-c", code], env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def wait_until(
    done: Callable[[], bool], process: subprocess.Popen, what: str = "", timeout: float = 60.0
) -> None:
    """Poll ``done`` (every few milliseconds) until it holds; RuntimeError, naming ``what``, if
    ``process`` ends or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not done():
        if process.poll() is not None or time.monotonic() > deadline:
            state = "ended" if process.returncode is not None else "ran on"
            raise RuntimeError(f"{what}: gave up waiting, the process {state}")
        time.sleep(0.005)


def run_cli(argv: Sequence[str]) -> tuple[int, str]:
    """``tradingstation ARGV`` in this process (its environment): the exit status and its stdout."""
    from tradingstation.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    return code, out.getvalue()


def create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=TEST_KEY_ID, aws_secret_access_key=TEST_SECRET,
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
