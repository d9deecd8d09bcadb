"""``tradingstation scorecard [--sessions 60] [--date D] [--regimes]``: the screeners' track record.

Reads ``signal_outcomes`` from the lake for the ``--sessions`` sessions ending with ``--date``
(default: the latest session the lake has outcomes for) and prints, per screener and score bucket
(and per market regime with ``--regimes``), the figures of :mod:`screeners.scorecard`: signals,
triggered, hit rate, average R, expectancy (R per signal) and the worst run of losses. The
``plan`` column says whether the bucket has the history to score the plan (``record``) or not yet
(``own score``). Fewer stored sessions than asked is said in one line before the table; none at all
is an error naming what to materialize.
"""

from __future__ import annotations

import argparse

from screeners import scorecard
from tradingstation.cli.args import number_arg, session_arg
from tradingstation.core import calendar
from tradingstation.core.errors import TradingStationError

MAX_SESSIONS = 2_000


def add_commands(sub: argparse._SubParsersAction) -> None:
    card = sub.add_parser("scorecard", help="the screeners' track record from signal_outcomes: --sessions 60 [--date D]")
    card.add_argument("--sessions", type=number_arg(int, minimum=1, maximum=MAX_SESSIONS),
                      default=scorecard.DEFAULT_SESSIONS, help="sessions in the window (default 60)")
    card.add_argument("--date", type=session_arg,
                      help="the window's last session (default: the latest with signal_outcomes)")
    card.add_argument("--regimes", action="store_true", help="one row per market regime too")
    card.set_defaults(func=cmd_scorecard)


def cmd_scorecard(args: argparse.Namespace) -> int:
    from tradingstation.lake import Lake

    lake = Lake.from_env()
    stored = lake.sessions("signal_outcomes")
    how = ("materialize them, e.g. `tradingstation materialize --start S --end E` "
           "(one run; outcomes of a session need its 1-minute bars and the ten sessions after a daily signal)")
    if not stored:
        raise TradingStationError(f"the lake at {lake.root} holds no signal_outcomes: {how}")
    day = args.date or stored[-1]
    window = [*calendar.sessions_before(day, args.sessions - 1), day]
    have = sorted(set(stored).intersection(window))
    if not have:
        raise TradingStationError(
            f"no signal_outcomes in the {args.sessions} session(s) {window[0]} .. {day}; the lake holds "
            f"{stored[0]} .. {stored[-1]}: pick a --date there or {how}"
        )
    card = scorecard.scorecard(lake.read("signal_outcomes", sessions=have), [day], args.sessions)
    print(f"screener scorecard for the {args.sessions} session(s) {window[0]} .. {day}")
    if len(have) < len(window):
        print(f"not enough history: {len(have)} of the {len(window)} sessions have signal_outcomes "
              f"({have[0]} .. {have[-1]}); the figures cover those")
    print(scorecard.text_table(card, regimes=args.regimes))
    print(f"plan: 'record' = at least {scorecard.MIN_SIGNALS} final outcomes in the bucket, whose expectancy "
          "scores the plan (5 + 5 x E, clipped to 0-10); 'own score' = fewer, the screener's score is used")
    return 0
