"""Priority and repair deadline (SLA) of a road-damage work order from its class, size, severity and road class."""

from __future__ import annotations

from dataclasses import dataclass

HOUR_MS = 3_600_000
# Road classes as municipal road registers (e.g. Vejman) group them; paths carry cyclists and pedestrians.
ROAD_CLASS_WEIGHT: dict[str, float] = {"arterial": 1.0, "collector": 0.5, "local": 0.0, "path": 0.5, "private": -1.0}
SEVERITY_POINTS: dict[str, float] = {"high": 3.0, "medium": 2.0, "low": 1.0}
CLASS_POINTS: dict[str, float] = {"D40": 1.0, "D20": 0.5, "D10": 0.0, "D00": 0.0}


@dataclass(frozen=True)
class Priority:
    level: int  # 1 = most urgent
    sla_hours: int
    label: str


PRIORITIES: tuple[Priority, ...] = (
    Priority(1, 24, "akut / urgent"),
    Priority(2, 72, "hurtig / soon"),
    Priority(3, 14 * 24, "planlagt / planned"),
    Priority(4, 60 * 24, "næste vedligeholdelse / next maintenance"),
)


def priority_for(rdd_class: str, severity: str, area_m2: float, road_class: str) -> Priority:
    """Score = severity + class + road class (+1 for a pothole larger than 1 m²); higher is more urgent."""
    score = SEVERITY_POINTS.get(severity, 1.0) + CLASS_POINTS.get(rdd_class, 0.0)
    score += ROAD_CLASS_WEIGHT.get(road_class, 0.0)
    if rdd_class == "D40" and area_m2 >= 1.0:
        score += 1.0
    if score >= 4.5:
        return PRIORITIES[0]
    if score >= 3.5:
        return PRIORITIES[1]
    if score >= 2.0:
        return PRIORITIES[2]
    return PRIORITIES[3]


def sla_due_ms(created_ms: int, priority: Priority) -> int:
    return created_ms + priority.sla_hours * HOUR_MS
