"""A self-contained HTML report of a fleet search: Pareto chart (inline SVG), options and changes."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from hub.optimise.fleet.allocation import Allocation
from hub.optimise.fleet.search import FleetOption, SearchResult

WIDTH, HEIGHT, PAD = 720, 420, 60


def _scale(values: Sequence[float], lo_px: float, hi_px: float) -> tuple[float, float, Callable[[float], float]]:
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    return lo, hi, lambda v: lo_px + (v - lo) / (hi - lo) * (hi_px - lo_px)


def pareto_svg(front: Sequence[FleetOption], today: FleetOption, recommended: FleetOption) -> str:
    """Annual cash cost (x, MDKK) against CO2e (y, t) for the front, today and the recommendation."""
    pts = [*front, today, recommended]
    x_lo, x_hi, sx = _scale([p.cash_dkk / 1e6 for p in pts], PAD, WIDTH - 20)
    y_lo, y_hi, sy = _scale([p.co2e_t for p in pts], HEIGHT - PAD, 20)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
        'aria-label="Pareto front: annual cost against CO2e">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 20}" y2="{HEIGHT - PAD}" stroke="#333"/>',
        f'<line x1="{PAD}" y1="20" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#333"/>',
    ]
    for k in range(5):
        xv = x_lo + (x_hi - x_lo) * k / 4
        yv = y_lo + (y_hi - y_lo) * k / 4
        parts.append(
            f'<text x="{sx(xv):.1f}" y="{HEIGHT - PAD + 18}" font-size="11" text-anchor="middle">{xv:.2f}</text>'
        )
        parts.append(f'<text x="{PAD - 6}" y="{sy(yv) + 4:.1f}" font-size="11" text-anchor="end">{yv:.1f}</text>')
    parts.append(
        f'<text x="{(WIDTH + PAD) / 2}" y="{HEIGHT - 15}" font-size="12" text-anchor="middle">'
        "annual cash cost (MDKK)</text>"
    )
    parts.append(
        f'<text x="15" y="{HEIGHT / 2}" font-size="12" transform="rotate(-90 15 {HEIGHT / 2})" '
        'text-anchor="middle">CO2e (t/year)</text>'
    )
    ordered = sorted(front, key=lambda p: p.cash_dkk)
    path = " ".join(f"{sx(p.cash_dkk / 1e6):.1f},{sy(p.co2e_t):.1f}" for p in ordered)
    parts.append(f'<polyline points="{path}" fill="none" stroke="#4a7" stroke-width="1.5"/>')
    for p in ordered:
        parts.append(
            f'<circle cx="{sx(p.cash_dkk / 1e6):.1f}" cy="{sy(p.co2e_t):.1f}" r="3.5" fill="#4a7">'
            f"<title>{p.vehicles} vehicles, {p.cash_dkk:,.0f} DKK, {p.co2e_t:.1f} t</title></circle>"
        )
    for p, colour, name in ((today, "#c33", "today"), (recommended, "#36c", "recommended")):
        parts.append(f'<circle cx="{sx(p.cash_dkk / 1e6):.1f}" cy="{sy(p.co2e_t):.1f}" r="6" fill="{colour}"/>')
        parts.append(
            f'<text x="{sx(p.cash_dkk / 1e6) + 9:.1f}" y="{sy(p.co2e_t) + 4:.1f}" font-size="12" '
            f'fill="{colour}">{name}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _row(o: FleetOption, price: float) -> str:
    return (
        f"<tr><td>{o.vehicles}</td><td>{o.cash_dkk:,.0f}</td><td>{o.co2e_t:,.2f}</td>"
        f"<td>{o.tco(price):,.0f}</td><td>{o.unallocated_trips}</td><td>{len(o.changes)}</td></tr>"
    )


def render_report(result: SearchResult, title: str = "Fleet optimisation", allocation: Allocation | None = None) -> str:
    """The whole report as one HTML string (no external resources)."""
    price = result.co2e_price
    rec, today = result.recommended, result.today
    esc = html.escape
    alloc_html = ""
    if allocation is not None:
        s = allocation.summary()
        alloc_html = (
            f"<h2>Allocation of the recommended fleet</h2><p>Allocation cost {s['allocation_cost_dkk']:,} "
            f"DKK over {s['period_days']} days, proven lower bound {s['allocation_bound_dkk']:,} DKK, "
            f"gap {100 * float(s['gap']):.3f} %; {s['unallocated_trips']} roundtrips paid as allowance.</p>"
        )
    changes = "".join(f"<li>{esc(c)}</li>" for c in rec.changes) or "<li>none</li>"
    rows = "".join(_row(o, price) for o in sorted(result.front, key=lambda o: o.cash_dkk))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style></head>
<body><h1>{esc(title)}</h1>
<p>Today: {today.vehicles} vehicles, {today.cash_dkk:,.0f} DKK/year, {today.co2e_t:,.1f} t CO2e/year,
TCO {today.tco(price):,.0f} DKK at {price:,.0f} DKK/t. Recommended (least TCO): {rec.vehicles} vehicles,
{rec.cash_dkk:,.0f} DKK/year, {rec.co2e_t:,.1f} t CO2e/year, TCO {rec.tco(price):,.0f} DKK
(saves {today.tco(price) - rec.tco(price):,.0f} DKK/year); {rec.unallocated_trips} roundtrips unallocated
(today {today.unallocated_trips}). At least {result.min_vehicles_all_trips} vehicles run at once at the peak.</p>
{pareto_svg(result.front, today, rec)}
{alloc_html}
<h2>Changes for the recommended fleet</h2><ul>{changes}</ul>
<h2>Non-dominated fleets ({len(result.front)})</h2>
<table><tr><th>vehicles</th><th>cash DKK/yr</th><th>CO2e t/yr</th><th>TCO DKK/yr</th><th>unallocated</th>
<th>changes</th></tr>{rows}</table>
<p>{result.evaluations} compositions evaluated by exact allocation in {result.seconds:.1f} s.</p>
</body></html>"""
