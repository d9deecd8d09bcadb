"""Which universe a session's bars belong to, and who is in it: one rule for fetching and judging.

The bar assets fetch a session's bars for the included symbols of that session's universe; the
universe-coverage check must judge the session against the same symbols. A session without a
universe partition borrows the latest stored before it (or else the earliest stored), so a
backfill of bars alone works once any universe exists. Both call :func:`session_universes`;
:func:`universe_pairs` gives the (date, symbol) pairs a session's bars hold, which the bar assets
write and the gap rules expect.

Here, not in the asset modules, because the checks and the sensors use it too; in the quality
layer because the lookup reads the lake (the lake package itself knows no dataset's meaning).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from tradingstation.lake import Lake


# A universe table's included symbols, sorted: per table, or per session in a group-by.
_INCLUDED = pl.col("symbol").filter(pl.col("included")).drop_nulls().unique().sort()


def included_symbols(universe_table: pl.DataFrame) -> list[str]:
    """Symbols included on any session of a universe table, sorted."""
    return universe_table.select(_INCLUDED)["symbol"].to_list()


def universe_session(stored: Sequence[dt.date], day: dt.date) -> dt.date:
    """The universe partition ``day`` uses among the sorted, non-empty ``stored``: its own, else the
    latest before it, else the earliest."""
    return stored[max(bisect.bisect_right(stored, day) - 1, 0)]


@dataclass(frozen=True)
class SessionUniverses:
    """The universe of each session asked for, read from the lake once."""

    used: dict[dt.date, dt.date]  # session -> the universe session it uses, in the order asked
    included: dict[dt.date, list[str]]  # universe session -> its included symbols, sorted

    def symbols(self, day: dt.date) -> list[str]:
        """The included symbols of the universe ``day`` uses."""
        return self.included[self.used[day]]

    def all_symbols(self) -> list[str]:
        """The included symbols of every session asked for, sorted."""
        return sorted({s for u in set(self.used.values()) for s in self.included[u]})

    def borrowed(self) -> dict[dt.date, dt.date]:
        """The sessions without a universe partition of their own, and the one each borrowed."""
        return {d: u for d, u in self.used.items() if d != u}


def session_universes(lake: Lake, sessions: Sequence[dt.date]) -> SessionUniverses | None:
    """The universe of each of ``sessions`` (see the module doc); None when none was ever stored."""
    stored = lake.sessions("universe")
    if not stored:
        return None
    used = {day: universe_session(stored, day) for day in sessions}
    wanted = sorted(set(used.values()))
    table = lake.read("universe", sessions=wanted, columns=["symbol", "included"])
    included: dict[dt.date, list[str]] = {u: [] for u in wanted}
    included.update(table.group_by("date").agg(_INCLUDED).iter_rows())  # one group-by, not a filter per session
    return SessionUniverses(used, included)


def universe_pairs(universes: SessionUniverses, sessions: Sequence[dt.date], extra: Sequence[str] = ()) -> pl.DataFrame:
    """(date, symbol) pairs the bars of ``sessions`` hold: the included symbols of each session's own
    universe (borrowed as :mod:`tradingstation.quality.universe` says), plus ``extra`` on every
    session. Built by joins, one row per pair."""
    used = pl.DataFrame(
        {"date": list(sessions), "universe": [universes.used[d] for d in sessions]},
        schema={"date": pl.Date, "universe": pl.Date},
    )
    members = pl.DataFrame(
        {"universe": list(universes.included), "symbol": list(universes.included.values())},
        schema={"universe": pl.Date, "symbol": pl.List(pl.String)},
    ).explode("symbol").drop_nulls("symbol")
    pairs = used.join(members, on="universe").select("date", "symbol")
    if extra:
        added = used.select("date").join(pl.DataFrame({"symbol": list(extra)}, schema={"symbol": pl.String}), how="cross")
        pairs = pl.concat([pairs, added])
    return pairs.unique()
