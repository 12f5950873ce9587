"""All pipelines the agent knows. A new use case adds its config class to ``PipelineSpec``
and one entry to ``_CLASSES`` (``"module:Class"``, imported only when the pipeline runs)."""

from __future__ import annotations

import importlib
from typing import Annotated

from pydantic import Field

from edge.pipelines.base import Pipeline, PipelineConfig, PipelineContext
from edge.pipelines.energy import EnergyConfig
from edge.pipelines.falls import FallsConfig
from edge.pipelines.road import RoadConfig
from edge.pipelines.simulated import SimulatedConfig
from edge.pipelines.system import SystemConfig
from edge.pipelines.traffic import TrafficConfig

PipelineSpec = Annotated[
    SystemConfig | SimulatedConfig | RoadConfig | FallsConfig | TrafficConfig | EnergyConfig,
    Field(discriminator="type"),
]

_CLASSES: dict[str, str] = {
    "energy": "edge.pipelines.energy.pipeline:EnergyPipeline",
    "system": "edge.pipelines.system:SystemPipeline",
    "simulated": "edge.pipelines.simulated:SimulatedPipeline",
    "road": "edge.pipelines.road.pipeline:RoadPipeline",
    "falls": "edge.pipelines.falls.pipeline:FallsPipeline",
    "traffic": "edge.pipelines.traffic.pipeline:TrafficPipeline",
}


def pipeline_class(type_name: str) -> type[Pipeline]:
    module_name, _, attr = _CLASSES[type_name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


__all__ = ["Pipeline", "PipelineConfig", "PipelineContext", "PipelineSpec", "pipeline_class"]
