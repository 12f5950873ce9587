"""Scenario mode: "what if we replace these vehicles by that type?" answered by exact allocation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.optimise.fleet.allocation import Allocation, ProgressFn, allocate
from hub.optimise.fleet.model import Dataset, Vehicle, VehicleKind


@dataclass
class ScenarioResult:
    """Today's fleet and the scenario's fleet, both allocated exactly; money per year."""

    before: Allocation
    after: Allocation
    replaced: list[str]

    def summary(self) -> dict[str, object]:
        b, a = self.before.tco(), self.after.tco()
        return {
            "replaced": self.replaced,
            "before": self.before.summary(),
            "after": self.after.summary(),
            "delta": {
                "vehicles": len(self.after.fleet) - len(self.before.fleet),
                "cash_dkk": round(a.cash_dkk - b.cash_dkk, 2),
                "tco_dkk": round(a.tco_dkk - b.tco_dkk, 2),
                "co2e_t": round(a.co2e_t - b.co2e_t, 4),
                "unallocated_trips": len(self.after.unallocated) - len(self.before.unallocated),
            },
        }


def _resolve(data: Dataset, keys: Sequence[str]) -> list[Vehicle]:
    by_key = {v.id: v for v in data.fleet} | {v.plate: v for v in data.fleet if v.plate}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise ValueError(f"no vehicle in today's fleet has the id or plate {', '.join(missing)}")
    return [by_key[k] for k in keys]


def replace_vehicles(data: Dataset, replace: Sequence[str], by: Vehicle | str | None) -> list[Vehicle]:
    """Today's fleet with the vehicles ``replace`` (ids or plates) swapped for ``by`` at the same homes.

    ``by`` is a vehicle spec, the id of a candidate (test) vehicle, or None to drop them.
    """
    gone = _resolve(data, replace)
    spec: Vehicle | None
    if isinstance(by, str):
        spec = next((v for v in data.vehicles if v.id == by), None)
        if spec is None:
            raise ValueError(f"no vehicle or candidate has the id {by}")
    else:
        spec = by
    gone_ids = {v.id for v in gone}
    fleet = [v for v in data.fleet if v.id not in gone_ids]
    if spec is not None:
        for v in gone:
            fleet.append(
                spec.model_copy(
                    update={
                        "id": f"{v.id}-as-{spec.id}",
                        "plate": "",
                        "location": v.location,
                        "extra_locations": v.extra_locations,
                        "test_vehicle": False,
                        "department": v.department,
                    }
                )
            )
    return fleet


def run_scenario(
    data: Dataset, replace: Sequence[str], by: Vehicle | str | None, progress: ProgressFn | None = None
) -> ScenarioResult:
    """Cost, CO2e and unallocated trips before and after replacing ``replace`` by ``by``."""
    after_fleet = replace_vehicles(data, replace, by)
    before = allocate(
        data.roundtrips,
        data.fleet,
        data.settings,
        progress=(lambda f, m: progress(0.5 * f, f"today: {m}")) if progress else None,
    )
    after = allocate(
        data.roundtrips,
        after_fleet,
        data.settings,
        progress=(lambda f, m: progress(0.5 + 0.5 * f, f"scenario: {m}")) if progress else None,
    )
    return ScenarioResult(before, after, list(replace))


def fossil_plates(data: Dataset, count: int | None = None) -> list[str]:
    """Ids of today's fossil cars, earliest leasing end first (the ones due for replacement)."""
    fossil = [v for v in data.fleet if v.type == VehicleKind.FOSSIL]
    fossil.sort(key=lambda v: (v.end_leasing is None, v.end_leasing or 0, v.id))
    return [v.id for v in fossil[:count]]
