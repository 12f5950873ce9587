"""Savings verification (IPMVP option C, ASHRAE Guideline 14): an hourly time-of-week-and-temperature baseline model,
its goodness of fit (CV(RMSE), NMBE) and verified savings with the Guideline 14 confidence interval.

The model (after LBNL's TOWT): one coefficient per hour of the week (per hour of the day and day type when the
baseline period is shorter than three weeks), plus a piecewise-linear outdoor-temperature response — change points
at quantiles of the baseline period's temperatures, fitted separately for occupied and unoccupied hours. Outside the
baseline period's temperature range the outermost segments extrapolate linearly.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

CHANGE_POINT_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)  # change points of the temperature response
OCCUPIED_HOURS = (6, 21)  # workday hours treated as occupied by the temperature response
HOUR_OF_WEEK_MIN_HOURS = 3 * 168  # hour-of-week terms need at least three weeks of baseline data


@dataclass(frozen=True)
class Fit:
    cv_rmse: float  # fraction, e.g. 0.15
    nmbe: float  # fraction, signed
    n: int
    autocorr: float  # lag-1 autocorrelation of the residuals

    def meets_guideline14(self, cv_max: float = 0.30, nmbe_max: float = 0.10) -> bool:
        return self.cv_rmse <= cv_max and abs(self.nmbe) <= nmbe_max


@dataclass(frozen=True)
class Savings:
    baseline_kwh: float  # what the baseline model predicts for the reporting period
    actual_kwh: float
    saved_kwh: float
    saved_fraction: float
    ci_kwh: float  # half width of the confidence interval
    confidence: float


def features(
    when: list[dt.datetime],
    outdoor_c: np.ndarray,
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4),
    knots: tuple[float, ...] = (15.0,),
    hour_of_week: bool = True,
) -> np.ndarray:
    """Design matrix: time-of-week indicators plus, per occupied/unoccupied hours, a linear temperature term and a
    hinge ``max(knot - T, 0)`` per change point."""
    n = len(when)
    n_time = 168 if hour_of_week else 48
    per_group = 1 + len(knots)
    x = np.zeros((n, n_time + 2 * per_group))
    for i, t in enumerate(when):
        work = t.weekday() in workdays
        x[i, t.weekday() * 24 + t.hour if hour_of_week else t.hour + (0 if work else 24)] = 1.0
        occupied = work and OCCUPIED_HOURS[0] <= t.hour < OCCUPIED_HOURS[1]
        col = n_time + (0 if occupied else per_group)
        temp = float(outdoor_c[i])
        x[i, col] = temp
        for k, knot in enumerate(knots):
            x[i, col + 1 + k] = max(knot - temp, 0.0)
    return x


class BaselineModel:
    """Least-squares hourly energy model fitted on a baseline period.

    Example::

        model = BaselineModel().fit(times, outdoor, kwh)
        model.fit_stats.meets_guideline14()
    """

    def __init__(self, workdays: tuple[int, ...] = (0, 1, 2, 3, 4)) -> None:
        self.workdays = workdays
        self.coef: np.ndarray | None = None
        self.fit_stats: Fit | None = None
        self.knots: tuple[float, ...] = (15.0,)
        self.hour_of_week = True

    def fit(self, when: list[dt.datetime], outdoor_c: list[float], kwh: list[float]) -> BaselineModel:
        temps = np.asarray(outdoor_c, dtype=float)
        self.knots = tuple(float(k) for k in np.unique(np.round(np.quantile(temps, CHANGE_POINT_QUANTILES), 1)))
        self.hour_of_week = len(when) >= HOUR_OF_WEEK_MIN_HOURS
        x = features(when, temps, self.workdays, self.knots, self.hour_of_week)
        y = np.asarray(kwh, dtype=float)
        self.coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        self.fit_stats = goodness(y, x @ self.coef, n_params=int(np.linalg.matrix_rank(x)))
        return self

    def predict(self, when: list[dt.datetime], outdoor_c: list[float]) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError("fit the baseline model first")
        return features(when, np.asarray(outdoor_c, dtype=float), self.workdays, self.knots, self.hour_of_week) @ (
            self.coef
        )


def goodness(y: np.ndarray, yhat: np.ndarray, n_params: int = 1) -> Fit:
    """Guideline 14 statistics (with the degrees-of-freedom correction of the guideline)."""
    n = len(y)
    mean = float(np.mean(y))
    resid = y - yhat
    dof = max(n - n_params, 1)
    cv = math.sqrt(float(np.sum(resid**2)) / dof) / mean if mean else math.inf
    nmbe = float(np.sum(resid)) / (dof * mean) if mean else math.inf
    rho = float(np.corrcoef(resid[:-1], resid[1:])[0, 1]) if n > 2 and np.std(resid) > 0 else 0.0
    return Fit(cv_rmse=cv, nmbe=nmbe, n=n, autocorr=rho if math.isfinite(rho) else 0.0)


def verified_savings(
    model: BaselineModel,
    when: list[dt.datetime],
    outdoor_c: list[float],
    actual_kwh: list[float],
    t_value: float = 1.645,
    confidence: float = 0.90,
) -> Savings:
    """Avoided energy over the reporting period with the Guideline 14 fractional savings uncertainty
    ``U = t·1.26·CV·sqrt((n/n')·(1 + 2/n')/m)`` of the baseline prediction, where ``n' = n(1-ρ)/(1+ρ)`` corrects the
    baseline period's n hours for the lag-1 autocorrelation ρ of the model's residuals."""
    if model.fit_stats is None:
        raise RuntimeError("fit the baseline model first")
    predicted = float(np.sum(model.predict(when, outdoor_c)))
    actual = float(np.sum(actual_kwh))
    saved = predicted - actual
    fraction = saved / predicted if predicted else 0.0
    f = model.fit_stats
    n, m = f.n, len(actual_kwh)
    rho = min(max(f.autocorr, 0.0), 0.95)
    n_eff = max(n * (1 - rho) / (1 + rho), 1.0)
    rel = 1.26 * f.cv_rmse * math.sqrt((n / n_eff) * (1 + 2 / n_eff) / m)  # relative to the baseline prediction
    ci = t_value * rel * predicted
    return Savings(predicted, actual, saved, fraction, ci, confidence)
