"""An S3 outage in the middle of a multi-session materialize: the endpoint goes away while the run
writes, and comes back.

The S3 server is moto's in its own process (tradingstation.testing.RestartableS3Server), started
by the test on a free port of 127.0.0.1. Stopping it closes its listening socket and cuts its open
connections (new ones are refused, requests in flight break), as when an S3 endpoint goes down;
the process, and with it the bucket and every object written before the outage, lives on, and
starting it again serves them on the same port. So the re-run meets the lake as the failed run
left it, as after a real outage. Not covered: an endpoint that accepts connections and never
answers (the store waits 60 s per request, 3 attempts: minutes, not a test).

moto dates every multipart upload 2010-11-10, so an upload the outage cut off is an *old* leftover
to `lake verify` (an error; a real one is a warning for its first hour): the test lets `lake
cleanup` abort it, as the runbook says, and then wants `lake verify` clean.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import boto3
import pytest

from tradingstation.lake import Lake
from tradingstation.testing import (
    TEST_KEY_ID,
    TEST_SECRET,
    RestartableS3Server,
    cli_env,
    create_bucket,
    run_cli,
    start_cli,
    wait_until,
)

START, END = "2025-09-02", "2025-09-16"  # 11 sessions
FILES = 3 * 11  # MATERIALIZE writes universe, daily_bars and daily_bars_quarantine
MATERIALIZE = [
    "materialize", "--start", START, "--end", END, "--select", "universe,daily_bars", "--no-history"
]
SEED = int(os.environ.get("TRADINGSTATION_OUTAGE_SEED") or random.SystemRandom().randrange(2**32))


@pytest.mark.s3
@pytest.mark.slow
def test_an_s3_outage_mid_run_fails_the_run_in_one_line_and_a_rerun_after_it_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    files = random.Random(SEED).randint(1, FILES - 3)  # the writes go on after it: the outage hits one
    where = (f"seed {SEED} (TRADINGSTATION_OUTAGE_SEED={SEED} draws it again): "
             f"stopped after {files} of {FILES} files")
    bucket = "lake-outage"
    with RestartableS3Server() as server:
        create_bucket(server.endpoint, bucket)
        env = cli_env(
            tmp_path / "home", f"s3://{bucket}/lake", TRADINGSTATION_S3_ENDPOINT_URL=server.endpoint,
            AWS_ACCESS_KEY_ID=TEST_KEY_ID, AWS_SECRET_ACCESS_KEY=TEST_SECRET,
        )
        s3 = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=TEST_KEY_ID,
                          aws_secret_access_key=TEST_SECRET, region_name="us-east-1")
        process = start_cli(MATERIALIZE, env)
        wait_until(lambda: s3.list_objects_v2(Bucket=bucket)["KeyCount"] >= files, process, where)
        server.stop()
        out, err = (b.decode() for b in process.communicate(timeout=60))

        assert process.returncode == 1, f"{where}\n{out}\n{err}"
        assert "Traceback" not in err and "Stack Trace" not in err, f"{where}\n{err}"
        assert TEST_SECRET not in out + err and TEST_KEY_ID not in out + err
        said = [line for line in err.splitlines() if "cannot reach the lake" in line]
        assert len(said) == 1 and f"s3://{bucket}/lake at {server.endpoint}" in said[0], f"{where}\n{err}"
        assert "FAILED" in out.splitlines()[-1], f"{where}\n{out}"

        for name, value in env.items():
            monkeypatch.setenv(name, value)
        instance = dg.DagsterInstance.get()  # not runs.instance(): no orphan sweep, the run's own status
        assert [r.dagster_run.status.value for r in instance.get_run_records()] == ["FAILURE"], where

        server.start()
        rerun = start_cli(MATERIALIZE, env)
        out, err = (b.decode() for b in rerun.communicate(timeout=120))
        assert rerun.returncode == 0, f"{where}\n{out[-2000:]}\n{err[-2000:]}"
        sessions = Lake.from_env().sessions("daily_bars")
        assert (len(sessions), sessions[0].isoformat(), sessions[-1].isoformat()) == (11, START, END), where

        code, report = run_cli(["lake", "verify"])  # every file read whole
        problems = [line for line in report.splitlines()[1:] if line.strip()]
        assert all("leftover unfinished S3 upload" in line for line in problems), f"{where}\n{report}"
        assert run_cli(["lake", "cleanup"])[0] == 0, where
        code, report = run_cli(["lake", "verify"])
        assert code == 0 and " 0 error(s), 0 warning(s)" in report, f"{where}\n{report}"
