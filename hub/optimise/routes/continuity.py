"""Continuity of care: who a citizen met over a horizon, and preferred carers for the next day."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from hub.optimise.routes.model import Plan, Problem


def carers_by_citizen(plans: Iterable[Plan]) -> dict[str, Counter]:
    """Visits per (citizen, carer) over the plans; both carers of a double visit count."""
    seen: dict[str, Counter] = defaultdict(Counter)
    for plan in plans:
        for route in plan.routes:
            for stop in route.stops:
                if stop.kind == "visit" and stop.citizen_id is not None:
                    seen[stop.citizen_id][route.carer_id] += 1
    return seen


def continuity_figures(plans: Iterable[Plan]) -> tuple[float, float]:
    """Mean distinct carers per citizen, and share of visits done by each citizen's most frequent carer.

    Returns
    -------
    (distinct, top_share)
        ``distinct`` averaged over citizens with at least one visit; ``top_share`` is a share of
        all visits (0..1).
    """
    seen = carers_by_citizen(plans)
    if not seen:
        return 0.0, 0.0
    distinct = sum(len(c) for c in seen.values()) / len(seen)
    total = sum(sum(c.values()) for c in seen.values())
    top = sum(max(c.values()) for c in seen.values())
    return round(distinct, 4), round(top / total, 4) if total else 0.0


def with_preferences(problem: Problem, history: dict[str, Counter], keep: int = 2) -> Problem:
    """Copy of ``problem`` where each visit prefers the citizen's ``keep`` most frequent past carers.

    Carers the municipality already listed in ``preferred_carers`` stay first. Only carers on
    shift that day are listed, so the penalty is never charged for an absent carer.
    """
    on_shift = {c.id for c in problem.carers}
    visits = []
    for v in problem.visits:
        pref = [c for c in v.preferred_carers if c in on_shift]
        for carer, _ in history.get(v.citizen_id, Counter()).most_common():
            if len(pref) >= max(keep, len(v.preferred_carers)):
                break
            if carer in on_shift and carer not in pref:
                pref.append(carer)
        visits.append(v.model_copy(update={"preferred_carers": pref}))
    return problem.model_copy(update={"visits": visits})
