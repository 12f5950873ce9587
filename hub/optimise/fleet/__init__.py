"""Fleet optimisation: which vehicles a municipality needs, from its trip logs.

The public surface::

    data = read_dataset("path/to/fleetoptimiser-export")   # or dataset_from_json / synthetic.generate
    alloc = allocate(data.roundtrips, data.fleet, data.settings)   # exact, with bound and gap
    result = search_fleet(data)                                # Pareto front and recommendation
    scenario = run_scenario(data, replace=["AB12345"], by="cand-ev")
"""

from hub.optimise.fleet.allocation import Allocation, allocate
from hub.optimise.fleet.check import check_allocation
from hub.optimise.fleet.io import FleetDataError, dataset_from_json, read_dataset
from hub.optimise.fleet.model import Dataset, Roundtrips, Settings, Vehicle, VehicleKind
from hub.optimise.fleet.roundtrips import GpsTrip, HomeLocation, build_roundtrips
from hub.optimise.fleet.scenario import ScenarioResult, run_scenario
from hub.optimise.fleet.search import SearchResult, search_fleet
from hub.optimise.fleet.tco import FleetCost, fleet_tco

__all__ = [
    "Allocation",
    "Dataset",
    "FleetCost",
    "FleetDataError",
    "GpsTrip",
    "HomeLocation",
    "Roundtrips",
    "ScenarioResult",
    "SearchResult",
    "Settings",
    "Vehicle",
    "VehicleKind",
    "allocate",
    "build_roundtrips",
    "check_allocation",
    "dataset_from_json",
    "fleet_tco",
    "read_dataset",
    "run_scenario",
    "search_fleet",
]
