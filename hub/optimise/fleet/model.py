"""Fleet data in OS2 FleetOptimiser's shape: vehicles, settings and a columnar roundtrip table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import IntEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

EPOCH = np.datetime64("1970-01-01T00:00:00", "s")


class VehicleKind(IntEnum):
    """FleetOptimiser's ``type`` codes."""

    BIKE = 1
    EBIKE = 2
    EV = 3
    FOSSIL = 4

    @property
    def is_bike(self) -> bool:
        return self in (VehicleKind.BIKE, VehicleKind.EBIKE)


class Fuel(IntEnum):
    """What a vehicle burns, after FleetOptimiser's ``fuel_types.refers_to`` mapping."""

    PETROL = 1
    DIESEL = 2
    ELECTRIC = 3
    NONE = 10
    HVO = 11


#: FleetOptimiser ``fuel`` codes (``fuel_types.id``) to what they refer to.
FUEL_CODES: dict[int, Fuel] = {
    1: Fuel.PETROL,
    2: Fuel.DIESEL,
    3: Fuel.ELECTRIC,
    4: Fuel.PETROL,
    5: Fuel.PETROL,
    6: Fuel.DIESEL,
    7: Fuel.ELECTRIC,
    8: Fuel.ELECTRIC,
    9: Fuel.PETROL,
    10: Fuel.NONE,
    11: Fuel.HVO,
}


class Vehicle(BaseModel):
    """One vehicle (a FleetOptimiser ``cars`` row).

    Parameters
    ----------
    wltp_fossil : km per litre.  wltp_el : Wh per km.  range_km : km on a full battery.
    capacity_decrease : % of range lost (cold, ageing).  co2_pr_km : g CO2e per km; overrides the
    fuel-based figure when given.  omkostning_aar : DKK per year (leasing, insurance, tax).
    km_aar : leasing km allowance per year.  sleep : hours an EV must stand to recharge fully.
    location : home location id; ``extra_locations`` makes it a pool vehicle shared by several homes.
    test_vehicle : a candidate type for simulations, not part of today's fleet.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    plate: str = ""
    make: str = ""
    model: str = ""
    type: VehicleKind
    fuel: int | None = None
    wltp_fossil: float | None = Field(default=None, gt=0)
    wltp_el: float | None = Field(default=None, ge=0)
    range_km: float | None = Field(default=None, alias="range", gt=0)
    capacity_decrease: float | None = Field(default=None, ge=0, lt=100)
    co2_pr_km: float | None = Field(default=None, ge=0)
    omkostning_aar: float = Field(default=0.0, ge=0)
    km_aar: float | None = Field(default=None, ge=0)
    sleep: float | None = Field(default=None, ge=0)
    location: int | None = None
    extra_locations: tuple[int, ...] = ()
    department: str = ""
    end_leasing: date | None = None
    test_vehicle: bool = False

    @field_validator("end_leasing", mode="before")
    @classmethod
    def _date_only(cls, value: object) -> object:
        if isinstance(value, str) and value.strip():
            return datetime.fromisoformat(value.strip()[:19]).date()
        if value == "":
            return None
        return value

    @property
    def homes(self) -> frozenset[int]:
        """Every location this vehicle may start a roundtrip from."""
        base = {self.location} if self.location is not None else set()
        return frozenset(base | set(self.extra_locations))

    @property
    def fuel_kind(self) -> Fuel:
        if self.fuel is not None and self.fuel in FUEL_CODES:
            return FUEL_CODES[self.fuel]
        if self.type == VehicleKind.EV:
            return Fuel.ELECTRIC
        return Fuel.NONE if self.type.is_bike else Fuel.PETROL

    @property
    def label(self) -> str:
        return " ".join(part for part in (self.make, self.model) if part) or f"type {int(self.type)}"


class Shift(BaseModel):
    """A shift; ``end`` before ``start`` means it runs past midnight."""

    start: time
    end: time


class BikeRules(BaseModel):
    """Which roundtrips a (e-)bike may take (FleetOptimiser's ``bike_settings``)."""

    max_km_per_trip: float = 15.0
    windows: list[tuple[time, time]] = Field(default_factory=lambda: [(time(7), time(15, 30))])
    bike_speed_kmh: float = 20.0
    ebike_speed_kmh: float = 30.0


class Settings(BaseModel):
    """Prices, emission factors and rules (FleetOptimiser's ``simulation_settings`` plus our extras).

    Units: prices DKK per kWh or per litre; emissions kg CO2e per kWh or per litre; CO2e price
    DKK per tonne; allowance DKK per km; ``slack_min`` minutes a vehicle needs between roundtrips.
    """

    el_udledning: float = 0.09
    benzin_udledning: float = 2.52
    diesel_udledning: float = 2.98
    hvo_udledning: float = 0.894
    pris_el: float = 2.13
    pris_benzin: float = 12.33
    pris_diesel: float = 10.83
    pris_hvo: float = 19.84
    vaerdisaetning_tons_co2: float = 1500.0
    allowance_low_km_rate: float = Field(default=3.7, description="DKK/km below distance_threshold km/yr")
    allowance_high_km_rate: float = Field(default=2.17, description="DKK/km above the threshold")
    distance_threshold: float = 20000.0
    undriven_fuel: Fuel = Fuel.PETROL
    undriven_wltp: float = 20.0
    slack_min: float = 0.0
    shifts: list[Shift] = Field(
        default_factory=lambda: [
            Shift(start=time(7), end=time(15)),
            Shift(start=time(15), end=time(23)),
            Shift(start=time(23), end=time(7)),
        ]
    )
    bike: BikeRules = Field(default_factory=BikeRules)
    ev_default_range_km: float = Field(default=250.0, description="range of an EV whose row leaves it empty")
    ev_default_sleep_h: float = Field(default=6.0, description="recharge standstill for an EV without one")
    charging_model: str = Field(
        default="km", pattern="^(sleep|km)$", description="'sleep': full after `sleep` h standing; 'km': linear rate"
    )
    charge_km_per_h: float = Field(default=50.0, gt=0, description="km of range regained per hour ('km')")
    shift_locking: bool = Field(default=False, description="a vehicle's trips in one shift stay together")


@dataclass
class Roundtrips:
    """Columnar roundtrips: one row per trip from and back to a home location.

    ``start``/``end`` are seconds since 1970 (UTC-naive local time, as FleetOptimiser stores it),
    ``distance`` km, ``location`` the home location id, ``vehicle`` the id of the vehicle that drove it.
    """

    id: np.ndarray
    start: np.ndarray
    end: np.ndarray
    distance: np.ndarray
    location: np.ndarray
    vehicle: np.ndarray
    driver: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))

    def __post_init__(self) -> None:
        n = len(self.id)
        if len(self.driver) != n:
            self.driver = np.full(n, "", dtype=object)
        for name in ("start", "end", "distance", "location", "vehicle"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"roundtrip column {name!r} has {len(getattr(self, name))} rows, expected {n}")

    def __len__(self) -> int:
        return len(self.id)

    def subset(self, mask: np.ndarray) -> Roundtrips:
        return Roundtrips(
            self.id[mask],
            self.start[mask],
            self.end[mask],
            self.distance[mask],
            self.location[mask],
            self.vehicle[mask],
            self.driver[mask],
        )

    @property
    def days(self) -> float:
        """Length of the observed period in days (at least one)."""
        if len(self) == 0:
            return 1.0
        first = np.floor(self.start.min() / 86400.0)
        last = np.ceil(self.end.max() / 86400.0)
        return float(max(1.0, last - first))

    def start_iso(self, i: int) -> str:
        return str(EPOCH + np.timedelta64(int(self.start[i]), "s"))

    def end_iso(self, i: int) -> str:
        return str(EPOCH + np.timedelta64(int(self.end[i]), "s"))


@dataclass
class Location:
    """A home location (FleetOptimiser's ``allowed_starts``)."""

    id: int
    address: str = ""
    latitude: float = 0.0
    longitude: float = 0.0


@dataclass
class Dataset:
    """Everything one optimisation needs: the fleet today, candidates, trips, locations, settings."""

    vehicles: list[Vehicle]
    roundtrips: Roundtrips
    settings: Settings = field(default_factory=Settings)
    locations: list[Location] = field(default_factory=list)
    name: str = ""

    @property
    def fleet(self) -> list[Vehicle]:
        """Today's fleet: every vehicle that is not a test (candidate) vehicle."""
        return [v for v in self.vehicles if not v.test_vehicle]

    @property
    def candidates(self) -> list[Vehicle]:
        return [v for v in self.vehicles if v.test_vehicle]
