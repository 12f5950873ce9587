"""Care-home fall alerts on the device: room model, event state machines and the pipeline.

Importing this package stays light (pydantic only); the pipeline's camera and model load in ``run``.
"""

from edge.pipelines.falls.config import FallsConfig

__all__ = ["FallsConfig"]
