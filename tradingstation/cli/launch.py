"""A CLI run as a first-class run of the ``tradingstation`` code location, as ``dagster job launch`` makes one.

``dagster job launch -w workspace.yaml`` loads the workspace's code location, takes the job from
it as a remote job, creates the run with the job's ``remote_job_origin`` (location, repository,
job: what the UI's re-execution and every run sensor look a run up by) and ``job_code_origin``
(the Python module a run launcher loads the code from), and submits it to the instance's run
coordinator. This module does the same with the location loaded in this process under the name
workspace.yaml gives it, then either

- :func:`submit` : hands the run to the instance's queue (production: the daemon launches it in
  the queue's order, within its limits), or
- :func:`execute_here` : executes it in this process, as ``dagster job execute`` does, with the
  job of the definitions built from this process's environment.

Which one is :func:`queues_runs`'s decision: a queue the instance's ``dagster.yaml`` configures.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

LOCATION_NAME = "tradingstation"  # workspace.yaml's location_name, pyproject's [tool.dagster] code_location_name
DEFINITIONS_MODULE = "tradingstation.definitions"  # the module both load the Definitions from
CHAIN_TAG = "tradingstation/cli_chain"  # production's dagster.yaml runs one run per value at a time
CHAIN = uuid.uuid4().hex  # this process's value: its runs run in the order it submitted them
QUEUE_SETTINGS = ("run_coordinator", "run_queue")  # dagster.yaml keys that configure a run queue


def queues_runs(instance: dg.DagsterInstance) -> bool:
    """True when the instance's ``dagster.yaml`` configures a queued run coordinator.

    Dagster's implicit default is a queue too, but only a daemon serves one, and the embedded
    default (``make run``) has none: a run queued there would wait forever. So only a queue the
    operator configured (production's ``dagster.yaml``) gets the CLI's runs.
    """
    import yaml
    from dagster._core.run_coordinator import QueuedRunCoordinator

    if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
        return False
    config_file = Path(instance.root_directory) / "dagster.yaml"
    config = yaml.safe_load(config_file.read_text()) if config_file.exists() else None
    return isinstance(config, dict) and any(config.get(key) for key in QUEUE_SETTINGS)


@contextmanager
def code_location(instance: dg.DagsterInstance) -> Iterator[tuple[Any, Any]]:
    """(workspace request context, code location): the definitions module, loaded in this process
    under the workspace's location name, as the webserver and the daemon know it."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=DEFINITIONS_MODULE),
        location_name=LOCATION_NAME,
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget([origin])) as process:
        request = process.create_request_context()
        yield request, request.get_code_location(LOCATION_NAME)


def create_run(
    instance: dg.DagsterInstance, location: Any, job_name: str, *, run_id: str, run_config: Mapping[str, Any],
    tags: Mapping[str, str], assets: list[dg.AssetKey] | None, checks: set[dg.AssetCheckKey] | None,
) -> dg.DagsterRun:
    """The run, NOT_STARTED, created from the location's remote job as ``dagster job launch`` creates it.

    ``assets``/``checks``: the selection (None: the whole job); the checks of an asset selection
    must be named, or Dagster adds every check of those assets, the ones the job leaves out too."""
    from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
    from dagster._core.definitions.selector import JobSubsetSelector
    from dagster._utils.tags import normalize_tags

    repository = location.get_repository(SINGLETON_REPOSITORY_NAME)
    selector = JobSubsetSelector(
        location_name=LOCATION_NAME, repository_name=repository.name, job_name=job_name,
        op_selection=None, asset_selection=assets, asset_check_selection=checks,
    )
    remote_job = location.get_job(selector)
    plan = location.get_execution_plan(remote_job, run_config, step_keys_to_execute=None, known_state=None,
                                       instance=instance).execution_plan_snapshot
    return instance.create_run(
        job_name=job_name,
        run_id=run_id,
        run_config=run_config,
        status=None,
        tags=normalize_tags({**remote_job.tags, **tags}),
        root_run_id=None,
        parent_run_id=None,
        step_keys_to_execute=plan.step_keys_to_execute,
        execution_plan_snapshot=plan,
        job_snapshot=remote_job.job_snapshot,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        asset_selection=frozenset(assets) if assets else None,
        asset_check_selection=frozenset(checks) if checks is not None else None,
        resolved_op_selection=remote_job.resolved_op_selection,
        op_selection=None,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_graph=repository.asset_graph,
    )


@dataclass
class QueuedRun:
    """What :func:`submit` returns: a run waiting in the queue, with no events yet.

    It answers what an execution result answers (``success``: submitted; no step or asset events),
    so every caller of ``execute`` reads it like a finished run."""

    run_id: str
    status: str = "QUEUED"
    success: bool = True
    queued: bool = True
    events: list = field(default_factory=list)

    def get_step_failure_events(self) -> list:
        return []

    def get_asset_materialization_events(self) -> list:
        return []

    def get_asset_check_evaluations(self) -> list:
        return []


def submit(instance: dg.DagsterInstance, request: Any, run: dg.DagsterRun) -> QueuedRun:
    """Hand the run to the instance's run coordinator (the queue); the daemon launches it."""
    submitted = instance.submit_run(run.run_id, request)
    return QueuedRun(run_id=submitted.run_id, status=submitted.status.value)


def execute_here(instance: dg.DagsterInstance, run: dg.DagsterRun, job: dg.JobDefinition):  # -> JobExecutionResult
    """Execute the created run in this process with ``job`` (the definitions as this process's
    environment configures them: the lake, the source), as ``dagster job execute`` does."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.api import execute_run

    return execute_run(InMemoryJob(job), run, instance, raise_on_error=False)
