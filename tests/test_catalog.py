"""A catalog worth opening, and native freshness that tells the truth (issue #9, items 4 and 5).

- Every asset carries its dataset's column schema (from the one schema registry), owner, session
  tags, a short description with a README link and a native freshness policy, in the snapshot the
  UI reads; the schedules say what they run and when.
- The native policies never FAIL when the schedules ran: 13 months of the NYSE calendar (holidays,
  early closes, Good Friday, the 2025-01-09 closure) simulated from the schedules themselves.
- Dagster's own evaluators, on an instance, at a normal session and on a holiday: PASS; after an
  outage: FAIL (the README's table).
"""

import asyncio
import bisect
import datetime as dt
import functools
from collections.abc import Iterable

import dagster as dg
import polars as pl
import pytest
from dagster._core.definitions.freshness import CronFreshnessPolicy, FreshnessState, TimeWindowFreshnessPolicy
from dagster._core.definitions.freshness_evaluator import FRESHNESS_EVALUATORS_BY_POLICY_TYPE
from dagster._core.loader import LoadingContextForTest
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster._core.test_utils import freeze_time, instance_for_test
from dagster._utils.schedules import cron_string_iterator

from tradingstation import schedules
from tradingstation.assets.declarations import (
    ONCE_A_SESSION_FAIL_WINDOW,
    column_schema,
    column_type,
    freshness_policy,
    session_modes,
    two_lines,
)
from tradingstation.core import calendar, schemas
from tradingstation.definitions import defs

PLANS = {
    "premarket_schedule": schedules.premarket_requests,
    "market_schedule": schedules.market_requests,
    "postmarket_schedule": schedules.postmarket_requests,
    "maintenance_schedule": schedules.maintenance_requests,
}
SCHEDULE_MODE = {"premarket_schedule": "premarket", "market_schedule": "market",
                 "postmarket_schedule": "postmarket", "maintenance_schedule": "maintenance"}


def ny(when: str) -> dt.datetime:
    return dt.datetime.fromisoformat(when).replace(tzinfo=calendar.NY)


# --- the catalog ---------------------------------------------------------------------------------


def test_every_asset_has_its_columns_owner_tags_policy_and_a_short_described_link() -> None:
    graph = defs.resolve_asset_graph()
    modes = session_modes()
    assert len(graph.asset_nodes) >= 15
    for node in graph.asset_nodes:
        name = node.key.to_user_string()
        assert node.owners == ["team:trading"], name
        assert set(modes.get(name, [])) <= set(node.tags), name
        # a policy wherever a schedule holds the asset to a deadline; none where nothing does
        assert (node.freshness_policy is not None) == bool(modes.get(name)), name
        text = [line for line in (node.description or "").splitlines() if line.strip()]
        assert len(text) <= 3 and "README" in text[-1] and "](file://" in text[-1], (name, text)
        if name == "lake_maintenance":
            assert "dagster/column_schema" not in node.metadata  # metadata only, no dataset
            continue
        table = node.metadata["dagster/column_schema"]
        contract = schemas.dataset(name).schema
        assert [c.name for c in table.columns] == list(contract), name
        assert [c.type for c in table.columns] == [column_type(t) for t in contract.values()], name


def test_signal_descriptions_are_two_lines_while_the_docstring_keeps_the_rules() -> None:
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("gapgo_signals"))
    import screeners.gapgo

    assert node.description.startswith("Gap & Go: a pre-market scan")
    assert "relative volume" in screeners.gapgo.__doc__ and len(screeners.gapgo.__doc__) > 4 * len(node.description)
    assert two_lines("One.\n\nTwo.\n\nThree.") == "One.\n\nTwo."
    assert two_lines("Summary.\n\nA long\nparagraph\nof rules.") == "Summary."


def test_the_snapshot_the_ui_reads_has_a_freshness_policy_for_every_asset() -> None:
    snap = RepositorySnap.from_def(defs.get_repository_def())
    policies = {n.asset_key.to_user_string(): n.freshness_policy for n in snap.asset_nodes}
    scheduled = session_modes()
    assert len(scheduled) >= 15 and all(policies[name] is not None for name in scheduled), policies
    assert isinstance(policies["intraday_1m"], CronFreshnessPolicy)
    assert policies["intraday_1m"].timezone == "America/New_York"


def test_column_types_read_like_the_contract() -> None:
    table = column_schema(pl.Schema({"ts": pl.Datetime("us", "UTC"), "tags": pl.List(pl.String), "n": pl.Int64}))
    assert [(c.name, c.type) for c in table.columns] == [
        ("ts", "datetime[us, UTC]"), ("tags", "list[string]"), ("n", "int64")
    ]
    assert table.columns[0].description.startswith("UTC instant")


def test_schedule_descriptions_say_what_each_mode_runs_and_when() -> None:
    for schedule in defs.get_repository_def().schedule_defs:
        text = schedule.description or ""
        assert any(hour in text for hour in ("07:00", "09:30", "16:15", "20:00")), schedule.name
        missing = [a for a in schedules.SESSION_ASSETS[SCHEDULE_MODE[schedule.name]] if a not in text]
        assert not missing, (schedule.name, missing)


# --- the native policies against the calendar ----------------------------------------------------


def scheduled_materializations(start: dt.datetime, end: dt.datetime, run_minutes: int) -> dict[str, list[float]]:
    """When each asset materializes if every schedule tick in [start, end) runs (a run key once) and
    each run takes ``run_minutes``: UTC timestamps, sorted."""
    return {k: [t + 60 * run_minutes for t in v] for k, v in scheduled_ticks(start, end).items()}


@functools.lru_cache(maxsize=4)
def scheduled_ticks(start: dt.datetime, end: dt.datetime) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    seen: set[str] = set()
    for schedule in defs.get_repository_def().schedule_defs:
        crons = [schedule.cron_schedule] if isinstance(schedule.cron_schedule, str) else schedule.cron_schedule
        for cron in crons:
            for tick in cron_string_iterator(start.timestamp(), cron, calendar.NY_TZ):
                if tick >= end:
                    break
                for request in PLANS[schedule.name](tick.astimezone(dt.UTC)):
                    if isinstance(request, dg.RunRequest) and request.run_key not in seen:
                        seen.add(request.run_key)
                        for key in request.asset_selection or []:
                            out.setdefault(key.to_user_string(), []).append(tick.timestamp())
    return {k: sorted(v) for k, v in out.items()}


def failing_instants(policy: dg.FreshnessPolicy, done: list[float], start: dt.datetime, end: dt.datetime) -> list[str]:
    """When Dagster's evaluator would say FAIL given materializations at ``done``."""
    if isinstance(policy, CronFreshnessPolicy):
        lower = policy.lower_bound_delta.total_seconds()
        fails = []
        for tick in cron_string_iterator(start.timestamp(), policy.deadline_cron, policy.timezone):
            if tick >= end:
                break
            i = bisect.bisect_right(done, tick.timestamp())  # FAIL: nothing in [tick - lower, tick]
            if i == 0 or done[i - 1] < tick.timestamp() - lower:
                fails.append(tick.astimezone(calendar.NY).isoformat())
        return fails
    assert isinstance(policy, TimeWindowFreshnessPolicy)
    window = policy.fail_window.to_timedelta().total_seconds()
    # FAIL from a materialization + window until the next one (or the end of the span judged)
    ends = [*done[1:], end.timestamp()]
    return [
        dt.datetime.fromtimestamp(a + window, calendar.NY).isoformat()
        for a, b in zip(done, ends)
        if b - a >= window and a + window >= start.timestamp()
    ]


@pytest.mark.parametrize("run_minutes", [1, 10])
def test_the_native_policies_never_fail_while_the_schedules_run(run_minutes: int) -> None:
    """2025 and January 2026: Good Friday, the 2025-01-09 closure, July 3 (13:00) before July 4 on
    a Friday, Thanksgiving and its 13:00 Friday, Christmas Eve (13:00) before Christmas on a
    Thursday, New Year's Day on a Thursday; runs that take one minute or ten."""
    start, end = ny("2024-12-30T00:00"), ny("2026-02-01T00:00")
    done = scheduled_materializations(start, end, run_minutes)
    modes = session_modes()
    assert set(done) == set(modes)  # every asset some schedule runs, and nothing else
    judged_from = start + dt.timedelta(days=7)
    for name, when in done.items():
        policy = freshness_policy(modes[name])
        assert failing_instants(policy, when, judged_from, end) == [], name


def test_the_longest_pause_between_once_a_session_runs_fits_the_window() -> None:
    done = scheduled_materializations(ny("2024-12-30T00:00"), ny("2026-02-01T00:00"), 10)
    gap = max(b - a for a, b in zip(done["intraday_30m"], done["intraday_30m"][1:]))
    assert dt.timedelta(hours=98) < dt.timedelta(seconds=gap) < ONCE_A_SESSION_FAIL_WINDOW  # 07-03 13:25 .. 07-07


def test_an_outage_fails_every_native_policy_within_two_sessions() -> None:
    start, stop = ny("2025-11-17T00:00"), ny("2025-12-01T04:00")  # nothing runs from Monday 04:00
    done = scheduled_materializations(start, stop, 5)
    modes = session_modes()
    for name, when in done.items():
        fails = failing_instants(freshness_policy(modes[name]), when, stop, ny("2025-12-04T00:00"))
        assert fails and fails[0] <= ny("2025-12-03T12:00").isoformat(), (name, fails[:1])


# --- Dagster's own evaluators, on an instance: the README's table --------------------------------


def evaluate(instance: dg.DagsterInstance, at: dt.datetime) -> dict[str, FreshnessState]:
    graph = defs.resolve_asset_graph()
    states = {}
    with freeze_time(at):
        for node in graph.asset_nodes:
            policy = node.freshness_policy
            if policy is None:  # no schedule holds it to a deadline
                continue
            evaluator = FRESHNESS_EVALUATORS_BY_POLICY_TYPE[type(policy)]()
            state = asyncio.run(evaluator.evaluate_freshness(LoadingContextForTest(instance), node))
            states[node.key.to_user_string()] = state
    return states


def replay(instance: dg.DagsterInstance, done: dict[str, list[float]], reported: dict[str, float], until: dt.datetime) -> None:
    """Report, at its own (frozen) time, each asset's latest materialization before ``until``."""
    for name, when in done.items():
        i = bisect.bisect_right(when, until.timestamp())
        if i and when[i - 1] > reported.get(name, 0.0):
            with freeze_time(dt.datetime.fromtimestamp(when[i - 1], dt.UTC)):
                instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=name))
            reported[name] = when[i - 1]


def states_at(instants: Iterable[str], stop: str | None = None) -> dict[str, dict[str, FreshnessState]]:
    done = scheduled_materializations(ny("2025-11-17T00:00"), ny(stop or "2025-12-27T00:00"), 5)
    out = {}
    with instance_for_test() as instance:
        reported: dict[str, float] = {}
        for when in sorted(instants):
            replay(instance, done, reported, ny(when))
            out[when] = evaluate(instance, ny(when))
    return out


def test_dagster_evaluates_pass_on_a_normal_session_and_on_a_holiday() -> None:
    normal = ["2025-12-02T12:00", "2025-12-02T21:00"]  # a Tuesday, after the noon deadline and at night
    holiday = ["2025-12-25T12:00", "2025-12-25T21:00"]  # Christmas, after Christmas Eve's 13:00 close
    found = states_at([*normal, *holiday])
    for when, states in found.items():
        assert set(states.values()) == {FreshnessState.PASS}, (when, states)


def test_dagster_evaluates_fail_after_an_outage() -> None:
    found = states_at(["2025-12-03T12:00"], stop="2025-12-01T04:00")  # nothing ran since Monday 04:00
    assert set(found["2025-12-03T12:00"].values()) == {FreshnessState.FAIL}, found


# --- the command line's step marks ---------------------------------------------------------------


def test_the_cli_never_marks_a_failed_warn_check_as_passed() -> None:
    import io

    from tradingstation.ops.progress import follow

    @dg.asset
    def prices() -> None: ...

    @dg.asset_check(asset=prices)
    def jumps() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description="3 price steps > 50%")

    @dg.asset_check(asset=prices)
    def fine() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=True)

    @dg.multi_asset_check(specs=[dg.AssetCheckSpec("quiet", asset="prices")], can_subset=True, name="quiet")
    def quiet():  # nothing expected now: no evaluation, as the freshness checks on a holiday
        return
        yield

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([prices, jumps, fine, quiet], instance=instance)
        assert result.success
        shown = io.StringIO()
        with follow(instance, result.run_id, out=shown, every=0.01):
            pass
    lines = {line.split()[1]: line for line in shown.getvalue().splitlines() if not line.lstrip().startswith("…")}
    assert lines["prices_jumps"].lstrip().startswith("! ")
    assert "1 of 1 check evaluation(s) failed, WARN: 3 price steps > 50%" in lines["prices_jumps"]
    assert lines["prices_fine"].lstrip().startswith("✓ ") and lines["prices"].lstrip().startswith("✓ ")
    assert lines["quiet"].lstrip().startswith("– ") and "not evaluated" in lines["quiet"]


def test_the_dashboard_page_link_opens_in_a_browser(tmp_path) -> None:
    from tradingstation.assets.dashboard import browser_url

    page = tmp_path / "lake" / "master_dashboard" / "date=2025-12-02" / "dashboard.html"
    assert browser_url(str(page), None, None) == f"file://{page}"
    key = "s3://my-space/lake/master_dashboard/date=2025-12-02/dashboard.html"
    assert browser_url(key, "https://nyc3.digitaloceanspaces.com", "nyc3") == (
        "https://nyc3.digitaloceanspaces.com/my-space/lake/master_dashboard/date%3D2025-12-02/dashboard.html"
    )
    assert browser_url(key, None, None).startswith("https://my-space.s3.us-east-1.amazonaws.com/lake/")
    assert "X-Amz" not in browser_url(key, "https://nyc3.digitaloceanspaces.com", "nyc3")  # nothing signed, no key id
