"""Read problems (JSON or CSV) and write plans (JSON, CSV, printable per-carer day sheets).

CSV times may be minutes after midnight (``480``) or clock times (``08:00``); lists (skills,
preferred carers) are separated by ``;``. Visits CSV columns: ``id, citizen_id, x, y,
window_start, window_end, duration, skill, priority, mandatory, double, min_gap, max_gap,
second_skill, preferred_carers`` (only ``id, x, y, window_start, window_end, duration`` are
required). Carers CSV columns: ``id, x, y, shift_start, shift_end, skills, break_start,
break_end, break_duration, max_work, transport`` (only ``id, x, y, shift_start, shift_end``).
"""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

from hub.optimise.routes.model import Break, Carer, DoubleVisit, Location, Plan, Problem, Visit

STOP_COLUMNS = [
    "carer_id",
    "seq",
    "kind",
    "visit_id",
    "citizen_id",
    "part",
    "arrival",
    "start",
    "end",
    "travel_before",
    "lateness",
]


def clock(value: str | float | None) -> float | None:
    """Minutes after midnight from ``"HH:MM"`` or a number; ``None``/empty stays ``None``."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if ":" in text:
        hours, minutes = text.split(":")[:2]
        return int(hours) * 60 + float(minutes)
    return float(text)


def hhmm(minutes: float) -> str:
    """``"HH:MM"`` for minutes after midnight (rounded to the minute)."""
    m = round(minutes)
    return f"{m // 60:02d}:{m % 60:02d}"


def _split(value: str | None) -> list[str]:
    return [s.strip() for s in (value or "").split(";") if s.strip()]


def _truthy(value: str | None) -> bool:
    return str(value or "").strip().lower() in {"1", "true", "yes", "ja"}


def read_visits_csv(text: str) -> list[Visit]:
    """Visits from CSV text (see module docstring for columns)."""
    visits = []
    for row in csv.DictReader(io.StringIO(text)):
        double = None
        if (row.get("double") or "").strip():
            double = DoubleVisit(
                mode=row["double"].strip(),
                min_gap=clock(row.get("min_gap")) or 0.0,
                max_gap=clock(row.get("max_gap")) or 0.0,
                second_skill=(row.get("second_skill") or "").strip() or None,
            )
        visits.append(
            Visit(
                id=row["id"],
                citizen_id=(row.get("citizen_id") or "").strip(),
                location=Location(x=float(row["x"]), y=float(row["y"])),
                window_start=clock(row["window_start"]),
                window_end=clock(row["window_end"]),
                duration=float(row["duration"]),
                skill=(row.get("skill") or "").strip() or None,
                priority=int(row.get("priority") or 1),
                mandatory=_truthy(row.get("mandatory")),
                double=double,
                preferred_carers=_split(row.get("preferred_carers")),
            )
        )
    return visits


def read_carers_csv(text: str) -> list[Carer]:
    """Carers from CSV text (see module docstring for columns)."""
    carers = []
    for row in csv.DictReader(io.StringIO(text)):
        breaks = []
        if clock(row.get("break_start")) is not None:
            breaks.append(
                Break(
                    earliest_start=clock(row["break_start"]),
                    latest_start=clock(row.get("break_end")) or clock(row["break_start"]),
                    duration=float(row.get("break_duration") or 30),
                )
            )
        carers.append(
            Carer(
                id=row["id"],
                shift_start=clock(row["shift_start"]),
                shift_end=clock(row["shift_end"]),
                start_location=Location(x=float(row["x"]), y=float(row["y"])),
                skills=_split(row.get("skills")),
                breaks=breaks,
                max_work=clock(row.get("max_work")),
                transport=(row.get("transport") or "car").strip(),
            )
        )
    return carers


def load_problem(
    path: str | Path | None = None, visits_csv: str | Path | None = None, carers_csv: str | Path | None = None
) -> Problem:
    """A problem from a JSON file, or from visits and carers CSV files."""
    if path is not None:
        return Problem.model_validate_json(Path(path).read_text())
    if visits_csv is None or carers_csv is None:
        raise ValueError("give a problem JSON file, or both a visits CSV and a carers CSV")
    return Problem(
        visits=read_visits_csv(Path(visits_csv).read_text()),
        carers=read_carers_csv(Path(carers_csv).read_text()),
    )


def plan_json(plan: Plan) -> str:
    return plan.model_dump_json(indent=2)


def plan_csv(plan: Plan) -> str:
    """One row per stop (visits and breaks), times as ``HH:MM``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(STOP_COLUMNS)
    for route in plan.routes:
        for seq, s in enumerate(route.stops, 1):
            writer.writerow(
                [
                    route.carer_id,
                    seq,
                    s.kind,
                    s.visit_id or "",
                    s.citizen_id or "",
                    s.part,
                    hhmm(s.arrival),
                    hhmm(s.start),
                    hhmm(s.end),
                    round(s.travel_before, 1),
                    round(s.lateness, 1),
                ]
            )
    return out.getvalue()


def day_sheets_html(plan: Plan, problem: Problem | None = None) -> str:
    """A printable HTML page with one sheet per carer (a page break between carers)."""
    visits = {v.id: v for v in problem.visits} if problem is not None else {}
    parts = [
        "<!doctype html><html lang='da'><head><meta charset='utf-8'>",
        f"<title>Køreliste {html.escape(plan.day)}</title>",
        "<style>body{font-family:sans-serif;font-size:11pt} section{page-break-after:always;margin-bottom:2em}"
        "table{border-collapse:collapse;width:100%} td,th{border:1px solid #999;padding:3px 6px;text-align:left}"
        "th{background:#eee} .brk{background:#f6f6f6;font-style:italic}</style></head><body>",
    ]
    for route in plan.routes:
        parts.append(
            f"<section><h2>{html.escape(route.carer_id)} · {html.escape(plan.day)}</h2>"
            f"<p>Departure {hhmm(route.departure)} · back {hhmm(route.return_time)} · "
            f"travel {route.travel_minutes:.0f} min · {route.distance_km:.1f} km</p>"
            "<table><tr><th>#</th><th>Arrive</th><th>Start</th><th>End</th><th>Citizen</th>"
            "<th>Visit</th><th>Needs</th><th>Note</th></tr>"
        )
        for seq, s in enumerate(route.stops, 1):
            if s.kind == "break":
                parts.append(
                    f"<tr class='brk'><td>{seq}</td><td></td><td>{hhmm(s.start)}</td><td>{hhmm(s.end)}</td>"
                    "<td colspan='4'>Break</td></tr>"
                )
                continue
            v = visits.get(s.visit_id)
            needs = (v.skill or "") if v else ""
            note = []
            if v is not None and v.double is not None:
                note.append("two carers" if v.double.mode == "simultaneous" else "second carer follows")
            if s.lateness > 0:
                note.append(f"{s.lateness:.0f} min late")
            parts.append(
                f"<tr><td>{seq}</td><td>{hhmm(s.arrival)}</td><td>{hhmm(s.start)}</td><td>{hhmm(s.end)}</td>"
                f"<td>{html.escape(s.citizen_id or '')}</td><td>{html.escape(s.visit_id or '')}</td>"
                f"<td>{html.escape(needs)}</td><td>{html.escape(', '.join(note))}</td></tr>"
            )
        parts.append("</table></section>")
    if plan.unassigned:
        parts.append(f"<section><h2>Unassigned ({len(plan.unassigned)})</h2><p>")
        parts.append(html.escape(", ".join(plan.unassigned)))
        parts.append("</p></section>")
    parts.append("</body></html>")
    return "".join(parts)


def kpi_json(plan: Plan) -> str:
    return json.dumps(plan.kpis.model_dump(), indent=2)
