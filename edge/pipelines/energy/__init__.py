"""Building energy use case: sensor agent, demand-driven control, fault hunting and savings verification.

Importing this package stays light (pydantic only); EnergyPlus, pymodbus and paho load when the pipeline runs.
"""

from edge.pipelines.energy.config import EnergyConfig

__all__ = ["EnergyConfig"]
