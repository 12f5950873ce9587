"""Typed inputs and results of the home-care route planner (visits, carers, weights, plans).

All clock times are minutes after midnight of the plan day; all durations are minutes;
coordinates are kilometres on a local plane (``coordinates="plane_km"``) or WGS84 degrees
(``coordinates="wgs84"``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

TransportMode = Literal["car", "bike", "walk"]


class Location(BaseModel):
    """A place: coordinates and, when the municipality supplies a matrix, its row in it.

    Parameters
    ----------
    x
        Easting in km (``plane_km``) or longitude in degrees (``wgs84``).
    y
        Northing in km (``plane_km``) or latitude in degrees (``wgs84``).
    matrix_index
        Row/column of this place in :attr:`Problem.travel_minutes`; required when a matrix is given.
    """

    x: float = 0.0
    y: float = 0.0
    matrix_index: int | None = None


class DoubleVisit(BaseModel):
    """A visit that needs a second carer.

    Parameters
    ----------
    mode
        ``"simultaneous"``: both carers start together (e.g. a hoist transfer).
        ``"sequential"``: the second carer starts between ``min_gap`` and ``max_gap`` minutes
        after the first.
    min_gap, max_gap
        Minutes between the two starts for ``"sequential"``; ignored for ``"simultaneous"``.
    second_skill
        Skill the second carer needs; ``None`` means the visit's own skill.
    second_duration
        Minutes the second carer spends; ``None`` means the visit's duration.
    """

    mode: Literal["simultaneous", "sequential"] = "simultaneous"
    min_gap: float = 0.0
    max_gap: float = 0.0
    second_skill: str | None = None
    second_duration: float | None = None

    @model_validator(mode="after")
    def _gaps_ordered(self) -> DoubleVisit:
        if self.mode == "sequential" and self.max_gap < self.min_gap:
            raise ValueError("max_gap must be at least min_gap")
        return self


class Visit(BaseModel):
    """One visit to a citizen on the plan day.

    Parameters
    ----------
    id
        Unique visit id.
    citizen_id
        The citizen visited; continuity KPIs group visits by it.
    location
        Where the visit happens.
    window_start, window_end
        Earliest and latest start of the visit, minutes after midnight.
    duration
        Minutes with the citizen.
    skill
        Skill or service the carer needs (e.g. ``"nurse"``); ``None`` means any carer.
    priority
        1 (normal) and up; the unassigned penalty is multiplied by it.
    mandatory
        If true the plan must contain the visit (the solver never drops it).
    double
        Present when a second carer is needed.
    preferred_carers
        Carer ids the citizen knows (preferred or recent); any other carer costs
        :attr:`Weights.continuity`.
    demand
        Generic load (e.g. for capacity-limited benchmarks); 0 for home care.
    """

    id: str
    citizen_id: str = ""
    location: Location
    window_start: float = 0.0
    window_end: float = 24 * 60.0
    duration: float = 0.0
    skill: str | None = None
    priority: int = Field(default=1, ge=1)
    mandatory: bool = False
    double: DoubleVisit | None = None
    preferred_carers: list[str] = Field(default_factory=list)
    demand: int = 0

    @model_validator(mode="after")
    def _window_ordered(self) -> Visit:
        if self.window_end < self.window_start:
            raise ValueError(f"visit {self.id}: window_end before window_start")
        if not self.citizen_id:
            self.citizen_id = self.id
        return self


class Break(BaseModel):
    """A break the carer must take during the shift.

    Parameters
    ----------
    earliest_start, latest_start
        Window for the break's start, minutes after midnight.
    duration
        Minutes. The break is taken where the carer is (after a visit or before leaving).
    """

    earliest_start: float
    latest_start: float
    duration: float


class Carer(BaseModel):
    """A carer (one route) for the plan day.

    Parameters
    ----------
    id
        Unique carer id.
    shift_start, shift_end
        Earliest departure from and latest return to ``start_location``, minutes after midnight.
    start_location
        Home or office where the shift starts.
    end_location
        Where the shift ends; ``None`` means ``start_location``.
    skills
        Skills the carer has; a visit with ``skill=None`` may go to anyone.
    breaks
        Breaks to schedule.
    max_work
        Maximum minutes from departure to return; ``None`` means the shift length.
    transport
        ``car``, ``bike`` or ``walk``; picks the speed in :class:`TravelSettings`.
    capacity
        Generic capacity for ``Visit.demand``; ``None`` means unlimited.
    """

    id: str
    shift_start: float = 0.0
    shift_end: float = 24 * 60.0
    start_location: Location
    end_location: Location | None = None
    skills: list[str] = Field(default_factory=list)
    breaks: list[Break] = Field(default_factory=list)
    max_work: float | None = None
    transport: TransportMode = "car"
    capacity: int | None = None


class TravelSettings(BaseModel):
    """Straight-line travel model used when no matrix is supplied.

    Parameters
    ----------
    road_factor
        Road distance divided by straight-line distance.
    speed_kmh
        Average door-to-door speed per transport mode, km/h.
    """

    road_factor: float = 1.3
    speed_kmh: dict[str, float] = Field(default_factory=lambda: {"car": 35.0, "bike": 15.0, "walk": 5.0})


class Weights(BaseModel):
    """Objective weights, in cost units per minute of travel (the default unit of cost).

    Parameters
    ----------
    travel
        Cost per minute of travel.
    distance
        Cost per km travelled (0: travel time only).
    unassigned
        Cost per unassigned visit, multiplied by its priority.
    lateness
        Cost per minute a visit starts after ``window_end``. ``None`` (default) makes windows
        hard; a number makes them soft and switches to the OR-Tools engine.
    continuity
        Cost per visit done by a carer outside the visit's ``preferred_carers``.
    max_lateness
        Cost per minute of the day's largest lateness (soft windows only; the Mankowska
        benchmark's objective counts it once). Default 0.
    """

    travel: float = 1.0
    distance: float = 0.0
    unassigned: float = 600.0
    lateness: float | None = None
    continuity: float = 15.0
    max_lateness: float = 0.0


class Problem(BaseModel):
    """One day's planning problem.

    Parameters
    ----------
    day
        Free label, e.g. an ISO date.
    visits, carers
        What to plan and who does it.
    coordinates
        ``plane_km`` (x, y in km) or ``wgs84`` (lon, lat degrees, haversine).
    travel
        Straight-line model, used when ``travel_minutes`` is absent.
    travel_minutes
        Optional square matrix of travel minutes between ``Location.matrix_index`` rows
        (one matrix for all modes).
    distance_km
        Optional matrix of km for the distance weight and KPIs; derived from travel when absent.
    weights
        Objective weights.
    """

    day: str = ""
    visits: list[Visit]
    carers: list[Carer]
    coordinates: Literal["plane_km", "wgs84"] = "plane_km"
    travel: TravelSettings = Field(default_factory=TravelSettings)
    travel_minutes: list[list[float]] | None = None
    distance_km: list[list[float]] | None = None
    weights: Weights = Field(default_factory=Weights)

    @model_validator(mode="after")
    def _ids_unique(self) -> Problem:
        for name, items in (("visit", self.visits), ("carer", self.carers)):
            ids = [i.id for i in items]
            if len(ids) != len(set(ids)):
                raise ValueError(f"duplicate {name} ids")
        if self.travel_minutes is not None:
            size = len(self.travel_minutes)
            places = [v.location for v in self.visits] + [c.start_location for c in self.carers]
            places += [c.end_location for c in self.carers if c.end_location is not None]
            for place in places:
                if place.matrix_index is None or not 0 <= place.matrix_index < size:
                    raise ValueError("with travel_minutes every location needs a valid matrix_index")
        return self


class Stop(BaseModel):
    """One scheduled stop on a carer's route.

    ``kind`` is ``visit`` or ``break``; ``part`` is 0 for the first (or only) carer of a visit and
    1 for the second carer of a double visit. Times are minutes after midnight. A break with
    ``after_travel`` is taken at the next visit's place (the carer drives there first and breaks
    while waiting); otherwise where the carer already is.
    """

    kind: Literal["visit", "break"] = "visit"
    visit_id: str | None = None
    citizen_id: str | None = None
    part: int = 0
    arrival: float
    start: float
    end: float
    travel_before: float = 0.0
    lateness: float = 0.0
    after_travel: bool = False


class Route(BaseModel):
    """A carer's day: departure, stops and return."""

    carer_id: str
    departure: float
    return_time: float
    stops: list[Stop] = Field(default_factory=list)
    travel_minutes: float = 0.0
    distance_km: float = 0.0


class Kpis(BaseModel):
    """Plan figures for planners (times in minutes).

    ``care_share`` is minutes with citizens divided by paid minutes on routes (departure to
    return); ``distinct_carers_per_citizen`` and ``top_carer_share`` measure continuity.
    """

    visits: int = 0
    assigned: int = 0
    unassigned: int = 0
    travel_minutes: float = 0.0
    distance_km: float = 0.0
    care_minutes: float = 0.0
    care_share: float = 0.0
    total_lateness: float = 0.0
    max_lateness: float = 0.0
    late_visits: int = 0
    routes_used: int = 0
    non_preferred_visits: int = 0
    distinct_carers_per_citizen: float = 0.0
    top_carer_share: float = 0.0


class Plan(BaseModel):
    """A day plan: one route per used carer, the unassigned visits and KPIs."""

    day: str = ""
    routes: list[Route] = Field(default_factory=list)
    unassigned: list[str] = Field(default_factory=list)
    kpis: Kpis = Field(default_factory=Kpis)
    objective: float = 0.0
    engine: str = ""
    runtime_s: float = 0.0

    def assignment(self) -> dict[tuple[str, int], str]:
        """Map ``(visit_id, part)`` to the carer id that does it."""
        return {
            (s.visit_id, s.part): r.carer_id
            for r in self.routes
            for s in r.stops
            if s.kind == "visit" and s.visit_id is not None
        }
