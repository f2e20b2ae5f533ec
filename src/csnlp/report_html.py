"""Rendering of an insights report (the dict of :meth:`csnlp.insights.Report.to_dict`) as HTML and Markdown.

The HTML is one self-contained file: inline CSS, charts as inline SVG drawn here, no scripts, no web fonts,
no images, no links to anything outside the file. It opens offline and reads on a phone (viewport meta,
one column under 860 px, wide tables scroll sideways inside their card).
"""

from __future__ import annotations

import html
import math

__all__ = ["render_html", "render_markdown"]

PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#475569",
           "#0d9488")
SEVERITY_COLOURS = {"low": "#94a3b8", "medium": "#f59e0b", "high": "#ea580c", "critical": "#b91c1c"}
ACTION_COLOURS = {"answer": "#16a34a", "clarify": "#f59e0b", "handoff": "#dc2626"}
_MAX_TEXT = 160

CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#f1f5f9;color:#0f172a;font:15px/1.5 system-ui,-apple-system,"Segoe UI","PingFang SC",
"Hiragino Sans GB","Noto Sans CJK SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif}
header{background:#0f172a;color:#f8fafc;padding:20px 16px}
header h1{margin:0 0 4px;font-size:1.35rem}
header p{margin:2px 0;color:#cbd5e1;font-size:.9rem;overflow-wrap:anywhere}
main{max-width:1180px;margin:0 auto;padding:12px}
nav{display:flex;flex-wrap:wrap;gap:6px;margin:4px 0 12px}
nav a{color:#1d4ed8;background:#e0e7ff;border-radius:999px;padding:3px 10px;text-decoration:none;font-size:.85rem}
section{margin:0 0 18px}
h2{font-size:1.15rem;margin:18px 4px 8px}
h3{font-size:1rem;margin:0 0 8px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.kpi{background:#fff;border-radius:10px;padding:10px 12px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.kpi b{display:block;font-size:1.45rem;line-height:1.2}
.kpi span{color:#475569;font-size:.82rem}
.grid{display:grid;grid-template-columns:1fr;gap:12px;align-items:start}
@media (min-width:860px){.grid{grid-template-columns:1fr 1fr}}
.card{background:#fff;border-radius:10px;padding:12px;box-shadow:0 1px 2px rgba(0,0,0,.06);min-width:0}
.card.wide{grid-column:1/-1}
svg.chart{display:block;width:100%;height:auto;max-width:600px}
svg.spark{max-width:400px}
svg.wide-only{display:none;max-width:none}
@media (min-width:860px){svg.wide-only{display:block}svg.narrow-only{display:none}}
.examples{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:8px 16px}
.examples div{border-top:1px solid #e2e8f0;padding-top:6px}
svg text{font-family:inherit}
.legend{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:.8rem;color:#334155;margin:6px 0 0}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{text-align:left;padding:5px 6px;border-bottom:1px solid #e2e8f0;vertical-align:top}
th{color:#475569;font-weight:600;white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.up{color:#b91c1c}.down{color:#15803d}
.muted{color:#64748b;font-size:.85rem}
ul.msgs{margin:4px 0 0;padding-left:18px;font-size:.86rem}
ul.msgs li{margin:2px 0;overflow-wrap:anywhere}
.chips{display:flex;flex-wrap:wrap;gap:4px;margin:4px 0}
.chip{background:#eef2ff;color:#3730a3;border-radius:999px;padding:1px 9px;font-size:.82rem}
.tag{display:inline-block;border-radius:4px;padding:0 6px;font-size:.78rem;color:#fff}
code{background:#f1f5f9;border-radius:4px;padding:0 4px;font-size:.85em;overflow-wrap:anywhere}
.bad{color:#b91c1c}
footer{color:#64748b;font-size:.8rem;padding:16px;text-align:center}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _short(text: str, limit: int = _MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pct(x, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def _num(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:,.2f}"


def _nice_max(value: float) -> tuple[float, float]:
    """A round axis maximum >= value and its tick step (4-5 ticks)."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if step >= 1:
        step = math.ceil(step)
    return step * math.ceil(value / step), step


def _tick(v: float) -> str:
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}".rstrip("0").rstrip(".")


# -- SVG charts ---------------------------------------------------------------------------------------------------
def svg_columns(days: list[str], stacks: list[tuple[str, list[float], str]], *, label: str,
                marks: dict[str, str] | None = None, width: int = 460, height: int = 210, css: str = "chart") -> str:
    """Stacked columns, one per day; ``marks`` (day -> note) draws a red marker above those days."""
    left, right, top, bottom = 40, 8, 16, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(days), 1)
    totals = [sum(s[1][i] for s in stacks) for i in range(len(days))]
    ymax, step = _nice_max(max(totals, default=0))
    bw = plot_w / n
    parts = [f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}">',
             f"<title>{_e(label)}</title>"]
    v = 0.0
    while v <= ymax + 1e-9:
        y = top + plot_h - v / ymax * plot_h
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#64748b">{_tick(v)}</text>')
        v += step
    for i, day in enumerate(days):
        x = left + i * bw
        base = top + plot_h
        for name, values, colour in stacks:
            h = values[i] / ymax * plot_h
            if h <= 0:
                continue
            base -= h
            parts.append(f'<rect x="{x + bw * 0.1:.2f}" y="{base:.2f}" width="{max(bw * 0.8, 0.6):.2f}" height="{h:.2f}" '
                         f'fill="{colour}"><title>{_e(day)} {_e(name)}: {_tick(values[i])}</title></rect>')
        if marks and day in marks:
            cx = x + bw / 2
            ty = max(top + plot_h - totals[i] / ymax * plot_h - 4, top - 2)
            parts.append(f'<path d="M{cx - 5:.1f},{ty - 8:.1f} L{cx + 5:.1f},{ty - 8:.1f} L{cx:.1f},{ty:.1f} Z" fill="#dc2626">'
                         f"<title>{_e(marks[day])}</title></path>")
    every = max(1, math.ceil(n / max(3, width // 75)))
    for i, day in enumerate(days):
        if i % every == 0 and (n - 1 - i) >= every * 0.6 or i == n - 1:
            x = left + i * bw + bw / 2
            anchor = "end" if i == n - 1 and n > 1 else "middle"
            if anchor == "end":
                x = left + plot_w
            parts.append(f'<text x="{x:.1f}" y="{height - 8}" font-size="11" text-anchor="{anchor}" fill="#64748b">{_e(day[5:])}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#94a3b8"/>')
    parts.append("</svg>")
    return "".join(parts)


def svg_hbars(rows: list[tuple[str, float, str]], *, label: str, markers: list[float | None] | None = None,
              colour: str = "#2563eb", width: int = 400, value_max: float | None = None) -> str:
    """Horizontal bars: (label, value, shown value); ``markers`` draws a thin dark tick per row (e.g. last period)."""
    label_w, value_w, row_h = 132, 88, 24
    plot_w = width - label_w - value_w
    height = row_h * max(len(rows), 1) + 6
    vmax = value_max or max([r[1] for r in rows] + [m or 0 for m in (markers or [])] + [1e-12])
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}">',
             f"<title>{_e(label)}</title>"]
    for i, (name, value, shown) in enumerate(rows):
        y = 3 + i * row_h
        w = max(value / vmax * plot_w, 0)
        text = name if len(name) <= 16 else name[:15] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 16}" font-size="13" text-anchor="end" fill="#0f172a">'
                     f"{_e(text)}<title>{_e(name)}</title></text>")
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.2f}" height="{row_h - 8}" rx="3" fill="{colour}">'
                     f"<title>{_e(name)}: {_e(shown)}</title></rect>")
        if markers and markers[i] is not None:
            mx = label_w + markers[i] / vmax * plot_w
            parts.append(f'<line x1="{mx:.2f}" x2="{mx:.2f}" y1="{y + 1}" y2="{y + row_h - 1}" stroke="#0f172a" stroke-width="2"/>')
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y + 16}" font-size="12" fill="#334155">{_e(shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_spark(series: dict[str, int], day: str, baseline: float, *, width: int = 300, height: int = 70) -> str:
    """Daily counts around a spike; the spike day in red, the baseline dashed."""
    days = list(series)
    n = max(len(days), 1)
    vmax = max(list(series.values()) + [baseline, 1])
    top, bottom = 6, 16
    plot_h = height - top - bottom
    bw = width / n
    parts = [f'<svg class="chart spark" viewBox="0 0 {width} {height}" role="img" aria-label="daily counts around {_e(day)}">']
    for i, d in enumerate(days):
        h = series[d] / vmax * plot_h
        colour = "#dc2626" if d == day else "#93c5fd"
        parts.append(f'<rect x="{i * bw + bw * 0.1:.1f}" y="{top + plot_h - h:.1f}" width="{bw * 0.8:.1f}" height="{h:.1f}" '
                     f'fill="{colour}"><title>{_e(d)}: {series[d]}</title></rect>')
    by = top + plot_h - baseline / vmax * plot_h
    parts.append(f'<line x1="0" x2="{width}" y1="{by:.1f}" y2="{by:.1f}" stroke="#334155" stroke-dasharray="4 3"/>')
    if days:
        parts.append(f'<text x="0" y="{height - 3}" font-size="10" fill="#64748b">{_e(days[0][5:])}</text>')
        parts.append(f'<text x="{width}" y="{height - 3}" font-size="10" text-anchor="end" fill="#64748b">{_e(days[-1][5:])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _columns_both(days, stacks, *, label: str, marks=None) -> str:
    """The same column chart twice: phone-sized (shown under 860 px) and wide (shown above)."""
    return (svg_columns(days, stacks, label=label, marks=marks, css="chart narrow-only")
            + svg_columns(days, stacks, label=label, marks=marks, width=1000, height=240, css="chart wide-only"))


def _legend(items: list[tuple[str, str]]) -> str:
    return '<div class="legend">' + "".join(f'<span><i style="background:{c}"></i>{_e(n)}</span>' for n, c in items) + "</div>"


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f'<th class="n">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>" for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            raw = cell if isinstance(cell, _Raw) else _e(cell)
            cells.append(f'<td class="n">{raw}</td>' if i in numeric else f"<td>{raw}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


class _Raw(str):
    """Already-escaped HTML for a table cell."""


def _msgs(texts: list[str]) -> str:
    if not texts:
        return '<p class="muted">no examples</p>'
    return '<ul class="msgs">' + "".join(f"<li>{_e(_short(t))}</li>" for t in texts) + "</ul>"


# -- HTML ---------------------------------------------------------------------------------------------------------
def render_html(r: dict) -> str:
    """The report as one self-contained HTML page."""
    meta, data, vol, intents, auto = r["meta"], r["data"], r["volume"], r["intents"], r["automation"]
    comp, spikes, gaps, sat, agent = r["complaints"], r["spikes"], r["faq_gaps"], r["satisfaction"], r["agent_labels"]
    days = list(vol["by_day"])
    period = f"{meta['first_day']} – {meta['last_day']}" if meta["first_day"] else "no data"
    out = ["<!DOCTYPE html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>客服对话洞察 · Conversation insights {_e(period)}</title><style>{CSS}</style></head><body>"]
    out.append("<header><h1>客服对话洞察 · Conversation insights</h1>"
               f"<p>{_e(period)} · {vol['total']:,} messages · model: {_e(meta['model'])}</p>"
               f"<p>source: {_e(meta['source'])} · csnlp {_e(meta['csnlp_version'])}</p></header><main>")
    out.append('<nav><a href="#volume">Volume</a><a href="#intents">Intents</a><a href="#automation">Automation</a>'
               '<a href="#complaints">Complaints</a><a href="#spikes">Spikes</a><a href="#gaps">FAQ gaps</a>'
               '<a href="#satisfaction">Satisfaction</a><a href="#data">Data &amp; method</a></nav>')
    kpis = [
        (f"{vol['total']:,}", "messages 消息"),
        (_pct(auto["rate"]), "automation 自动解决"),
        (f"{auto['actions']['handoff']:,}", "handoffs 转人工"),
        (f"{comp['n_tagged']:,}", "complaint-like 投诉类"),
        (f"{len(spikes)}", "spikes 异常峰值"),
        (f"{gaps['n_gap_messages']:,}", "FAQ-gap messages 未覆盖"),
        ("–" if sat["mean"] is None else f"{sat['mean']:.2f}", "satisfaction 满意度 (1-5)"),
    ]
    out.append('<div class="kpis">' + "".join(f'<div class="kpi"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for v, k in kpis)
               + "</div>")

    # volume
    channels = list(vol["by_channel"])
    shown = channels[:6]
    colours = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(shown)}
    stacks = [(c, [vol["by_day_channel"].get(d, {}).get(c, 0) for d in days], colours[c]) for c in shown]
    if len(channels) > len(shown):
        rest = [sum(v for c, v in vol["by_day_channel"].get(d, {}).items() if c not in colours) for d in days]
        stacks.append(("other", rest, "#cbd5e1"))
    marks = {}
    for s in spikes:
        marks[s["day"]] = (marks.get(s["day"], "") + f"spike: {s['key']} ×{s['factor']:.1f}; ").strip()
    out.append('<section id="volume"><h2>Volume · 消息量</h2><div class="grid">')
    out.append('<div class="card wide"><h3>Messages per day, by channel</h3>'
               + _columns_both(days, stacks, label="messages per day by channel", marks=marks)
               + _legend([(n, c) for n, _, c in stacks] + ([("spike day", "#dc2626")] if marks else [])) + "</div>")
    total = vol["total"] or 1
    out.append('<div class="card"><h3>By channel</h3>'
               + svg_hbars([(c, n, f"{n:,} · {n / total:.0%}") for c, n in vol["by_channel"].items()],
                           label="messages by channel")
               + "</div>")
    by_ch = auto["by_channel"]
    out.append('<div class="card"><h3>Automation by channel</h3>'
               + _table(["channel", "messages", "automated", "top handoff reason"],
                        [[c, f"{v['n']:,}", _pct(v["automation_rate"]), next(iter(v["handoff_reasons"]), "–")]
                         for c, v in by_ch.items()], numeric={1, 2})
               + "</div></div></section>")

    # intents
    counts = intents["counts"]
    change = {c["intent"]: c for c in intents["change"]}
    top = list(counts.items())[:15]
    prev = intents["previous_period"]
    cur = intents["current_period"]
    cmp_note = (f"Share in the current period {cur['start']} – {cur['end']} (bar) against the previous period "
                f"{prev['start']} – {prev['end']} (dark tick); rule: {intents['comparison_rule']}."
                if prev else f"No comparison: {intents['comparison_rule']}.")
    out.append('<section id="intents"><h2>What customers ask · 意图分布</h2><div class="grid">')
    out.append('<div class="card"><h3>Top intents (share of messages)</h3>'
               + svg_hbars([(i, change.get(i, {}).get("share_current", 0.0), _pct(change.get(i, {}).get("share_current")))
                            for i, _ in top], label="intent shares, current vs previous period",
                           markers=[change.get(i, {}).get("share_previous") if prev else None for i, _ in top])
               + f'<p class="muted">{_e(cmp_note)}</p></div>')
    movers = [c for c in intents["change"] if c["current"] + c["previous"] >= 5][:12]
    out.append('<div class="card"><h3>Biggest changes against the previous period</h3>'
               + _table(["intent", "previous", "current", "Δ share"],
                        [[c["intent"], _pct(c["share_previous"]), _pct(c["share_current"]),
                          _Raw(f'<span class="{"up" if c["delta_pp"] > 0 else "down"}">{c["delta_pp"]:+.1f} pp</span>')]
                         for c in movers], numeric={1, 2, 3})
               + "</div>")
    out.append('<div class="card wide"><h3>Examples per intent (masked)</h3><div class="examples">'
               + "".join(f'<div><b>{_e(i)}</b> <span class="muted">{n:,}</span>{_msgs(intents["examples"].get(i, [])[:2])}</div>'
                         for i, n in list(counts.items())[:12])
               + "</div></div></div></section>")

    # automation
    acts = auto["actions"]
    n_all = sum(acts.values()) or 1
    out.append('<section id="automation"><h2>Automation &amp; handoffs · 自动化与转人工</h2><div class="grid">')
    out.append('<div class="card"><h3>What the bot did</h3>'
               + svg_hbars([(a, v / n_all, f"{v:,} · {v / n_all:.0%}") for a, v in acts.items()],
                           label="actions", value_max=1.0, colour="#16a34a")
               + f'<p class="muted">Automation rate {_pct(auto["rate"])}: the share of messages answered by the bot.</p>'
               + "<h3>Handoff reasons</h3>"
               + svg_hbars([(k, v, f"{v:,}") for k, v in auto["handoff_reasons"].items()], label="handoff reasons",
                           colour="#dc2626")
               + "</div>")
    rows = []
    for i, v in list(auto["by_intent"].items())[:20]:
        main = next(iter(v["handoff_reasons"].items()), None)
        rows.append([i, f"{v['n']:,}", _pct(v["automation_rate"]), f"{main[0]} {main[1]:,}" if main else "–"])
    out.append('<div class="card"><h3>By intent</h3>'
               + _table(["intent", "messages", "automated", "main handoff reason"], rows, numeric={1, 2})
               + "</div></div></section>")

    # complaints
    out.append('<section id="complaints"><h2>Complaints · 投诉</h2><div class="grid">')
    if not comp["available"]:
        out.append('<div class="card wide"><p class="muted">The model has no feedback tagger (or no message was '
                   "complaint-like): no complaint categories.</p></div>")
    else:
        sev_stacks = [(s, [comp["severity_by_day"][d][s] for d in days], SEVERITY_COLOURS[s])
                      for s in ("low", "medium", "high", "critical")]
        out.append('<div class="card wide"><h3>Severity of complaint-like messages per day</h3>'
                   + _columns_both(days, sev_stacks, label="complaint severity per day")
                   + _legend([(s, c) for s, c in SEVERITY_COLOURS.items()]) + "</div>")
        out.append('<div class="card"><h3>Categories</h3>'
                   + svg_hbars([(c, n, f"{n:,}") for c, n in comp["categories"].items()], label="complaint categories",
                               colour="#ea580c")
                   + "</div>")
        blocks = []
        for c in comp["categories"]:
            sv = comp["category_severity"].get(c, {})
            badge = " ".join(f'<span class="tag" style="background:{SEVERITY_COLOURS[s]}">{s} {sv[s]}</span>'
                             for s in ("critical", "high") if sv.get(s))
            blocks.append(f"<div><b>{_e(c)}</b> {badge}{_msgs(comp['examples'].get(c, []))}</div>")
        out.append('<div class="card"><h3>Examples per category (masked)</h3><div class="examples">' + "".join(blocks)
                   + "</div></div>")
    out.append("</div></section>")

    # spikes
    out.append('<section id="spikes"><h2>Spikes · 异常峰值</h2><div class="grid">')
    if not spikes:
        out.append('<div class="card wide"><p class="muted">No spike in the period.</p></div>')
    for s in spikes:
        out.append(f'<div class="card"><h3>{_e(s["day"])} · {_e(s["kind"])} <code>{_e(s["key"])}</code></h3>'
                   f'<p><b>{s["count"]:,}</b> messages, baseline {s["baseline"]:g} (median of the 14 days before): '
                   f'<b>×{s["factor"]:.1f}</b>, robust z {s["z"]:.1f}</p>'
                   + svg_spark(s["series"], s["day"], s["baseline"]) + _msgs(s["examples"]) + "</div>")
    out.append("</div></section>")

    # FAQ gaps
    out.append('<section id="gaps"><h2>What the bot misses · 未覆盖问题 (FAQ gaps)</h2><div class="grid">')
    reasons = ", ".join(f"{k} {v:,}" for k, v in gaps["reasons"].items()) or "none"
    out.append(f'<div class="card wide"><p>{gaps["n_gap_messages"]:,} messages ({_pct(gaps["share_of_messages"])}) were '
               f"handed off because the bot could not answer them ({_e(reasons)}). {gaps['n_sampled']:,} sampled, "
               f"{gaps['n_clustered']:,} in the clusters below. The suggested labels are in "
               "<code>faq_gaps.jsonl</code>: edit them and add the lines to the training data.</p></div>")
    for c in gaps["clusters"]:
        model = ", ".join(f"{m['intent']} {m['share']:.0%}" for m in c["model_intents"]) or "–"
        kind = "new intent" if c["suggestion"] == "new_intent" else f"FAQ entry of {c['label']}"
        out.append(f'<div class="card"><h3>#{c["cluster"] + 1} · ~{c["size"]:,} messages '
                   f'({_pct(c["share_of_gaps"])} of gaps)</h3>'
                   '<div class="chips">' + "".join(f'<span class="chip">{_e(t)}</span>' for t in c["key_terms"]) + "</div>"
                   f'<p>Suggested {_e(kind)}: <code>{_e(c["suggested_id"])}</code></p>'
                   f'<p class="muted">seen {_e(c["first_day"])} – {_e(c["last_day"])} · the model chose: {_e(model)}</p>'
                   + _msgs(c["representatives"]) + "</div>")
    out.append("</div></section>")

    # satisfaction
    out.append('<section id="satisfaction"><h2>Satisfaction · 满意度</h2><div class="grid">')
    if not sat["n_rated"]:
        out.append('<div class="card wide"><p class="muted">No satisfaction ratings in the log.</p></div>')
    else:
        out.append(f'<div class="card"><h3>By action (mean of 1-5, {sat["n_rated"]:,} rated messages)</h3>'
                   + svg_hbars([(a, v["mean"], f"{v['mean']:.2f} · n {v['n']:,}") for a, v in sat["by_action"].items()],
                               label="satisfaction by action", value_max=5.0, colour="#0891b2")
                   + "<h3>Distribution</h3>"
                   + svg_hbars([(f"{k} ★", v, f"{v:,}") for k, v in sat["distribution"].items()],
                               label="rating distribution", colour="#0891b2")
                   + (f'<p class="muted">Resolved: {_pct(sat["resolved_rate"])} of messages with an outcome.</p>'
                      if sat["resolved_rate"] is not None else "") + "</div>")
        rows = sorted(((i, v) for i, v in sat["by_intent"].items() if v["n"] >= 5), key=lambda iv: iv[1]["mean"])
        out.append('<div class="card"><h3>By intent (at least 5 ratings, lowest first)</h3>'
                   + _table(["intent", "ratings", "mean"], [[i, f"{v['n']:,}", f"{v['mean']:.2f}"] for i, v in rows[:20]],
                            numeric={1, 2}) + "</div>")
    if agent["n_labelled"]:
        unk = agent["unknown_to_model"]
        out.append('<div class="card wide"><h3>Agent labels · 人工标注</h3>'
                   f'<p>{agent["n_labelled"]:,} messages carry an agent label; the model agrees on '
                   f'{_pct(agent["agreement"])} of the {agent["n_known_to_model"]:,} with an intent it knows.</p>'
                   + (("<p>Labels the model does not know:</p>"
                       + _table(["agent label", "messages", "examples"],
                                [[u["agent_label"], f"{u['count']:,}", _Raw(_msgs(u["examples"][:2]))] for u in unk],
                                numeric={1})) if unk else "")
                   + "</div>")
    out.append("</div></section>")

    # data and method
    out.append('<section id="data"><h2>Data &amp; method · 数据与方法</h2><div class="grid"><div class="card">')
    rows = [["lines read", f"{data['lines_read']:,}"], ["analysed", f"{data['analysed']:,}"],
            ["bad lines", f"{data['bad']:,}"], ["before since (routed for baselines)", f"{data['before_since_routed']:,}"],
            ["before since (skipped)", f"{data['before_since_skipped']:,}"], ["after until", f"{data['after_until']:,}"]]
    out.append("<h3>Input</h3>" + _table(["", "lines"], rows, numeric={1}))
    if data["bad_lines"]:
        out.append('<h3 class="bad">First bad lines</h3>'
                   + _table(["line", "problem"], [[b["line"], b["error"]] for b in data["bad_lines"]], numeric={0}))
    out.append('</div><div class="card"><h3>Rules</h3>'
               + _table(["", "rule"], [[k.replace("_", " "), v] for k, v in r["method"].items()]) + "</div></div></section>")
    out.append(f"</main><footer>csnlp {_e(meta['csnlp_version'])} · only masked text is shown</footer></body></html>")
    return "\n".join(out)


# -- Markdown -----------------------------------------------------------------------------------------------------
def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(_md(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_markdown(r: dict) -> str:
    """The report as Markdown (tables, no charts)."""
    meta, data, vol, intents, auto = r["meta"], r["data"], r["volume"], r["intents"], r["automation"]
    comp, spikes, gaps, sat, agent = r["complaints"], r["spikes"], r["faq_gaps"], r["satisfaction"], r["agent_labels"]
    period = f"{meta['first_day']} – {meta['last_day']}" if meta["first_day"] else "no data in the period"
    out = ["# Conversation insights · 客服对话洞察\n",
           f"{period} · {vol['total']:,} messages · model: {_md(meta['model'])} · "
           f"source: `{meta['source']}`\n",
           f"- automation rate: **{_pct(auto['rate'])}** ({auto['actions']['answer']:,} answered, "
           f"{auto['actions']['clarify']:,} clarified, {auto['actions']['handoff']:,} handed off)",
           f"- complaint-like messages: {comp['n_tagged']:,}; spikes: {len(spikes)}; FAQ-gap messages: "
           f"{gaps['n_gap_messages']:,}",
           f"- satisfaction: {'–' if sat['mean'] is None else format(sat['mean'], '.2f')} (n {sat['n_rated']:,})\n"]
    out.append("## Volume\n")
    out.append(_md_table(["day", "messages"], [[d, n] for d, n in vol["by_day"].items()]))
    out.append(_md_table(["channel", "messages", "automated"],
                         [[c, n, _pct(auto["by_channel"].get(c, {}).get("automation_rate"))] for c, n in vol["by_channel"].items()]))
    out.append("## What customers ask\n")
    prev = intents["previous_period"]
    out.append(f"Comparison: {intents['comparison_rule']}"
               + (f" (previous {prev['start']} – {prev['end']}, current {intents['current_period']['start']} – "
                  f"{intents['current_period']['end']})" if prev else "") + ".\n")
    change = {c["intent"]: c for c in intents["change"]}
    out.append(_md_table(["intent", "messages", "share", "previous share", "current share", "Δ pp", "example (masked)"],
                         [[i, n, _pct(intents["shares"].get(i)), _pct(change.get(i, {}).get("share_previous")),
                           _pct(change.get(i, {}).get("share_current")), f"{change.get(i, {}).get('delta_pp', 0):+.1f}",
                           _short((intents["examples"].get(i) or [""])[0], 60)]
                          for i, n in intents["counts"].items()]))
    out.append("## Automation and handoffs\n")
    out.append(_md_table(["handoff reason", "messages"], list(auto["handoff_reasons"].items())))
    out.append(_md_table(["intent", "messages", "automated", "handoffs", "handoff reasons"],
                         [[i, v["n"], _pct(v["automation_rate"]), v["handed_off"],
                           ", ".join(f"{k} {n}" for k, n in v["handoff_reasons"].items()) or "–"]
                          for i, v in auto["by_intent"].items()]))
    out.append(_md_table(["channel", "messages", "automated", "handoffs", "handoff reasons"],
                         [[c, v["n"], _pct(v["automation_rate"]), v["handed_off"],
                           ", ".join(f"{k} {n}" for k, n in v["handoff_reasons"].items()) or "–"]
                          for c, v in auto["by_channel"].items()]))
    out.append("## Complaints\n")
    if not comp["available"]:
        out.append("No complaint categories (the model has no feedback tagger).\n")
    else:
        out.append(_md_table(["severity", "messages"], list(comp["severity"].items())))
        out.append(_md_table(["category", "messages", "critical", "high", "examples (masked)"],
                             [[c, n, comp["category_severity"][c]["critical"], comp["category_severity"][c]["high"],
                               " / ".join(_short(t, 60) for t in comp["examples"].get(c, []))]
                              for c, n in comp["categories"].items()]))
        out.append(_md_table(["day", "low", "medium", "high", "critical"],
                             [[d, *(v[s] for s in ("low", "medium", "high", "critical"))]
                              for d, v in comp["severity_by_day"].items()]))
    out.append("## Spikes\n")
    out.append(f"Rule: {r['method']['spikes']}.\n")
    if spikes:
        out.append(_md_table(["day", "kind", "key", "count", "baseline", "factor", "z", "examples (masked)"],
                             [[s["day"], s["kind"], s["key"], s["count"], f"{s['baseline']:g}", f"{s['factor']:.1f}",
                               f"{s['z']:.1f}", " / ".join(_short(t, 50) for t in s["examples"])] for s in spikes]))
    else:
        out.append("No spike in the period.\n")
    out.append("## FAQ gaps (what the bot misses)\n")
    out.append(f"{gaps['n_gap_messages']:,} gap messages ({', '.join(f'{k} {v}' for k, v in gaps['reasons'].items()) or 'none'}); "
               f"{gaps['n_sampled']:,} sampled. Labelling file: `faq_gaps.jsonl`.\n")
    for c in gaps["clusters"]:
        out.append(f"### #{c['cluster'] + 1} · ~{c['size']:,} messages · `{c['suggested_id']}`\n")
        out.append(f"key terms: {', '.join(c['key_terms'])} · suggestion: {c['suggestion']} · seen {c['first_day']} – "
                   f"{c['last_day']} · model chose: "
                   + (", ".join(f"{m['intent']} {m['share']:.0%}" for m in c["model_intents"]) or "–") + "\n")
        out.extend(f"- {_md(_short(t))}" for t in c["representatives"])
        out.append("")
    out.append("## Satisfaction\n")
    if sat["n_rated"]:
        out.append(_md_table(["action", "ratings", "mean"], [[a, v["n"], f"{v['mean']:.2f}"] for a, v in sat["by_action"].items()]))
        out.append(_md_table(["intent", "ratings", "mean"], [[i, v["n"], f"{v['mean']:.2f}"] for i, v in sat["by_intent"].items()]))
    else:
        out.append("No ratings.\n")
    if agent["n_labelled"]:
        out.append(f"Agent labels: {agent['n_labelled']:,}; agreement with the model {_pct(agent['agreement'])} on "
                   f"{agent['n_known_to_model']:,} known intents.\n")
        if agent["unknown_to_model"]:
            out.append(_md_table(["agent label unknown to the model", "messages"],
                                 [[u["agent_label"], u["count"]] for u in agent["unknown_to_model"]]))
    out.append("## Data and method\n")
    out.append(_md_table(["", "lines"], [["read", data["lines_read"]], ["analysed", data["analysed"]], ["bad", data["bad"]],
                                         ["before since, routed", data["before_since_routed"]],
                                         ["before since, skipped", data["before_since_skipped"]],
                                         ["after until", data["after_until"]]]))
    if data["bad_lines"]:
        out.append(_md_table(["bad line", "problem"], [[b["line"], b["error"]] for b in data["bad_lines"]]))
    out.append(_md_table(["rule", ""], [[k, v] for k, v in r["method"].items()]))
    return "\n".join(out) + "\n"
