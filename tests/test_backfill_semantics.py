"""A UI range backfill does what the user selected (issue #9, item 7).

"Materialize all" for five sessions is a pure asset backfill: Dagster targets the selected
sessions of the root assets and follows every edge downstream through its partition mapping
(``AssetBackfillData.from_asset_partitions``). A history window declared as a partition mapping
(``daily_bars[D-80..D-1] -> avwap_anchors[D]``) is also the edge ``daily_bars[D] ->
avwap_anchors[D+1..D+80]``, so the target grew to every later session and the asset backfill
daemon split it into runs by targeted range. Every edge is now the same session and the windows
are loaded by the IO manager (``tradingstation.resources.windows``). Tested with Dagster's own
machinery: the target subset, then the asset backfill daemon's iteration against the real code
location (a gRPC code server, as ``dagster-daemon`` runs it), then the run it launched, executed.
"""

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.definitions.partitions.mapping import IdentityPartitionMapping
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import execute_run
from dagster._core.execution.asset_backfill import AssetBackfillData, execute_asset_backfill_iteration
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.test_utils import create_test_daemon_workspace_context, instance_for_test
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.load_target import PythonFileTarget

from tradingstation.core import calendar
from tradingstation.definitions import defs
from tradingstation.lake import Lake
from tradingstation.partitions import SESSION_PARTITIONS
from tradingstation.resources.windows import window_in, window_keys

from conftest import REPO

SESSIONS = [d.isoformat() for d in calendar.sessions_in_range("2025-03-03", "2025-03-07")]  # five sessions


def target(asset_graph, assets: list[dg.AssetKey], sessions: list[str]) -> dict[str, list[str]]:
    """What Dagster's backfill of ``sessions`` for ``assets`` targets, per asset (as the UI launches it)."""
    data = AssetBackfillData.from_asset_partitions(
        asset_graph=asset_graph, partition_names=sessions, asset_selection=assets,
        dynamic_partitions_store=None, backfill_start_timestamp=time.time(), all_partitions=False,  # type: ignore[arg-type]
    )
    out = {}
    for key in assets:
        subset = data.target_subset.get_asset_subset(key)
        out[key.to_user_string()] = sorted(subset.subset_value.get_partition_keys()) if subset else []
    return out


def test_every_edge_of_the_session_graph_is_the_same_session() -> None:
    graph = defs.resolve_asset_graph()
    widening = []
    for node in graph.asset_nodes:
        for parent in node.parent_keys:
            mapping = graph.get_partition_mapping(node.key, parent)
            same = isinstance(mapping, IdentityPartitionMapping) or (
                isinstance(mapping, dg.TimeWindowPartitionMapping) and mapping.start_offset == mapping.end_offset == 0
            )
            if not same:
                widening.append(f"{parent.to_user_string()} -> {node.key.to_user_string()}: {mapping}")
    assert not widening, f"declare history with tradingstation.resources.windows.window_in, not a mapping: {widening}"


def test_a_window_as_a_partition_mapping_widens_a_backfill_and_window_in_does_not() -> None:
    """The cause, shown on two assets: the same 80-session window, as a mapping and as window_in."""

    @dg.asset(partitions_def=SESSION_PARTITIONS)
    def bars() -> None: ...

    @dg.asset(partitions_def=SESSION_PARTITIONS, ins={"bars": dg.AssetIn(
        "bars", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-80, end_offset=-1))})
    def mapped(bars) -> None: ...

    @dg.asset(partitions_def=SESSION_PARTITIONS, ins={"bars": window_in("bars", 80, include_session=False)})
    def windowed(bars) -> None: ...

    keys = [dg.AssetKey(n) for n in ("bars", "mapped", "windowed")]
    found = target(AssetGraph.from_assets([bars, mapped, windowed]), keys, SESSIONS)
    assert found["bars"] == SESSIONS and found["windowed"] == SESSIONS
    assert found["mapped"][0] == "2025-03-04" and len(found["mapped"]) == 84  # D+1 .. D+80 of each selected D
    # ... while the windowed input still loads the 80 sessions before each key.
    loaded, _ = window_keys(SESSIONS, {"before": 80, "include_session": False})
    assert len(loaded) == 84 and loaded[-1] == SESSIONS[-2] and SESSIONS[-1] not in loaded


def test_the_whole_graph_targets_only_the_selected_sessions() -> None:
    graph = defs.resolve_asset_graph()
    every = [node.key for node in graph.asset_nodes]
    found = target(graph, every, SESSIONS)
    assert len(found) >= 15 and all(keys == SESSIONS for keys in found.values()), {
        k: (v[0], v[-1], len(v)) for k, v in found.items() if v != SESSIONS
    }


@pytest.fixture
def code_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    """The project's definitions as a code location of a test instance whose launcher records runs."""
    monkeypatch.setenv("TRADINGSTATION_UNIVERSE", "AAPL,MSFT,NVDA,SPY")
    lake_root = tmp_path / "lake"
    module = tmp_path / "backfill_defs.py"
    module.write_text(
        "from tradingstation.definitions import build_definitions\n"
        f"defs = build_definitions({{'TRADINGSTATION_LAKE_ROOT': {str(lake_root)!r}}})\n"
    )
    overrides = {
        "run_launcher": {"module": "dagster._core.test_utils", "class": "MockedRunLauncher"},  # records, runs nothing
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
    }
    with instance_for_test(overrides=overrides) as instance:
        load = PythonFileTarget(python_file=str(module), attribute="defs", working_directory=str(REPO), location_name="ts")
        with create_test_daemon_workspace_context(load, instance) as workspace:
            yield instance, workspace, module, Lake(str(lake_root))


@pytest.mark.slow
def test_a_ui_backfill_of_every_asset_is_one_run_of_those_sessions_and_writes_nothing_else(code_location) -> None:
    instance, workspace, module, lake = code_location
    graph = workspace.create_request_context().asset_graph
    every = [node.key for node in graph.asset_nodes]
    backfill = PartitionBackfill.from_asset_partitions(  # what the UI's "Materialize all" launches
        backfill_id=make_new_backfill_id(), asset_graph=graph, partition_names=SESSIONS, asset_selection=every,
        backfill_timestamp=time.time(), tags={}, dynamic_partitions_store=instance, all_partitions=False,
        title=None, description=None, run_config=None,
    )
    instance.add_backfill(backfill)
    for _ in range(2):  # the daemon's iterations: everything in the first, nothing left for the second
        current = instance.get_backfill(backfill.backfill_id)
        asyncio.run(execute_asset_backfill_iteration(current, logging.getLogger("backfill"), workspace, instance))
    (run,) = instance.get_runs()
    assert run.asset_selection == set(every)
    assert run.tags["dagster/asset_partition_range_start"] == SESSIONS[0]
    assert run.tags["dagster/asset_partition_range_end"] == SESSIONS[-1]
    assert run.tags["dagster/backfill"] == backfill.backfill_id
    # Dagster adds every check of the selected assets, the wall-clock freshness checks included.
    checks = {key.name for key in run.asset_check_selection or []}
    assert {"daily_bars_freshness", "intraday_1m_freshness"} <= checks

    # The launched run, executed as the launcher would: it writes the five sessions and nothing else.
    job = ReconstructableRepository.for_file(str(module), "defs").get_reconstructable_job(run.job_name)
    result = execute_run(job, run, instance)
    assert result.success
    for key in every:
        name = key.to_user_string()
        assert instance.get_materialized_partitions(key) == set(SESSIONS), name
        if name != "lake_maintenance":  # metadata only, no dataset
            assert [d.isoformat() for d in lake.sessions(name)] == SESSIONS, name
    # The plan's page is a link the browser opens, for the session's own page.
    plan = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("master_dashboard"), asset_partitions=[SESSIONS[2]]), limit=1
    ).records[0].asset_materialization.metadata
    assert plan["dashboard_url"].value.startswith("file://") and plan["dashboard_url"].value.endswith(
        f"/master_dashboard/date={SESSIONS[2]}/dashboard.html"
    )
    assert Path(plan["dashboard_url"].value.removeprefix("file://")).is_file() and "top" in plan
    # ... and the freshness checks judged no 2026 wall clock inside this 2025 backfill: planned, never
    # evaluated, in a run that succeeded (the UI resolves that as Skipped).
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
                and e.asset_check_evaluation_data.check_name.endswith("_freshness")]
    for asset in ("daily_bars", "intraday_1m"):
        check = dg.AssetCheckKey(dg.AssetKey(asset), f"{asset}_freshness")
        (record,) = instance.event_log_storage.get_asset_check_execution_history(check, limit=1)
        assert record.run_id == run.run_id and record.status.value == "PLANNED"
    assert instance.get_run_by_id(run.run_id).is_success
