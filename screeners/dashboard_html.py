"""The dashboard as one self-contained HTML page: inline CSS and PNG images, no scripts, fonts or CDNs.

A header (date, regime, counts), the ranked table (long/short colored, trades against the regime
marked) and, under each of the top ``chart_rows`` rows, its charts (``screeners.charts``: daily candles
with volume, AVWAPs, prior-day and pre-market levels, entry/stop/target; a 1-minute view for ORB
and Gap & Go rows) in a ``<details id="chart-SYMBOL-side">`` the row's "chart" link opens, each
with a link back to the top of the table. Images are base64 PNGs in the page. Every text is HTML-escaped.
Each row shows its plan score (comparable across screeners), its status and the time it changed,
and a conflict flag; the page ends with the screeners' track record (:func:`scorecard_section`).
"""

from __future__ import annotations

from html import escape

import polars as pl

from screeners import charts as charts_mod
from screeners import scorecard as card_mod
from screeners import sectors
from screeners.dashboard import DashboardParams
from tradingstation.core import calendar

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:16px;color:#222;
font-size:13px}
h1{font-size:18px;margin:0 0 4px}.meta{color:#555;margin-bottom:12px}
.badge{padding:1px 6px;border-radius:3px;color:#fff}.bull{background:#2e7d32}.bear{background:#c62828}
.unknown{background:#777}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.long td.side{color:#1b5e20;font-weight:600}tr.short td.side{color:#b71c1c;font-weight:600}
tr.long{background:#f4fbf4}tr.short{background:#fdf3f3}tr.against td.flag{color:#e65100;font-weight:600}
td.why{font-size:12px;color:#444;min-width:240px;max-width:560px}
tr.chart-row>td{padding:0 6px;background:#fff}tr.chart-row details{margin:2px 0 6px}
tr.chart-row summary{cursor:pointer;color:#1565c0;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:8px;width:0;min-width:100%}
img.chart{border:1px solid #ddd;max-width:100%;height:auto}a.chart-link{font-size:12px}a.back{font-size:12px}
td.earn{color:#e65100;font-weight:600}
td.conflict{color:#6a1b9a;font-weight:600}.status-stopped{color:#b71c1c}.status-target{color:#1b5e20}
section.sectors table{width:auto}section.sectors h2{font-size:15px;margin:20px 0 4px}
section.scorecard{margin-top:20px}section.scorecard table{width:auto}section.scorecard h2{font-size:15px;margin:0 0 4px}
"""


def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _table(dashboard: pl.DataFrame, charts: dict[tuple[str, str], list[charts_mod.Chart]] | None = None) -> str:
    heads = ["#", "symbol", "side", "plan", "score", "conf", "screeners", "entry", "stop", "target", "R:R",
             "shares", "value", "earnings", "status", "regime", "conflict", "reasons", "chart"]
    rows = ["<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in heads) + "</tr></thead><tbody>"]
    for r in dashboard.iter_rows(named=True):
        against = r["against_regime"]
        cls = f"{r['side']}{' against' if against else ''}"
        shares = f"{r['shares']:,}" if r.get("blocked_by") is None else f"0 ({r['blocked_by']})"  # the limit
        cells = [
            ("n", str(r["rank"])), ("sym", r["symbol"]), ("side", r["side"]), ("n", _num(r["plan_score"])),
            ("n", _num(r["composite_score"])), ("n", str(r["confluence"])), ("", r["screeners"]),
            ("n", _num(r["entry"])), ("n", _num(r["stop"])), ("n", _num(r["target"])),
            ("n", _num(r["reward_risk"])), ("n", shares), ("n", _num(r["position_value"], 0)),
            ("earn", _earnings(r.get("next_earnings"), r.get("earnings_timing"))),
            (f"status-{r['status']}", _status(r["status"], r["status_ts"])),
            ("flag", "against " + r["regime"] if against else ""),
            ("conflict", "long and short" if r["conflict"] else ""), ("why", r["reasons"]),
        ]
        tds = "".join(f'<td class="{c}">{escape(str(v))}</td>' for c, v in cells)
        key = chart_id(r["symbol"], r["side"])
        shown = (charts or {}).get((r["symbol"], r["side"]))
        link = f'<td><a class="chart-link" href="#{key}">chart</a></td>' if shown else "<td></td>"
        rows.append(f'<tr class="{escape(cls)}" id="row-{key}">{tds}{link}</tr>')
        if shown:
            rows.append(_chart_row(key, r, shown, len(heads)))
    if dashboard.is_empty():
        rows.append(f'<tr><td colspan="{len(heads)}">no signals in the lookback window</td></tr>')
    return "".join(rows) + "</tbody></table>"


def chart_id(symbol: str, side: str) -> str:
    """The anchor of a row's charts, ``chart-SYMBOL-side`` (symbols are [A-Z0-9.^=-]: safe in an id)."""
    return escape(f"chart-{symbol}-{side}", quote=True)


def _chart_row(key: str, row: dict, shown: list[charts_mod.Chart], width: int) -> str:
    """The row's charts under it, folded: ``<details id=chart-...>`` with a link back to the table."""
    kinds = " + ".join("daily" if c.kind == "daily" else "1-minute" for c in shown)
    images = "".join(c.img_tag() for c in shown)
    return (f'<tr class="chart-row"><td colspan="{width}"><details id="{key}"><summary>#{row["rank"]} '
            f'{escape(row["symbol"])} {escape(row["side"])}: {kinds} chart</summary><div class="charts">{images}</div>'
            f'<a class="back" href="#plan">back to the plan</a></details></td></tr>')


def _earnings(day: object, timing: str | None) -> str:
    """'11-25 after close': the next report when it falls within the plan's earnings horizon."""
    if day is None:
        return ""
    return f"{day:%m-%d} {(timing or 'unknown').replace('_', ' ')}"


def _status(status: str | None, ts: object) -> str:
    when = "" if ts is None else f" {ts.astimezone(calendar.NY):%m-%d %H:%M} ET"
    return f"{status or ''}{when}"


def scorecard_section(card: pl.DataFrame | None, min_signals: int = card_mod.MIN_SIGNALS) -> str:
    """The track record behind the plan scores: one row per screener and score bucket (all regimes).

    Self-contained (its own heading and table); empty input says there is no history yet."""
    head = '<section class="scorecard"><h2>Track record (screener scorecard)</h2>'
    if card is None or card.is_empty():
        return head + "<p>no final signal outcomes yet: plan scores are the screeners' own scores</p></section>"
    latest = card.filter((pl.col("date") == pl.col("date").max()) & (pl.col("regime") == card_mod.ALL))
    first, last, n = latest["first_session"].min(), latest["date"].max(), latest["window_sessions"].max()
    note = (f"<p>{n} sessions {escape(str(first))} .. {escape(str(last))}; a bucket with at least {min_signals} "
            "signals scores the plan from its expectancy (R per signal)</p>")
    heads = ["screener", "bucket", "signals", "triggered", "hit rate", "avg R", "expectancy", "worst losing run", "plan"]
    rows = ["<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in heads) + "</tr></thead><tbody>"]
    for r in latest.iter_rows(named=True):
        hit = "" if r["hit_rate"] is None else f"{100 * r['hit_rate']:.0f}%"
        avg = "" if r["avg_r"] is None else f"{r['avg_r']:+.2f}"
        use = "" if r["score_bucket"] == card_mod.ALL else "record" if r["signals"] >= min_signals else "own score"
        cells = [("", r["screener"]), ("", r["score_bucket"]), ("n", str(r["signals"])), ("n", str(r["triggered"])),
                 ("n", hit), ("n", avg), ("n", f"{r['expectancy']:+.3f}"), ("n", str(r["worst_losing_run"])), ("", use)]
        rows.append("<tr>" + "".join(f'<td class="{c}">{escape(v)}</td>' for c, v in cells) + "</tr>")
    return head + note + "".join(rows) + "</tbody></table></section>"


def render_html(dashboard: pl.DataFrame, daily: pl.DataFrame, params: DashboardParams, title: str,
                scorecard: pl.DataFrame | None = None, *, minute_bars: pl.DataFrame | None = None,
                anchors: pl.DataFrame | None = None) -> str:
    """The whole page as one string; ``minute_bars`` (the session's 1-minute bars: pre-market levels,
    1-minute charts) and ``anchors`` (the session's ``avwap_anchors``; found from ``daily`` when
    None) feed the charts of the top ``params.chart_rows`` rows."""
    date = dashboard["date"][0].isoformat() if not dashboard.is_empty() else "no rows"
    regime = dashboard["regime"][0] if not dashboard.is_empty() else "unknown"
    longs = int((dashboard["side"] == "long").sum()) if not dashboard.is_empty() else 0
    against = int(dashboard["against_regime"].sum()) if not dashboard.is_empty() else 0
    meta = (
        f"session {escape(date)} · regime <span class=\"badge {escape(regime)}\">{escape(regime)}</span> "
        f"({escape(params.regime_symbol)} vs its {params.regime_sma}-day SMA) · {dashboard.height} row(s): "
        f"{longs} long, {dashboard.height - longs} short, {against} against the regime · "
        f"last {params.hours_lookback} h · risk {params.risk_per_trade_pct:g}% of {params.account_size:,.0f} · "
        f"charts for the top {params.chart_rows} row(s)"
    )
    charts = charts_mod.plan_charts(dashboard, daily, minute_bars, anchors, params.chart_rows)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1 id=\"plan\">{escape(title)}</h1><div class=\"meta\">{meta}</div>"
        f"{_table(dashboard, charts)}"
        f"{sectors.html_section(dashboard)}"  # long/short rows per sector (issue #10)
        f"{scorecard_section(scorecard, params.track_record_signals)}</body></html>\n"
    )
