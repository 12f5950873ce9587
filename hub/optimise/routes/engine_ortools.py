"""OR-Tools engine: soft windows (lateness), breaks and native double-visit synchronisation."""

from __future__ import annotations

from hub.optimise.routes.instance import Compiled
from hub.optimise.routes.model import Plan


def solve_ortools(ctx: Compiled, budget_s: float, seed: int, progress, t0: float) -> Plan:
    raise NotImplementedError
