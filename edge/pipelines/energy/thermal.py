"""Grey-box thermal model (1R1C, fitted from readings) and a model-predictive heating plan solved as a linear
programme (scipy's HiGHS) against an hourly energy price.

The model: ``T[k+1] = T[k] + a·(T_out[k] − T[k]) + b·Q[k] + c·occupied[k] + d`` with ``a = Δt/(R·C)`` and
``b = Δt/C``. The plan minimises the cost of heat while keeping the room inside its comfort band when occupied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RCModel:
    """Discrete 1R1C room model, one step per hour. ``q_max_kw`` is the heating capacity seen in the data."""

    a: float
    b: float
    c: float
    d: float
    q_max_kw: float
    rmse_k: float

    @property
    def time_constant_h(self) -> float:
        return 1.0 / self.a if self.a > 0 else float("inf")

    @classmethod
    def fit(cls, temp_c: list[float], outdoor_c: list[float], heat_kw: list[float], occupied: list[bool]) -> RCModel:
        """Least squares on consecutive hours; raises ValueError when the data cannot identify the model."""
        t = np.asarray(temp_c, dtype=float)
        x = np.column_stack(
            [
                np.asarray(outdoor_c[:-1]) - t[:-1],
                np.asarray(heat_kw[:-1], dtype=float),
                np.asarray(occupied[:-1], dtype=float),
                np.ones(len(t) - 1),
            ]
        )
        y = np.diff(t)
        if len(y) < 24 or np.linalg.matrix_rank(x) < 4:
            raise ValueError("need at least a day of varied readings (heating on and off) to fit the model")
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        a, b, c, d = (float(v) for v in coef)
        if a <= 0 or b <= 0:
            raise ValueError(f"fitted model is not physical (a={a:.4f}, b={b:.4f}); more varied data needed")
        rmse = float(np.sqrt(np.mean((x @ coef - y) ** 2)))
        return cls(a, b, c, d, q_max_kw=float(np.max(heat_kw)), rmse_k=rmse)

    def simulate(self, t0: float, outdoor_c: list[float], heat_kw: list[float], occupied: list[bool]) -> list[float]:
        out = [t0]
        for k in range(len(heat_kw)):
            t = out[-1]
            out.append(t + self.a * (outdoor_c[k] - t) + self.b * heat_kw[k] + self.c * occupied[k] + self.d)
        return out


@dataclass(frozen=True)
class HeatingPlan:
    heat_kw: list[float]
    temp_c: list[float]  # predicted temperature at the start of each hour, and one more at the end
    cost: float
    comfort_shortfall_kh: float  # slack the solver needed (0 when the band is reachable)


def plan_heating(
    model: RCModel,
    t0: float,
    outdoor_c: list[float],
    occupied: list[bool],
    price: list[float],
    low_occupied_c: float = 20.5,
    low_empty_c: float = 15.0,
    high_c: float = 24.0,
) -> HeatingPlan:
    """Cheapest heat over the horizon that keeps the room in its band; a heavily penalised slack keeps the LP
    feasible when the band cannot be reached in time (reported as ``comfort_shortfall_kh``)."""
    from scipy.optimize import linprog

    h = len(price)
    # variables: Q[0..h-1], T[1..h], S[1..h] (slack below the band)
    nq, nt = h, h
    n = nq + nt + h
    cost = np.zeros(n)
    cost[:nq] = price
    cost[nq + nt :] = 1000.0 * max(max(price), 1e-3)
    a_eq = np.zeros((h, n))
    b_eq = np.zeros(h)
    for k in range(h):
        # T[k+1] − (1−a)·T[k] − b·Q[k] = a·Tout[k] + c·occ[k] + d
        a_eq[k, nq + k] = 1.0
        a_eq[k, k] = -model.b
        rhs = model.a * outdoor_c[k] + model.c * occupied[k] + model.d
        if k == 0:
            rhs += (1 - model.a) * t0
        else:
            a_eq[k, nq + k - 1] = -(1 - model.a)
        b_eq[k] = rhs
    a_ub = np.zeros((h, n))
    b_ub = np.zeros(h)
    for k in range(h):
        # T[k+1] + S[k+1] ≥ low  →  −T − S ≤ −low
        low = low_occupied_c if occupied[min(k + 1, h - 1)] else low_empty_c
        a_ub[k, nq + k] = -1.0
        a_ub[k, nq + nt + k] = -1.0
        b_ub[k] = -low
    bounds = [(0.0, model.q_max_kw)] * nq + [(None, high_c)] * nt + [(0.0, None)] * h
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"heating plan failed: {res.message}")
    q = [float(v) for v in res.x[:nq]]
    temps = [t0, *(float(v) for v in res.x[nq : nq + nt])]
    return HeatingPlan(q, temps, float(np.dot(price, q)), float(np.sum(res.x[nq + nt :])))
