"""Traffic counting on lamp posts: detect → track → count crossings and zone occupancy; only counts leave.

Importing this package loads the config only; the pipeline (OpenCV, model runtimes) lives in
``edge.pipelines.traffic.pipeline`` and is imported when it runs.
"""

from edge.pipelines.traffic.config import TrafficConfig

__all__ = ["TrafficConfig"]
