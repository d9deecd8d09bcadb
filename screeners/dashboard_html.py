"""The dashboard as one self-contained HTML page: inline CSS and SVG, no scripts, fonts or CDNs.

A header (date, regime, counts), the ranked table (long/short colored, trades against the regime
marked) and, for each of the top ``top_n`` rows, a small chart of the last ~60 daily closes with
the entry, stop and target drawn as labelled horizontal lines. Every text is HTML-escaped.
"""

from __future__ import annotations

from html import escape

import polars as pl

from screeners.dashboard import CHART_SESSIONS, DashboardParams

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
td.why{font-size:12px;color:#444;max-width:520px}
.charts{display:flex;flex-wrap:wrap;gap:10px;margin-top:16px}
figure{margin:0;border:1px solid #ddd;padding:4px}figcaption{font-size:12px;font-weight:600}
"""
W, H, LEFT, RIGHT, TOP, BOTTOM = 300, 130, 4, 78, 8, 8
LEVELS = (("target", "#2e7d32"), ("entry", "#1565c0"), ("stop", "#c62828"))


def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def chart_svg(closes: list[float], levels: dict[str, float | None], label: str) -> str:
    """An inline SVG: the close line plus one labelled horizontal line per level."""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img" '
            f'aria-label="{escape(label)}">')
    values = [v for v in [*closes, *levels.values()] if v is not None]
    if not closes or not values:
        return head + f'<text x="10" y="{H // 2}" fill="#777">no price history</text></svg>'
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.05 or max(abs(hi) * 0.01, 0.01)
    lo, hi = lo - pad, hi + pad

    def y(v: float) -> float:
        return TOP + (hi - v) / (hi - lo) * (H - TOP - BOTTOM)

    span = W - LEFT - RIGHT
    xs = [LEFT + (i / (len(closes) - 1) * span if len(closes) > 1 else span / 2) for i in range(len(closes))]
    points = " ".join(f"{x:.1f},{y(c):.1f}" for x, c in zip(xs, closes))
    parts = [head, f'<rect width="{W}" height="{H}" fill="#fff"/>']
    shown = sorted((y(v), n, c, v) for n, c in LEVELS if (v := levels.get(n)) is not None)
    label_y: list[float] = []
    for ly, *_ in shown:  # labels at least 11 px apart, first pushed down, then kept inside
        label_y.append(max(ly + 4, label_y[-1] + 11) if label_y else ly + 4)
    shift = max(0.0, label_y[-1] - (H - 2)) if label_y else 0.0
    for (ly, name, color, v), ty in zip(shown, label_y):
        parts.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{ly:.1f}" y2="{ly:.1f}" stroke="{color}" '
            f'stroke-dasharray="4 3"/><text x="{W - RIGHT + 3}" y="{ty - shift:.1f}" font-size="10" '
            f'fill="{color}">{escape(name)} {escape(_num(v))}</text>'
        )
    parts.append(f'<polyline points="{points}" fill="none" stroke="#333" stroke-width="1.3"/></svg>')
    return "".join(parts)


def _closes(dashboard: pl.DataFrame, daily: pl.DataFrame, top_n: int) -> dict[str, list[float]]:
    """The last CHART_SESSIONS closes (up to the dashboard date) of each top symbol."""
    if dashboard.is_empty() or daily.is_empty():
        return {}
    symbols = dashboard.head(top_n)["symbol"].unique().to_list()
    bars = (
        daily.filter(pl.col("symbol").is_in(symbols) & (pl.col("date") <= dashboard["date"][0]))
        .sort("symbol", "date").group_by("symbol", maintain_order=True).tail(CHART_SESSIONS)
        .group_by("symbol").agg(pl.col("close").drop_nulls())
    )
    return dict(zip(bars["symbol"].to_list(), bars["close"].to_list()))


def _table(dashboard: pl.DataFrame) -> str:
    heads = ["#", "symbol", "side", "score", "conf", "screeners", "entry", "stop", "target", "R:R",
             "shares", "value", "regime", "reasons"]
    rows = ["<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in heads) + "</tr></thead><tbody>"]
    for r in dashboard.iter_rows(named=True):
        against = r["against_regime"]
        cls = f"{r['side']}{' against' if against else ''}"
        cells = [
            ("n", str(r["rank"])), ("sym", r["symbol"]), ("side", r["side"]),
            ("n", _num(r["composite_score"])), ("n", str(r["confluence"])), ("", r["screeners"]),
            ("n", _num(r["entry"])), ("n", _num(r["stop"])), ("n", _num(r["target"])),
            ("n", _num(r["reward_risk"])), ("n", f"{r['shares']:,}"), ("n", _num(r["position_value"], 0)),
            ("flag", "against " + r["regime"] if against else ""), ("why", r["reasons"]),
        ]
        tds = "".join(f'<td class="{c}">{escape(str(v))}</td>' for c, v in cells)
        rows.append(f'<tr class="{escape(cls)}">{tds}</tr>')
    if dashboard.is_empty():
        rows.append(f'<tr><td colspan="{len(heads)}">no signals in the lookback window</td></tr>')
    return "".join(rows) + "</tbody></table>"


def render_html(dashboard: pl.DataFrame, daily: pl.DataFrame, params: DashboardParams, title: str) -> str:
    """The whole page as one string."""
    date = dashboard["date"][0].isoformat() if not dashboard.is_empty() else "no rows"
    regime = dashboard["regime"][0] if not dashboard.is_empty() else "unknown"
    longs = int((dashboard["side"] == "long").sum()) if not dashboard.is_empty() else 0
    against = int(dashboard["against_regime"].sum()) if not dashboard.is_empty() else 0
    meta = (
        f"session {escape(date)} · regime <span class=\"badge {escape(regime)}\">{escape(regime)}</span> "
        f"({escape(params.regime_symbol)} vs its {params.regime_sma}-day SMA) · {dashboard.height} row(s): "
        f"{longs} long, {dashboard.height - longs} short, {against} against the regime · "
        f"last {params.hours_lookback} h · risk {params.risk_per_trade_pct:g}% of {params.account_size:,.0f}"
    )
    closes = _closes(dashboard, daily, params.top_n)
    figures = []
    for r in dashboard.head(params.top_n).iter_rows(named=True):
        label = f"#{r['rank']} {r['symbol']} {r['side']} (score {_num(r['composite_score'])})"
        levels = {k: r[k] for k in ("entry", "stop", "target")}
        svg = chart_svg(closes.get(r["symbol"], []), levels, label)
        figures.append(f"<figure><figcaption>{escape(label)}</figcaption>{svg}</figure>")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1><div class=\"meta\">{meta}</div>"
        f"{_table(dashboard)}<div class=\"charts\">{''.join(figures)}</div></body></html>\n"
    )
