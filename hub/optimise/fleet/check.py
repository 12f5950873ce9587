"""An independent checker for allocations: it shares no code with the allocator on purpose.

It re-derives every rule from the settings: each roundtrip at most once, no two overlapping trips
(plus the slack) on one vehicle, only trips from the vehicle's home locations, bike rules, and EV
range with the chosen charging model. It also recomputes the allocation cost from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hub.optimise.fleet.model import Roundtrips, Settings, Vehicle, VehicleKind


@dataclass
class Violation:
    vehicle_id: str
    roundtrip_id: int
    rule: str


def _seconds(t: object) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second  # type: ignore[attr-defined]


def _bike_ok(v: Vehicle, start: int, end: int, km: float, settings: Settings) -> bool:
    rules = settings.bike
    if km > rules.max_km_per_trip:
        return False
    day_start = start - start % 86400
    in_window = any(_seconds(a) <= start - day_start and end - day_start <= _seconds(z) for a, z in rules.windows)
    speed = rules.ebike_speed_kmh if v.type == VehicleKind.EBIKE else rules.bike_speed_kmh
    return in_window and km <= speed * (end - start) / 3600.0 + 1e-9


def check_allocation(
    fleet: Sequence[Vehicle], trips: Roundtrips, assignment: np.ndarray, settings: Settings
) -> list[Violation]:
    """Every rule an allocation breaks (empty when it is valid)."""
    out: list[Violation] = []
    if len(assignment) != len(trips):
        return [Violation("", -1, f"assignment has {len(assignment)} entries for {len(trips)} roundtrips")]
    slack = settings.slack_min * 60.0
    for k, v in enumerate(fleet):
        rows = sorted(np.flatnonzero(assignment == k), key=lambda i: trips.start[i])
        homes = {v.location, *v.extra_locations} - {None}
        ev = v.type == VehicleKind.EV
        full = (v.range_km or settings.ev_default_range_km) * (1 - (v.capacity_decrease or 0) / 100)
        sleep_s = (v.sleep if v.sleep is not None else settings.ev_default_sleep_h) * 3600
        used, last_end = 0.0, None
        for i in rows:
            rid = int(trips.id[i])
            s, e, km = int(trips.start[i]), int(trips.end[i]), float(trips.distance[i])
            if int(trips.location[i]) not in homes:
                out.append(Violation(v.id, rid, f"starts at location {trips.location[i]}, not a home of the vehicle"))
            if v.type in (VehicleKind.BIKE, VehicleKind.EBIKE) and not _bike_ok(v, s, e, km, settings):
                out.append(Violation(v.id, rid, "not a trip a bike may take"))
            if last_end is not None and s < last_end + slack:
                out.append(Violation(v.id, rid, "overlaps the vehicle's previous roundtrip"))
            if ev:
                idle = np.inf if last_end is None else s - last_end
                if settings.charging_model == "sleep":
                    used = 0.0 if idle >= sleep_s else used
                else:
                    used = max(0.0, used - idle * settings.charge_km_per_h / 3600.0)
                if used + km > full + 1e-6:
                    out.append(Violation(v.id, rid, f"needs {used + km:.1f} km of a {full:.1f} km range"))
                used += km
            last_end = e if last_end is None else max(last_end, e)
    bad = (assignment < -1) | (assignment >= len(fleet))
    out.extend(Violation("", int(trips.id[i]), "assigned to no known vehicle") for i in np.flatnonzero(bad))
    return out


def recompute_cost(fleet: Sequence[Vehicle], trips: Roundtrips, assignment: np.ndarray, settings: Settings) -> float:
    """Allocation cost over the period (energy + allowance + CO2e at the settings' price), from scratch."""
    price_t = settings.vaerdisaetning_tons_co2
    fuel = {1: (settings.pris_benzin, settings.benzin_udledning), 2: (settings.pris_diesel, settings.diesel_udledning),
            11: (settings.pris_hvo, settings.hvo_udledning)}
    total = 0.0
    for i, k in enumerate(assignment):
        km = float(trips.distance[i])
        if k < 0:
            litre_co2 = fuel.get(int(settings.undriven_fuel), fuel[1])[1]
            total += km * (settings.allowance_low_km_rate + litre_co2 / settings.undriven_wltp * price_t / 1000)
            continue
        v = fleet[k]
        if v.type == VehicleKind.EV or (v.type == VehicleKind.EBIKE and v.wltp_el):
            kwh = (v.wltp_el or 0) / 1000 * km
            co2 = kwh * settings.el_udledning
            cash = kwh * settings.pris_el
        elif v.type == VehicleKind.FOSSIL:
            code = {4: 1, 5: 1, 6: 2, 9: 1}.get(v.fuel or 1, v.fuel or 1)
            price, factor = fuel.get(code, fuel[1])
            litres = km / (v.wltp_fossil or settings.undriven_wltp)
            cash, co2 = litres * price, litres * factor
        else:
            cash = co2 = 0.0
        if v.co2_pr_km is not None:
            co2 = v.co2_pr_km / 1000 * km
        total += cash + co2 * price_t / 1000
    return total
