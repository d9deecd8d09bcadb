"""The screener registry: one spec per screener, and everything else derived from it.

The six screeners' wiring is pinned (what each command loads, what each asset reads through which
partition mapping), and a toy seventh screener, registered for one test only, shows that adding a
screener is one module plus one registry entry: it gets its lake contract, its command, its asset
(today's bar from the minutes included, in the market session) and its place in the dashboard.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from screeners import common, registry
from screeners.registry import ScreenerInput, ScreenerSpec
from tradingstation.assets.signals import SIGNAL_ASSETS, signal_asset
from tradingstation.cli import dashboard as cli_dashboard
from tradingstation.cli import screen as cli_screen
from tradingstation.core import calendar, schemas
from tradingstation.lake import Lake
from tradingstation.resources.lake_io import LakeResource

from lake_data import daily_frame, minute_frame

DATE = "2025-11-25"
PRICES = ("open", "high", "low", "close")

# What each command (and the dashboard) loads: argument -> (bar kind, sessions back), as the
# modules' main() had it before the registry.
COMMAND_INPUTS = {
    "gapgo": {"daily": ("daily", 25), "intraday_1m": ("intraday_1m", 0)},
    "orb": {"intraday_1m": ("intraday_1m", 5)},
    "avwap_reclaim": {"daily": ("daily", 80)},
    "breakout": {"daily": ("daily", 60)},
    "ema_pullback": {"daily": ("daily", 120)},
    "exhaustion_reversal": {"intraday_30m": ("intraday_30m", 10), "daily": ("daily", 30)},
}
# What each asset reads: upstream asset -> (start_offset, end_offset) in sessions; "same" = D itself.
ASSET_INPUTS = {
    "gapgo": {"daily_bars": (-25, -1), "intraday_1m": "same"},
    "orb": {"intraday_1m": (-5, 0)},
    "avwap_reclaim": {"daily_bars": (-80, 0), "avwap_anchors": "same", "intraday_1m": "same"},
    "breakout": {"daily_bars": (-60, 0), "intraday_1m": "same"},
    "ema_pullback": {"daily_bars": (-120, 0), "intraday_1m": "same"},
    "exhaustion_reversal": {"intraday_30m": (-10, 0), "daily_bars": (-30, -1)},
}


def _asset_inputs(asset: dg.AssetsDefinition) -> dict[str, object]:
    """Each upstream's sessions as (start, end) offsets from the session, or "same": the input's
    history window (tradingstation.resources.windows); every graph edge itself is the same session."""
    from tradingstation.resources.windows import WINDOW_KEY

    inputs = {key: name for name, key in asset.keys_by_input_name.items()}
    out: dict[str, object] = {}
    for dep in asset.specs_by_key[asset.key].deps:
        assert dep.partition_mapping is None, dep  # no edge widens a backfill
        name = inputs.get(dep.asset_key)
        window = asset.node_def.input_def_named(name).metadata.get(WINDOW_KEY) if name else None
        before, include = (window["before"], window["include_session"]) if window else (0, True)
        out[dep.asset_key.to_user_string()] = "same" if before == 0 and include else (-before, 0 if include else -1)
    return out


def test_one_ordered_registry_of_six_screeners() -> None:
    assert list(registry.SCREENERS) == list(COMMAND_INPUTS)
    for name, spec in registry.SCREENERS.items():
        assert spec.name == name and spec.session in ("premarket", "market", "postmarket")
        assert dataclasses.is_dataclass(spec.params) and spec.params.__dataclass_params__.frozen
        assert schemas.dataset(f"{name}_signals").schema == pl.Schema({**schemas.SIGNALS, **spec.detail})
    market = ["orb", "avwap_reclaim", "breakout", "ema_pullback"]
    assert [s.name for s in registry.in_session("market")] == market
    with pytest.raises(KeyError, match="unknown screener 'nope'; known: gapgo, orb"):
        registry.spec("nope")


def test_commands_load_what_the_modules_loaded() -> None:
    assert {n: cli_screen.command_inputs(s) for n, s in registry.SCREENERS.items()} == COMMAND_INPUTS


def test_signal_assets_are_generated_from_the_specs() -> None:
    keys = [a.key.to_user_string() for a in SIGNAL_ASSETS]
    assert keys == ["avwap_anchors", *(f"{n}_signals" for n in registry.SCREENERS)]
    by_key = {a.key.to_user_string(): a for a in SIGNAL_ASSETS}
    for name, spec in registry.SCREENERS.items():
        asset = by_key[f"{name}_signals"]
        assert _asset_inputs(asset) == ASSET_INPUTS[name], name
        assert ("lake" in asset.required_resource_keys) == spec.needs_today_bar
        # The UI gets the docstring's first line and the asset's session and inputs; the rules stay in it.
        description = asset.specs_by_key[asset.key].description
        assert description.startswith(spec.description.splitlines()[0]) and f"The {spec.session} session" in description
        assert len(description.splitlines()) == 3
        assert asset.specs_by_key[asset.key].group_name == "signals"


@pytest.mark.parametrize("name", list(COMMAND_INPUTS))
def test_each_module_main_hands_over_to_its_spec(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    module = importlib.import_module(f"screeners.{name}")
    assert module.main(["--help"]) == 0  # argparse's exit becomes the return status
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m screeners.{name} ")
    flags = [f"--{f.name.replace('_', '-')}" for f in dataclasses.fields(registry.spec(name).params)]
    assert all(flag in out for flag in ["--date", "--tickers", "--verbose", *flags])
    assert (module.__doc__ or "").split("\n")[0][:40] in " ".join(out.split())


# ---------------------------------------------------------------- a toy seventh screener
TOY_DETAIL: dict[str, pl.DataType] = {"body_pct": pl.Float64}


@dataclass(frozen=True)
class ToyParams:
    min_body_pct: float = 1.0  # runbook --min-body-pct
    reward_risk: float = 2.0


def toy_screen(daily: pl.DataFrame, params: ToyParams = ToyParams()) -> pl.DataFrame:
    """Toy: a daily bar whose close is at least ``min_body_pct`` percent beyond its open."""
    body = (pl.col("close") / pl.col("open") - 1.0) * 100.0
    long = pl.col("side") == "long"
    df = daily.with_columns(body_pct=body).filter(pl.col("body_pct").abs() >= params.min_body_pct)
    side = pl.when(pl.col("body_pct") >= 0).then(pl.lit("long")).otherwise(pl.lit("short"))
    df = df.with_columns(side=side)
    stop = pl.when(long).then(pl.col("low")).otherwise(pl.col("high"))
    df = df.with_columns(entry=pl.col("close"), stop=stop)
    df = df.with_columns(
        target=pl.col("entry") + params.reward_risk * (pl.col("entry") - pl.col("stop")),
        score=pl.col("body_pct").abs().clip(0.0, 10.0),
        reasons=pl.lit("body ") + common.fmt_pct(pl.col("body_pct")),
    )
    return common.finish(common.session_close_ts(df), "toy", TOY_DETAIL)


def toy_main(argv: list[str] | None = None) -> int:
    from tradingstation.cli.screen import run_screener

    return run_screener("toy", argv)


def toy_spec(session: registry.Session = "postmarket") -> ScreenerSpec:
    return ScreenerSpec(
        name="toy",
        session=session,
        params=ToyParams,
        detail=TOY_DETAIL,
        screen=toy_screen,
        inputs=(ScreenerInput("daily", "daily_bars", 5),),
        description=toy_screen.__doc__ or "",
    )


@pytest.fixture
def register_toy(monkeypatch: pytest.MonkeyPatch):
    """Registers a toy spec in copies of the two registries, restored after the test."""
    monkeypatch.setattr(registry, "SCREENERS", dict(registry.SCREENERS))
    monkeypatch.setattr(schemas, "DATASETS", dict(schemas.DATASETS))
    return lambda session="postmarket": registry.register(toy_spec(session))


def test_the_toy_gets_its_lake_contract(register_toy) -> None:
    register_toy()
    assert list(registry.SCREENERS)[-1] == "toy"
    contract = schemas.dataset("toy_signals")
    assert contract.schema == pl.Schema({**schemas.SIGNALS, "body_pct": pl.Float64})
    assert contract.sort_by == ("symbol", "ts", "side")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(dataclasses.replace(toy_spec(), session="market"))


def test_the_toy_gets_its_command(register_toy, tmp_path: Path, monkeypatch, capsys) -> None:
    register_toy()
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "synthetic")
    assert toy_main(["--help"]) == 0
    help_text = capsys.readouterr().out
    assert "usage: python -m screeners.toy" in help_text and "--min-body-pct" in help_text
    assert "(default 1.0)" in help_text and "Toy: a daily bar" in help_text
    assert toy_main(["--tickers", "AAPL,MSFT", "--date", DATE, "--min-body-pct", "0", "--verbose"]) == 0
    out = capsys.readouterr()
    assert "2 toy signal(s) for 2025-11-25" in out.out and "body_pct" in out.out
    assert "daily: 12 rows, 2 symbols" in out.err  # 5 sessions back plus the date


def test_the_toy_gets_its_asset(register_toy, tmp_path: Path) -> None:
    spec = register_toy()
    asset = signal_asset(spec)
    assert asset.key == dg.AssetKey("toy_signals") and _asset_inputs(asset) == {"daily_bars": (-5, 0)}
    assert "lake" not in asset.required_resource_keys
    day = calendar.session(DATE)
    sessions = [d.isoformat() for d in [*calendar.sessions_before(day, 5), day]]
    context = dg.build_asset_context(partition_key=DATE)
    result = asset(context, daily_bars=daily_frame(sessions, ["AAA", "BBB"]))
    assert result.value.schema == schemas.dataset("toy_signals").schema
    assert result.value["date"].unique().to_list() == [dt.date(2025, 11, 25)] and result.value.height == 2
    assert result.metadata["longs"].value == 2


def test_a_market_session_toy_gets_todays_bar_from_the_minutes(register_toy, tmp_path: Path) -> None:
    spec = register_toy("market")
    asset = signal_asset(spec)
    assert spec.needs_today_bar and _asset_inputs(asset) == {"daily_bars": (-5, 0), "intraday_1m": "same"}
    minutes = minute_frame(DATE, ["AAA"])  # the session so far: up 2.4% from its open
    rally = pl.when(pl.col("ts") > pl.col("ts").min()).then(1.02).otherwise(1.0)
    Lake(str(tmp_path)).write("intraday_1m", DATE, minutes.with_columns(pl.col(c) * rally for c in PRICES))
    before = [d.isoformat() for d in calendar.sessions_before(calendar.session(DATE), 5)]
    lake = LakeResource(root=str(tmp_path))
    with dg.build_asset_context(partition_key=DATE, resources={"lake": lake}) as context:
        result = asset(context, daily_bars=daily_frame(before, ["AAA"]))  # no daily bar for the session yet
    assert result.value.select("date", "symbol", "side").rows() == [(dt.date(2025, 11, 25), "AAA", "long")]


def test_the_toy_reaches_the_dashboard(register_toy, tmp_path: Path, monkeypatch) -> None:
    register_toy()
    monkeypatch.setenv("TRADINGSTATION_LAKE_ROOT", str(tmp_path))
    monkeypatch.setenv("TRADINGSTATION_SOURCE", "synthetic")
    ran = cli_dashboard._run_screeners(["toy"], calendar.session(DATE), 1, ["AAPL"])
    assert set(ran["signals"]) == {"toy"} and ran["signals"]["toy"]["screener"].unique().to_list() == ["toy"]


def test_the_toy_leaves_no_trace() -> None:
    """The registries the toy tests patched are the real ones again (true in any test order)."""
    assert "toy" not in registry.SCREENERS and "toy_signals" not in schemas.DATASETS
    assert list(registry.SCREENERS) == list(COMMAND_INPUTS)
