"""The status page written out: one self-contained HTML document (inline CSS and SVG, no
script, no external asset, light and dark, readable on a phone) and a small JSON one.

Every text that comes from the config or the state (check names, reasons) is escaped
here, in one place: ``_t`` for text and attribute values alike.
"""

from __future__ import annotations

import datetime
import html
import json
from collections.abc import Sequence
from typing import Any

from agent.status_page.defaults import CSP
from agent.status_page.model import CheckView, IncidentView, PageState, Sparkline, StatusPage

#: What the JSON document is (bump on an incompatible change).
JSON_SCHEMA = "watchkeeper.status/v1"
#: The page reloads itself this often (seconds): no script needed.
REFRESH = 60
#: On a narrow screen the bar shows the last ``SHORT_DAYS`` days.
SHORT_DAYS = 30
_SPAN_NAMES = {"24h": "24 hours", "30d": "30 days", "90d": "90 days"}
#: The sparkline's drawing box (stretched to the card's width).
_W, _H, _PAD = 100.0, 30.0, 2.0

_CSS = """
:root{color-scheme:light dark;--bg:#f5f6f8;--card:#fff;--text:#1c2230;--muted:#586172;
--line:#dce0e6;--up:#188548;--degraded:#a86800;--down:#c5221f;--unknown:#6a4fc0;
--no_data:#c5cad3;--line-chart:#2f6fde}
@media (prefers-color-scheme:dark){:root{--bg:#0e1116;--card:#171b22;--text:#e7eaf0;
--muted:#9aa3b3;--line:#2a303b;--up:#35c46f;--degraded:#f0b429;--down:#f3564b;
--unknown:#a890f2;--no_data:#3a414e;--line-chart:#73a5ff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);
font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:52rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.25rem 0 .75rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
h3{font-size:1.05rem;margin:0;overflow-wrap:anywhere}
ol,ul{list-style:none;margin:0;padding:0}
.overall{margin:0;padding:.9rem 1rem;border-radius:.5rem;color:#fff;font-weight:600;
font-size:1.1rem}
@media (prefers-color-scheme:dark){.overall{color:#0e1116}}
.overall.up{background:var(--up)}.overall.degraded{background:var(--degraded)}
.overall.down{background:var(--down)}.overall.unknown{background:var(--unknown)}
.overall.no_data{background:var(--muted)}
.updated,.legend,.when,figcaption,dt{color:var(--muted);font-size:.85rem}
.updated{margin:.4rem 0 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:.5rem;
padding:.9rem 1rem;margin:.75rem 0}
.head{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:baseline;
gap:.25rem .75rem}
.state{font-weight:600;white-space:nowrap}
.state.up{color:var(--up)}.state.degraded{color:var(--degraded)}
.state.down{color:var(--down)}.state.unknown{color:var(--unknown)}
.state.no_data{color:var(--muted)}
.note,.why{margin:.35rem 0 0;overflow-wrap:anywhere}
.uptime{display:flex;flex-wrap:wrap;gap:.25rem 1.5rem;margin:.6rem 0}
dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums}
.days{display:grid;grid-template-columns:repeat(var(--days),1fr);gap:2px;height:2.1rem;
margin:.4rem 0 .2rem}
.day{border-radius:2px;background:var(--no_data)}
.day.up{background:var(--up)}.day.degraded{background:var(--degraded)}
.day.down{background:var(--down)}.day.unknown{background:var(--unknown)}
.legend{display:flex;justify-content:space-between}
.legend .short{display:none}
@media (max-width:36rem){.days{--days:var(--short);gap:1px}
.day:nth-child(-n+var(--hidden)){display:none}
.legend .short{display:inline}.legend .long{display:none}}
.spark{margin:.6rem 0 0}
.spark svg{display:block;width:100%;height:2.5rem}
.spark polyline{fill:none;stroke:var(--line-chart);stroke-width:1.5;
stroke-linejoin:round;vector-effect:non-scaling-stroke}
.sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;
clip:rect(0 0 0 0);white-space:nowrap;border:0}
footer{margin:2rem 0 1rem;color:var(--muted);font-size:.8rem;text-align:center}
"""


def render_html(page: StatusPage) -> str:
    """The page as one HTML document."""
    checks = "\n".join(_check(c, page.bar_days) for c in page.checks)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_t(CSP)}">
<meta http-equiv="refresh" content="{REFRESH}">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>{_t(page.title)}</title>
<style>{_css(page.bar_days)}</style>
</head>
<body>
<main>
<header>
<h1>{_t(page.title)}</h1>
<p class="overall {page.state.value}" id="overall" data-state="{page.state.value}">\
{_t(page.headline)}</p>
<p class="updated">Updated <time datetime="{_rfc3339(page.generated_at)}">\
{_t(page.generated_text)}</time></p>
</header>
<section aria-labelledby="checks-title">
<h2 id="checks-title">Checks</h2>
<ul class="checks">
{checks}
</ul>
</section>
<section aria-labelledby="incidents-title">
<h2 id="incidents-title">Incidents</h2>
{_incidents(page.incidents, page.incident_days)}
</section>
<footer>Watchkeeper status page</footer>
</main>
</body>
</html>
"""


def render_json(page: StatusPage) -> str:
    """The page's figures as a small JSON document (for a script or a widget)."""
    doc: dict[str, Any] = {
        "schema": JSON_SCHEMA, "title": page.title,
        "generated_at": _rfc3339(page.generated_at), "state": page.state.value,
        "headline": page.headline,
        "checks": [{"name": c.name, "state": c.state.value,
                    "uptime": {u.span: u.fraction for u in c.uptime}} for c in page.checks],
        "incidents": [{"id": i.id, "check": i.check, "state": i.state.value, "title": i.title,
                       "why": i.why, "started_at": _rfc3339(i.started_at),
                       "resolved_at": _rfc3339(i.resolved_at) if i.resolved_at else None,
                       "duration_seconds": round(i.duration, 3)} for i in page.incidents],
    }
    return json.dumps(doc, indent=2) + "\n"


def spark_points(values: Sequence[float | None], width: float = _W, height: float = _H,
                 pad: float = _PAD) -> list[str]:
    """The sparkline's polylines (``points`` attributes), one per run of values without a
    gap; the scale runs from 0 to the highest value, so the line's shape is honest."""
    top = max((v for v in values if v is not None), default=0.0) or 1.0
    step = width / max(len(values) - 1, 1)
    runs: list[list[tuple[float, float]]] = [[]]
    for n, v in enumerate(values):
        if v is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((n * step, pad + (height - 2 * pad) * (1 - v / top)))
    out = []
    for run in runs:
        drawn = run
        if len(run) == 1:  # a lone value: a short dash, or it would not show
            (x, y), = run
            drawn = [(max(x - 0.6, 0.0), y), (min(x + 0.6, width), y)]
        if drawn:
            out.append(" ".join(f"{x:.2f},{y:.2f}" for x, y in drawn))
    return out


# -- the parts -------------------------------------------------------------------------


def _t(text: str) -> str:
    """Text made safe for HTML content and (quoted) attribute values."""
    return html.escape(text, quote=True)


def _rfc3339(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat(
        timespec="seconds").replace("+00:00", "Z")


def _css(bar_days: int) -> str:
    short = min(SHORT_DAYS, bar_days)
    return (_CSS.replace("var(--hidden)", str(bar_days - short)).strip()
            + f"\n:root{{--days:{bar_days};--short:{short}}}\n")


def _check(c: CheckView, bar_days: int) -> str:
    note = f'\n<p class="note">{_t(c.note)}</p>' if c.note else ""
    uptime = "".join(
        f'<div><dt>{_SPAN_NAMES.get(u.span, _t(u.span))}</dt>'
        f'<dd data-span="{_t(u.span)}">{_t(u.text)}</dd></div>' for u in c.uptime)
    days = "".join(f'<li class="day {d.state.value}" title="{_t(d.label)}">'
                   f'<span class="sr">{_t(d.label)}</span></li>' for d in c.days)
    short = min(SHORT_DAYS, bar_days)
    return f"""<li class="card check" data-check="{_t(c.name)}" data-state="{c.state.value}">
<div class="head"><h3>{_t(c.name)}</h3><span class="state {c.state.value}">\
{_t(c.state.label)}</span></div>{note}
<dl class="uptime" aria-label="Uptime">{uptime}</dl>
<ol class="days" aria-label="Daily uptime, the last {len(c.days)} days">{days}</ol>
<div class="legend" aria-hidden="true"><span class="long">{bar_days} days ago</span>\
<span class="short">{short} days ago</span><span>Today</span></div>{_spark(c.sparkline)}
</li>"""


def _spark(s: Sparkline | None) -> str:
    if s is None:
        return ""
    lines = "".join(f'<polyline points="{p}"/>' for p in spark_points(s.values))
    return (f'\n<figure class="spark"><svg viewBox="0 0 {_W:g} {_H:g}" '
            f'preserveAspectRatio="none" role="img" aria-label="{_t(s.label)}">'
            f'<title>{_t(s.label)}</title>{lines}</svg>'
            f'<figcaption>{_t(s.caption)}</figcaption></figure>')


def _incidents(incidents: Sequence[IncidentView], days: int) -> str:
    if not incidents:
        return f'<p class="card none">No incidents in the last {days} days.</p>'
    return '<ol class="incidents">\n' + "\n".join(_incident(i) for i in incidents) + "\n</ol>"


def _incident(i: IncidentView) -> str:
    started = f'Started <time datetime="{_rfc3339(i.started_at)}">{_t(i.started_text)}</time>'
    if i.resolved_at is None or i.resolved_text is None:
        when = f'{started}, ongoing for <span class="duration">{_t(i.duration_text)}</span>'
        state = f"{i.title}, ongoing"
    else:
        when = (f'{started}, resolved <time datetime="{_rfc3339(i.resolved_at)}">'
                f'{_t(i.resolved_text)}</time> after '
                f'<span class="duration">{_t(i.duration_text)}</span>')
        state = f"{i.title}, resolved"
    shown = i.state if i.open else PageState.UP
    why = f'\n<p class="why">{_t(i.why)}</p>' if i.why else ""
    return f"""<li class="card incident" data-incident="{_t(i.id)}" data-check="{_t(i.check)}" \
data-state="{'open' if i.open else 'resolved'}">
<div class="head"><h3>{_t(i.check)}</h3><span class="state {shown.value}">{_t(state)}</span>\
</div>
<p class="when">{when}</p>{why}
</li>"""
