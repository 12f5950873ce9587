"""Road-damage work orders: clustering, priority/SLA, contractor areas, dispatch, export and verification."""

from hub.workorders.areas import ContractorArea, area_for, load_areas, parse_areas
from hub.workorders.book import ACTIVE, CLOSED, ClusterSettings, WorkOrderBook, ground_distance_m
from hub.workorders.rules import Priority, priority_for

__all__ = [
    "ACTIVE",
    "CLOSED",
    "ClusterSettings",
    "ContractorArea",
    "Priority",
    "WorkOrderBook",
    "area_for",
    "ground_distance_m",
    "load_areas",
    "parse_areas",
    "priority_for",
]
