"""Home-care route and shift planner: day plans, multi-day continuity and re-planning (issue 7)."""

from hub.optimise.routes.checker import check_plan
from hub.optimise.routes.model import (
    Break,
    Carer,
    DoubleVisit,
    Kpis,
    Location,
    Plan,
    Problem,
    Route,
    Stop,
    TravelSettings,
    Visit,
    Weights,
)
from hub.optimise.routes.replanning import Disruption, ReplanResult, replan
from hub.optimise.routes.solver import plan_day, plan_days

__all__ = [
    "Break",
    "Carer",
    "Disruption",
    "DoubleVisit",
    "Kpis",
    "Location",
    "Plan",
    "Problem",
    "ReplanResult",
    "Route",
    "Stop",
    "TravelSettings",
    "Visit",
    "Weights",
    "check_plan",
    "plan_day",
    "plan_days",
    "replan",
]
