"""Time-series stores behind one interface: InfluxDB (v1 HTTP API, or v2 with a token) and embedded SQLite."""

from hub.store.base import Point, StoreError, TimeSeriesStore, points_from_message
from hub.store.factory import make_store

__all__ = ["Point", "StoreError", "TimeSeriesStore", "make_store", "points_from_message"]
