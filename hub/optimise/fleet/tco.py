"""The one TCO function: fixed cost, fuel/energy, CO2e at a shadow price, and mileage allowance.

Every part of the optimiser (allocation, search, scenario, baseline, report) prices a fleet here,
so figures are comparable everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.optimise.fleet.model import Fuel, Settings, Vehicle, VehicleKind

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class KmRate:
    """What one km costs: ``dkk`` cash (fuel, energy or allowance) and ``co2e_kg``."""

    dkk: float
    co2e_kg: float

    def priced(self, co2e_dkk_per_t: float) -> float:
        """Cash plus CO2e at a shadow price (DKK per tonne)."""
        return self.dkk + self.co2e_kg * co2e_dkk_per_t / 1000.0


def _fuel_price_and_factor(fuel: Fuel, settings: Settings) -> tuple[float, float]:
    return {
        Fuel.PETROL: (settings.pris_benzin, settings.benzin_udledning),
        Fuel.DIESEL: (settings.pris_diesel, settings.diesel_udledning),
        Fuel.HVO: (settings.pris_hvo, settings.hvo_udledning),
    }.get(fuel, (settings.pris_benzin, settings.benzin_udledning))


def vehicle_km_rate(vehicle: Vehicle, settings: Settings) -> KmRate:
    """Energy cost and CO2e per km of a fleet vehicle."""
    if vehicle.type == VehicleKind.EV or (vehicle.type == VehicleKind.EBIKE and vehicle.wltp_el):
        kwh = (vehicle.wltp_el or 0.0) / 1000.0
        co2 = kwh * settings.el_udledning
        rate = KmRate(kwh * settings.pris_el, co2)
    elif vehicle.type == VehicleKind.FOSSIL:
        price, factor = _fuel_price_and_factor(vehicle.fuel_kind, settings)
        litres = 1.0 / vehicle.wltp_fossil if vehicle.wltp_fossil else 1.0 / settings.undriven_wltp
        rate = KmRate(litres * price, litres * factor)
    else:
        rate = KmRate(0.0, 0.0)
    if vehicle.co2_pr_km is not None:
        rate = KmRate(rate.dkk, vehicle.co2_pr_km / 1000.0)
    return rate


def allowance_km_rate(settings: Settings) -> KmRate:
    """A roundtrip no fleet vehicle takes: paid as mileage allowance in a private petrol car.

    The allowance uses the rate below ``distance_threshold`` (drivers are unknown, so no driver is
    assumed to pass the threshold; this never flatters a fleet that leaves trips undriven).
    """
    _, factor = _fuel_price_and_factor(settings.undriven_fuel, settings)
    return KmRate(settings.allowance_low_km_rate, factor / settings.undriven_wltp)


def effective_range_km(vehicle: Vehicle, settings: Settings) -> float:
    """Usable range: rated range less ``capacity_decrease``; infinite for non-EVs."""
    if vehicle.type != VehicleKind.EV:
        return float("inf")
    base = vehicle.range_km or settings.ev_default_range_km
    return base * (1.0 - (vehicle.capacity_decrease or 0.0) / 100.0)


def sleep_hours(vehicle: Vehicle, settings: Settings) -> float:
    return vehicle.sleep if vehicle.sleep is not None else settings.ev_default_sleep_h


@dataclass(frozen=True)
class FleetCost:
    """A fleet's cost per year. ``tco_dkk`` = ``cash_dkk`` + CO2e at the shadow price used."""

    fixed_dkk: float
    energy_dkk: float
    allowance_dkk: float
    co2e_t: float
    co2e_price: float

    @property
    def cash_dkk(self) -> float:
        return self.fixed_dkk + self.energy_dkk + self.allowance_dkk

    @property
    def tco_dkk(self) -> float:
        return self.cash_dkk + self.co2e_t * self.co2e_price

    def as_dict(self) -> dict[str, float]:
        return {
            "fixed_dkk": round(self.fixed_dkk, 2),
            "energy_dkk": round(self.energy_dkk, 2),
            "allowance_dkk": round(self.allowance_dkk, 2),
            "cash_dkk": round(self.cash_dkk, 2),
            "co2e_t": round(self.co2e_t, 4),
            "co2e_price_dkk_per_t": self.co2e_price,
            "tco_dkk": round(self.tco_dkk, 2),
        }


def fleet_tco(
    vehicles: list[Vehicle],
    km_by_vehicle: dict[str, float],
    unallocated_km: float,
    period_days: float,
    settings: Settings,
    co2e_price: float | None = None,
) -> FleetCost:
    """Annual TCO of ``vehicles`` that drove ``km_by_vehicle`` in ``period_days`` plus allowance km.

    Variable parts are scaled from the observed period to a year; fixed costs are per year already.
    """
    scale = DAYS_PER_YEAR / period_days
    energy = co2 = 0.0
    for v in vehicles:
        km = km_by_vehicle.get(v.id, 0.0)
        rate = vehicle_km_rate(v, settings)
        energy += rate.dkk * km
        co2 += rate.co2e_kg * km
    allow = allowance_km_rate(settings)
    price = settings.vaerdisaetning_tons_co2 if co2e_price is None else co2e_price
    return FleetCost(
        fixed_dkk=sum(v.omkostning_aar for v in vehicles),
        energy_dkk=energy * scale,
        allowance_dkk=allow.dkk * unallocated_km * scale,
        co2e_t=(co2 + allow.co2e_kg * unallocated_km) * scale / 1000.0,
        co2e_price=price,
    )
