"""What the Dagster catalog says of a partition is that partition's truth.

- After a single-run backfill, each partition's materialization carries its own rows, bytes, lake
  key and symbols (read back from the instance and compared with the lake), and no figure of the
  range is labelled as a partition's (issue #9, item 2).
- What retention deletes from the lake, the catalog forgets, from the ``lake_maintenance`` asset
  and from ``tradingstation lake cleanup``; a dry run forgets nothing (item 3).
- The partitions start where the lake's history can start: ``TRADINGSTATION_HISTORY_START``.
"""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from tradingstation import cli
from tradingstation.assets.deleted_partitions import forget_deleted
from tradingstation.assets.maintenance import lake_maintenance
from tradingstation.assets.metadata import label_range
from tradingstation.core import calendar, schemas
from tradingstation.definitions import ALL_ASSETS, MARKET_DATA_ASSETS
from tradingstation.lake import Lake
from tradingstation.maintenance import RetentionPolicy, cleanup
from tradingstation.partitions import DEFAULT_HISTORY_START, SESSION_PARTITIONS, history_start
from tradingstation.resources.lake_io import LakeIOManager, LakeResource, record_partitions, written_figures
from tradingstation.resources.sources.synthetic_source import SyntheticSource

from conftest import REPO

SYMBOLS = ["AAPL", "NVDA", "MSFT", "TSLA", "SPY"]  # SPY: the dashboard's regime
UNIVERSE = {"ops": {"universe": {"config": {"list_name": "explicit", "symbols": SYMBOLS}}}}
RANGE = calendar.sessions_in_range("2025-10-27", "2025-11-21")  # 20 sessions
START, END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def range_tags(sessions: list[dt.date]) -> dict[str, str]:
    return {START: sessions[0].isoformat(), END: sessions[-1].isoformat()}


def sqlite_instance(home: Path) -> dg.DagsterInstance:
    """A SQLite instance like `make run`'s (run-sharded event log), without the telemetry banner."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(home))


def run_range(assets, lake_root: Path, instance: dg.DagsterInstance, sessions: list[dt.date], **kwargs):
    lake = LakeResource(root=str(lake_root))
    job = dg.define_asset_job("range", selection=assets, partitions_def=SESSION_PARTITIONS)
    defs = dg.Definitions(
        assets=assets,
        jobs=[job],
        resources={"source": SyntheticSource(), "lake": lake, "io_manager": LakeIOManager(lake=lake)},
        executor=dg.in_process_executor,
    )
    return defs.resolve_job_def("range").execute_in_process(instance=instance, tags=range_tags(sessions), **kwargs)


def latest(instance: dg.DagsterInstance, asset: str, key: str) -> dict:
    """The metadata of the latest materialization of one partition, as the UI reads it."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
    ).records
    assert records, f"{asset}[{key}] has no materialization"
    return {k: v.value for k, v in records[0].asset_materialization.metadata.items()}


def test_a_20_session_backfill_shows_each_partition_its_own_figures(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    io_assets = [a for a in ALL_ASSETS if a.key != lake_maintenance.key]  # every asset the IO manager writes
    with sqlite_instance(tmp_path / "home") as instance:
        result = run_range(io_assets, tmp_path / "lake", instance, RANGE, run_config=UNIVERSE)
        assert result.success
        sizes = {f.key: f.size for f in lake.files()}
        checked = 0
        for assets_def in io_assets:
            name = assets_def.key.path[-1]
            files = {d: lake.read(name, sessions=[d]) for d in RANGE}
            own_rows = {d.isoformat(): f.height for d, f in files.items()}
            total = sum(own_rows.values())
            for day, frame in files.items():
                key = day.isoformat()
                meta = latest(instance, name, key)
                assert meta["dagster/row_count"] == frame.height, (name, key, meta["dagster/row_count"])
                assert meta["lake_key"] == lake.uri(name, day)
                assert meta["lake_bytes"] == sizes[f"{name}/date={key}/part-0.parquet"]
                if "symbol" in frame.columns:  # every dataset but the scorecard
                    assert meta["symbols"] == frame["symbol"].n_unique()
                # The range's totals are there, named as the range's.
                assert meta["range_partitions"] == len(RANGE) and meta["range_row_count"] == total
                assert meta["range_first_key"] == lake.uri(name, RANGE[0])
                assert meta["range_last_key"] == lake.uri(name, RANGE[-1])
                checked += 1
            if sum(1 for n in own_rows.values() if n) > 1:  # the total differs from every partition's own
                events = [
                    e.event_specific_data.materialization
                    for e in result.get_asset_materialization_events()
                    if e.asset_key == assets_def.key
                ]
                assert len(events) == len(RANGE)
                assert all(m.metadata["dagster/row_count"].value != total for m in events), name
        assert checked == len(io_assets) * len(RANGE)
        assert latest(instance, "daily_bars", RANGE[0].isoformat())["dagster/row_count"] == len(SYMBOLS)

        # One session re-run alone: its own figures, and nothing named as a range's.
        redo = RANGE[5]
        single = run_range(MARKET_DATA_ASSETS[:2], tmp_path / "lake", instance, [redo], run_config=UNIVERSE)
        assert single.success
        meta = latest(instance, "daily_bars", redo.isoformat())
        assert meta["dagster/row_count"] == lake.read("daily_bars", sessions=[redo]).height
        assert not [k for k in meta if k.startswith("range_")], meta
        assert latest(instance, "daily_bars", RANGE[6].isoformat())["range_partitions"] == len(RANGE)


def quarantine_rows(sessions: list[dt.date]) -> pl.DataFrame:
    """Session i gets i quarantined rows: every partition's count differs from the range's."""
    rows = [
        {"date": d, "symbol": f"S{j}", "ts": calendar.session_open(d), "open": 1.0, "high": 0.5, "low": 1.0,
         "close": 1.0, "volume": 1.0, "reason": "high below low"}
        for i, d in enumerate(sessions) for j in range(i)
    ]
    return pl.DataFrame(rows, schema=schemas.dataset("daily_bars_quarantine").schema)


@dg.asset(partitions_def=SESSION_PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run())
def writes_beside(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.Output:
    """Writes a quarantine itself and reports it per partition, as the bar assets can (market_data)."""
    sessions = [calendar.session(k) for k in context.partition_keys]
    quarantine = quarantine_rows(sessions)
    infos = lake.get().write_sessions("daily_bars_quarantine", quarantine, sessions)
    record_partitions(context, written_figures(infos, rows="quarantined_rows", key="quarantine_key", size="quarantine_bytes"))
    meta = label_range(
        {"quarantined_rows": dg.MetadataValue.int(quarantine.height), "dagster/column_schema": dg.MetadataValue.text("kept")},
        context.partition_keys,
    )
    return dg.Output(None, metadata=meta)


def test_a_side_dataset_is_reported_per_partition_as_the_bars_quarantine_should_be(tmp_path: Path) -> None:
    sessions = RANGE[:5]
    lake = LakeResource(root=str(tmp_path / "lake"))

    class NoStore(dg.ConfigurableIOManager):  # the asset wrote its files itself
        def handle_output(self, context: dg.OutputContext, obj: None) -> None:
            return None

        def load_input(self, context: dg.InputContext) -> None:
            return None

    job = dg.define_asset_job("side", selection=[writes_beside], partitions_def=SESSION_PARTITIONS)
    defs = dg.Definitions(assets=[writes_beside], jobs=[job], resources={"lake": lake, "io_manager": NoStore()})
    with dg.DagsterInstance.ephemeral() as instance:
        assert defs.resolve_job_def("side").execute_in_process(instance=instance, tags=range_tags(sessions)).success
        for i, day in enumerate(sessions):
            meta = latest(instance, "writes_beside", day.isoformat())
            assert meta["quarantined_rows"] == i  # its own, though the output said the range's total
            assert meta["quarantine_key"] == lake.get().uri("daily_bars_quarantine", day)
            assert meta["range_quarantined_rows"] == sum(range(len(sessions))) and meta["range_partitions"] == 5
            assert meta["dagster/column_schema"] == "kept"
            assert lake.get().read("daily_bars_quarantine", sessions=[day]).height == i


def test_label_range_names_every_figure_of_a_range_and_leaves_one_partition_alone() -> None:
    meta = {"dagster/row_count": dg.MetadataValue.int(9980), "symbols": dg.MetadataValue.int(499)}
    assert label_range(meta, ["2025-09-15"]) == meta
    ranged = label_range(meta, ["2025-09-15", "2025-09-16"])
    assert "dagster/row_count" not in ranged and "symbols" not in ranged
    assert ranged["range_row_count"].value == 9980 and ranged["range_symbols"].value == 499
    assert ranged["range_partitions"].value == 2


# --- retention reported to the catalog ---------------------------------------------------------

HISTORY = calendar.sessions_in_range("2025-11-10", "2025-11-21")  # 10 sessions


@pytest.fixture
def backfilled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Lake, Path]:
    """10 sessions of universe and daily bars as one run, in the instance the CLI opens too."""
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    for var in [v for v in os.environ if v.startswith("TRADINGSTATION_RETENTION_")]:
        monkeypatch.delenv(var)
    with sqlite_instance(tmp_path / "home") as instance:
        assert run_range(MARKET_DATA_ASSETS[:2], tmp_path / "lake", instance, HISTORY, run_config=UNIVERSE).success
        assert instance.get_materialized_partitions(dg.AssetKey("daily_bars")) == {d.isoformat() for d in HISTORY}
    return Lake(str(tmp_path / "lake")), tmp_path / "home"


def status_cache_materialized(instance: dg.DagsterInstance, asset: str) -> set[str]:
    """The materialized partitions as the UI's partition status shows them (its status cache)."""
    from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

    value = get_and_update_asset_status_cache_value(instance, dg.AssetKey(asset), SESSION_PARTITIONS)
    assert value is not None
    subset = SESSION_PARTITIONS.deserialize_subset(value.serialized_materialized_partition_subset)
    return set(subset.get_partition_keys())


def test_cli_cleanup_makes_the_catalog_forget_what_it_deleted(
    backfilled: tuple[Lake, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    lake, home = backfilled
    monkeypatch.setenv("TRADINGSTATION_RETENTION_DAILY_BARS", "4")
    kept = {d.isoformat() for d in HISTORY[-4:]}
    doomed = [d.isoformat() for d in HISTORY[:-4]]

    assert cli.main(["lake", "cleanup", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"Dagster catalog: would forget {len(doomed)} materialized partition(s)" in out
    assert f"{'daily_bars':<30} {len(doomed):>5}  {doomed[0]}..{doomed[-1]}" in out
    with sqlite_instance(home) as instance:  # the dry run wiped nothing, deleted nothing
        assert instance.get_materialized_partitions(dg.AssetKey("daily_bars")) == {d.isoformat() for d in HISTORY}
    assert len(lake.sessions("daily_bars")) == len(HISTORY)

    assert cli.main(["lake", "cleanup"]) == 0
    out = capsys.readouterr().out
    assert f"Dagster catalog: forgot {len(doomed)} materialized partition(s)" in out
    assert f"{doomed[0]}..{doomed[-1]}" in out
    assert {d.isoformat() for d in lake.sessions("daily_bars")} == kept
    with sqlite_instance(home) as instance:
        assert instance.get_materialized_partitions(dg.AssetKey("daily_bars")) == kept
        assert status_cache_materialized(instance, "daily_bars") == kept
        assert not instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("daily_bars"), asset_partitions=[doomed[0]]), limit=1
        ).records
        # the universe is kept by retention, so the catalog keeps all of it
        assert instance.get_materialized_partitions(dg.AssetKey("universe")) == {d.isoformat() for d in HISTORY}
        # the run that wrote the deleted partitions still shows it did
        run_id = instance.get_runs(limit=1)[0].run_id
        written = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        assert len(written) == 2 * len(HISTORY)

    assert cli.main(["lake", "cleanup"]) == 0  # nothing left to do
    assert "Dagster catalog: forgot 0 materialized partition(s)" in capsys.readouterr().out


def test_nightly_maintenance_reports_what_it_deleted_and_the_catalog_forgets_it(
    backfilled: tuple[Lake, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    lake, home = backfilled
    monkeypatch.setenv("TRADINGSTATION_RETENTION_DAILY_BARS", "2")
    lake.delete("daily_bars", HISTORY[0])  # gone by hand (or by a cleanup before this was reported)
    day = HISTORY[-1]
    with sqlite_instance(home) as instance:
        lake_resource = LakeResource(root=lake.root)
        result = dg.materialize([lake_maintenance], partition_key=day.isoformat(), instance=instance,
                                resources={"lake": lake_resource})
        assert result.success
        meta = {k: v.value for k, v in result.asset_materializations_for_node("lake_maintenance")[0].metadata.items()}
        gone = [d.isoformat() for d in HISTORY[1:-2]]  # stored 9, newest 2 kept
        assert meta["retention_deleted"]["daily_bars"] == {
            "partitions": len(gone), "bytes": meta["retention_deleted"]["daily_bars"]["bytes"], "first": gone[0], "last": gone[-1]
        }
        assert meta["retention_deleted"]["daily_bars"]["bytes"] > 0
        assert meta["retention_deleted"]["daily_bars_quarantine"]["partitions"] == len(HISTORY) - 2
        # the catalog forgets the deleted ones and the one deleted by hand, and only daily_bars (an asset)
        forgotten = [HISTORY[0].isoformat(), *gone]
        assert meta["catalog_forgotten"] == {"daily_bars": {"partitions": len(forgotten), "first": forgotten[0], "last": forgotten[-1]}}
        assert meta["catalog_forgotten_partitions"] == len(forgotten) and meta["catalog_errors"] == []
        assert "deleted 7" in meta["retention"] and f"{gone[0]}..{gone[-1]}" in meta["retention"]
        kept = {d.isoformat() for d in HISTORY[-2:]}
        assert instance.get_materialized_partitions(dg.AssetKey("daily_bars")) == kept
        assert status_cache_materialized(instance, "daily_bars") == kept


def test_a_backfill_of_maintenance_deletes_and_forgets_nothing(backfilled: tuple[Lake, Path], monkeypatch) -> None:
    lake, home = backfilled
    monkeypatch.setenv("TRADINGSTATION_RETENTION_DAILY_BARS", "2")
    with sqlite_instance(home) as instance:
        assert run_range([lake_maintenance], Path(lake.root), instance, HISTORY[-3:]).success
        meta = latest(instance, "lake_maintenance", HISTORY[-1].isoformat())
        assert meta["retention_dry_run"] is True and meta["catalog_forgotten_partitions"] == 0
        assert meta["catalog_forgotten"]["daily_bars"]["partitions"] == len(HISTORY) - 2  # what it would forget
        assert instance.get_materialized_partitions(dg.AssetKey("daily_bars")) == {d.isoformat() for d in HISTORY}
    assert len(lake.sessions("daily_bars")) == len(HISTORY)


@pytest.mark.postgres
def test_the_catalog_forgets_on_postgresql_too(pg_database: dict[str, str], tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = pg_database
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nstorage:\n  postgres:\n    postgres_db:\n"
        f"      hostname: {db['host']}\n      port: {db['port']}\n      username: {db['user']}\n"
        f"      password: \"{db['password']}\"\n      db_name: {db['dbname']}\n      scheme: postgresql+psycopg2\n"
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        sessions = HISTORY[:6]
        assert run_range(MARKET_DATA_ASSETS[:2], tmp_path / "lake", instance, sessions, run_config=UNIVERSE).success
        report = cleanup(Lake(str(tmp_path / "lake")), RetentionPolicy(daily_bars=2), today=sessions[-1])
        forgotten = forget_deleted(instance, report)
        assert forgotten.ok and forgotten.method == "sql index"
        assert forgotten.partitions == {"daily_bars": [d.isoformat() for d in sessions[:4]]}
        kept = {d.isoformat() for d in sessions[-2:]}
        assert instance.get_materialized_partitions(dg.AssetKey("daily_bars")) == kept
        assert status_cache_materialized(instance, "daily_bars") == kept


# --- where the history starts ------------------------------------------------------------------


def test_history_start_comes_from_the_environment_and_defaults_to_2020() -> None:
    assert history_start({}) == DEFAULT_HISTORY_START == dt.date(2020, 1, 2)
    assert history_start({"TRADINGSTATION_HISTORY_START": "2021-01-01"}) == dt.date(2021, 1, 4)  # holiday, weekend
    with pytest.raises(ValueError, match="TRADINGSTATION_HISTORY_START='Jan 2021'"):
        history_start({"TRADINGSTATION_HISTORY_START": "Jan 2021"})
    with pytest.raises(ValueError, match="first session"):
        history_start({"TRADINGSTATION_HISTORY_START": "1990-01-02"})


@pytest.mark.parametrize(("value", "first"), [(None, "2020-01-02"), ("2023-06-17", "2023-06-20")])
def test_the_partitions_start_at_the_history_start(value: str | None, first: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRADINGSTATION_HISTORY_START"}
    if value:
        env["TRADINGSTATION_HISTORY_START"] = value  # a Saturday; the Monday is Juneteenth
    code = "from tradingstation.partitions import SESSION_PARTITIONS as P; print(P.get_first_partition_key())"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == first


def test_cli_cleanup_says_so_and_fails_when_the_catalog_cannot_be_told(
    backfilled: tuple[Lake, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    lake, _ = backfilled
    monkeypatch.setenv("TRADINGSTATION_RETENTION_DAILY_BARS", "4")
    unreachable = tmp_path / "unreachable_home"  # the production file's storage, its database down
    unreachable.mkdir()
    (unreachable / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nstorage:\n  postgres:\n    postgres_db:\n      hostname: 127.0.0.1\n"
        "      port: 9\n      username: dagster\n      password:\n        env: DAGSTER_PG_PASSWORD\n"
        "      db_name: dagster\n      scheme: postgresql+psycopg2\n"
    )
    monkeypatch.setenv("DAGSTER_HOME", str(unreachable))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "s3cr3t-pg-password")
    assert cli.main(["lake", "cleanup"]) == 1
    out = capsys.readouterr().out
    assert "deleted 12 partition(s)" in out  # the lake's deletions stand (6 bars, 6 quarantine) ...
    assert "ERROR Dagster catalog not told of the deletions" in out  # ... and the user is told the rest
    assert "s3cr3t-pg-password" not in out
    assert len(lake.sessions("daily_bars")) == 4
