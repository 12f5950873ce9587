"""Building point drivers: MQTT (e.g. Zigbee2MQTT), Modbus TCP and the EnergyPlus simulation, behind one interface.

A driver reads the point map into ``{point name: value}`` and writes setpoints by point name. Values are in
engineering units (``scale`` applied). Missing or stale points are simply absent from a read.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from edge.pipelines.energy.config import ModbusDriverConfig, MqttDriverConfig, Point, SimulationDriverConfig
    from edge.sources.energyplus import ModelInfo, Step

log = logging.getLogger(__name__)


class BuildingDriver(Protocol):
    def read(self) -> dict[str, float]:
        """Current value of every point that has one."""
        ...

    def write(self, point: str, value: float) -> None:
        """Queue a setpoint for ``point``; ``commit`` sends what was queued this step."""
        ...

    def commit(self) -> None: ...

    def now(self) -> dt.datetime:
        """The building's clock (simulated time for the simulation driver)."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------- Modbus TCP
def parse_register(address: str) -> tuple[str, int]:
    """``hr:100`` → ("hr", 100); tables: hr holding, ir input, co coil, di discrete input."""
    table, _, number = address.partition(":")
    if table not in {"hr", "ir", "co", "di"} or not number.isdigit():
        raise ValueError(f"Modbus address {address!r} must look like hr:100, ir:30, co:5 or di:2")
    return table, int(number)


def from_register(raw: int, scale: float) -> float:
    """Signed 16-bit register to engineering units."""
    return (raw - 65536 if raw >= 32768 else raw) * scale


def to_register(value: float, scale: float) -> int:
    raw = round(value / scale)
    if not -32768 <= raw <= 32767:
        raise ValueError(f"{value} does not fit a 16-bit register at scale {scale}")
    return raw & 0xFFFF


class ModbusDriver:
    """Reads and writes single 16-bit registers over Modbus TCP (``pymodbus``)."""

    def __init__(self, cfg: ModbusDriverConfig, points: list[Point]) -> None:
        from pymodbus.client import ModbusTcpClient

        self.cfg = cfg
        self.points = {p.name: p for p in points}
        self.client = ModbusTcpClient(cfg.host, port=cfg.port, timeout=cfg.timeout_s)
        self._pending: dict[str, float] = {}

    def read(self) -> dict[str, float]:
        if not self.client.connected and not self.client.connect():
            log.warning("modbus unreachable", extra={"host": self.cfg.host, "port": self.cfg.port})
            return {}
        out: dict[str, float] = {}
        for name, p in self.points.items():
            table, number = parse_register(p.address)
            unit = {"device_id": self.cfg.unit}
            if table == "hr":
                rr = self.client.read_holding_registers(number, count=1, **unit)
            elif table == "ir":
                rr = self.client.read_input_registers(number, count=1, **unit)
            elif table == "co":
                rr = self.client.read_coils(number, count=1, **unit)
            else:
                rr = self.client.read_discrete_inputs(number, count=1, **unit)
            if rr.isError():
                continue
            out[name] = float(rr.bits[0]) if table in {"co", "di"} else from_register(rr.registers[0], p.scale)
        return out

    def write(self, point: str, value: float) -> None:
        self._pending[point] = value

    def commit(self) -> None:
        for name, value in self._pending.items():
            p = self.points[name]
            table, number = parse_register(p.address)
            if table == "hr":
                self.client.write_register(number, to_register(value, p.scale), device_id=self.cfg.unit)
            elif table == "co":
                self.client.write_coil(number, bool(value), device_id=self.cfg.unit)
            else:
                raise ValueError(f"point {name} at {p.address} is read-only")
        self._pending.clear()

    def now(self) -> dt.datetime:
        return dt.datetime.now()

    def close(self) -> None:
        self.client.close()


# ---------------------------------------------------------------------------------------------- MQTT
def split_topic(address: str) -> tuple[str, str | None]:
    """``zigbee2mqtt/class-1b#temperature`` → (topic, JSON field); no ``#`` means a plain number payload."""
    topic, _, field = address.partition("#")
    return topic, field or None


def decode_payload(payload: bytes, field: str | None) -> float | None:
    """A number from a Zigbee2MQTT-style JSON object or a plain numeric payload; booleans count 0/1."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if field is not None:
        if not isinstance(data, dict) or field not in data:
            return None
        data = data[field]
    if isinstance(data, bool):
        return 1.0 if data else 0.0
    return float(data) if isinstance(data, int | float) else None


class MqttDriver:
    """Subscribes to the points' topics and keeps the latest value; writes publish to ``<topic>/set``."""

    def __init__(self, cfg: MqttDriverConfig, points: list[Point], client_id: str) -> None:
        import paho.mqtt.client as mqtt

        self.cfg = cfg
        self.points = points
        self._latest: dict[str, tuple[float, float]] = {}
        self._by_topic: dict[str, list[Point]] = {}
        for p in points:
            self._by_topic.setdefault(split_topic(p.address)[0], []).append(p)
        self._pending: dict[str, float] = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect_async(cfg.host, cfg.port)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason, properties=None) -> None:
        for topic in self._by_topic:
            client.subscribe(topic, qos=1)

    def _on_message(self, client, userdata, msg) -> None:
        for p in self._by_topic.get(msg.topic, []):
            value = decode_payload(msg.payload, split_topic(p.address)[1])
            if value is not None:
                self._latest[p.name] = (value * p.scale, time.monotonic())

    def read(self) -> dict[str, float]:
        now = time.monotonic()
        return {n: v for n, (v, t) in self._latest.items() if now - t <= self.cfg.stale_s}

    def write(self, point: str, value: float) -> None:
        self._pending[point] = value

    def commit(self) -> None:
        by_name = {p.name: p for p in self.points}
        for name, value in self._pending.items():
            p = by_name[name]
            topic, field = split_topic(p.address)
            raw = value / p.scale
            payload = json.dumps({field: raw} if field else raw)
            self.client.publish(f"{topic}/set", payload, qos=1)
        self._pending.clear()

    def now(self) -> dt.datetime:
        return dt.datetime.now()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


# ---------------------------------------------------------------------------------------------- EnergyPlus
class SimulationDriver:
    """EnergyPlus in a background thread, in lock-step with the agent: each ``read`` returns the next zone
    timestep, each ``commit`` releases the simulation with the setpoints written since."""

    def __init__(self, cfg: SimulationDriverConfig, data_dir: str | None = None) -> None:
        from edge.pipelines.energy import testbed as tb
        from models.registry import data_dir as default_data_dir

        self.cfg = cfg
        weather = tb.read_weather(
            cfg.weather, default_data_dir() if data_dir is None else __import__("pathlib").Path(data_dir)
        )
        start = dt.date.fromisoformat(cfg.start)
        self.scenario = tb.Scenario("agent", start, days=cfg.days)
        self._steps: queue.Queue[tuple[Step, ModelInfo] | None] = queue.Queue(maxsize=1)
        self._actions: queue.Queue[object] = queue.Queue(maxsize=1)
        self._pending: dict[str, float] = {}
        self._step: Step | None = None
        self.info: ModelInfo | None = None
        self.finished = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(tb, weather), name="energyplus", daemon=True)
        self._thread.start()

    def _run(self, tb, weather) -> None:
        from edge.sources.energyplus import Actions, Testbed

        def control(step: Step, info: ModelInfo) -> Actions:
            if self._closing.is_set():
                return Actions()
            self._steps.put((step, info))
            got = self._actions.get()
            return got if isinstance(got, Actions) else Actions()

        try:
            Testbed(self.cfg.building, weather, self.scenario.period()).run(control)
        finally:
            self.finished.set()
            self._steps.put(None)

    def read(self) -> dict[str, float]:
        item = self._steps.get(timeout=600)
        if item is None:
            self._step = None
            return {}
        self._step, self.info = item
        return sim_points(self._step, self.info)

    def write(self, point: str, value: float) -> None:
        self._pending[point] = value

    def commit(self) -> None:
        if self._step is None or self.info is None:
            return
        self._actions.put(sim_actions(self._pending, self._step, self.info, self.cfg.switchable_plug_fraction))
        self._pending = {}

    def now(self) -> dt.datetime:
        return self._step.when if self._step else dt.datetime.combine(self.scenario.start, dt.time())

    def close(self) -> None:
        self._closing.set()
        if self._step is not None and self._actions.empty():
            self._actions.put(None)
        while not self.finished.is_set():
            try:
                self._steps.get(timeout=0.1)
                self._actions.put_nowait(None)
            except (queue.Empty, queue.Full):
                pass


def sim_points(step: Step, info: ModelInfo) -> dict[str, float]:
    """The simulated building's readings under the derived point map."""
    from edge.pipelines.energy.testbed import to_sample

    sample = to_sample(step)
    out: dict[str, float] = {"building.outdoor_temp": step.outdoor_c}
    for z in info.zones:
        out[f"{z}.temp"] = step.zone_temp_c[z]
        out[f"{z}.co2"] = step.zone_co2_ppm[z]
        out[f"{z}.occupancy"] = step.zone_occupants[z]
        out[f"{z}.heat_sp"] = step.zone_heat_sp_c[z]
    for ahu in info.ahus:
        design = info.ahu_oa_design_kg_s.get(ahu) or 1.0
        out[f"{ahu}.vent"] = step.ahu_oa_kg_s[ahu] / design
        out[f"{ahu}.supply_air"] = step.ahu_supply_c[ahu]
    out["building.electricity_kw"] = sample.electricity_kwh / step.step_h
    out["building.heat_kw"] = sample.heat_kwh / step.step_h
    per_kw = 1.0 / (3.6e6 * step.step_h)
    out["building.fan_kw"] = step.meters_j["Fans:Electricity"] * per_kw
    out["building.cooling_kw"] = step.meters_j["Cooling:Electricity"] * per_kw
    out["building.dhw_kw"] = step.meters_j["WaterSystems:NaturalGas"] * per_kw
    return out


def sim_actions(writes: dict[str, float], step: Step, info: ModelInfo, switchable_plug_fraction: float = 0.5) -> object:
    """Point writes → EnergyPlus actuators. ``<ahu>.vent`` = outdoor-air fraction of design (0 lets the unit's own
    thermostat cycle the fan); ``<zone>.lights_cap`` caps lighting; ``building.standby_cut`` (relay 0/1) switches off
    the plug circuits that are on switchable relays (``switchable_plug_fraction`` of the plug load)."""
    from edge.sources.energyplus import Actions, box_min_schedule, fan_schedule, min_oa_schedule, sat_schedule

    a = Actions()
    for point, value in writes.items():
        target, _, what = point.rpartition(".")
        if what == "heat_sp":
            a.heat_sp_c[target] = value
        elif what == "cool_sp":
            a.cool_sp_c[target] = value
        elif what == "vent" and target in info.box_min_fraction:
            # a room's VAV box: minimum flow as a multiple of its design minimum (capped at the box maximum)
            a.schedules[box_min_schedule(target)] = min(info.box_min_fraction[target] * max(value, 0.0), 1.0)
        elif what == "supply_air" and target in info.sat_ahus:
            a.schedules[sat_schedule(target)] = value
        elif what == "vent":
            # DCV resets the unit's minimum outdoor air (its economiser stays free to add more for free cooling);
            # only a boost above design fixes the flow. 0 hands the fan back to the unit's own heat cycling.
            a.schedules[fan_schedule(target)] = 1.0 if value > 0 else 0.0
            a.schedules[min_oa_schedule(target)] = min(max(value, 0.0), 1.0)
            a.oa_kg_s[target] = value * info.ahu_oa_design_kg_s.get(target, 0.0) if value > 1.0 else None
        elif what == "lights_cap":
            for name, (zone, sch, design_w) in info.lights.items():
                if zone == target:
                    cap = design_w * min(step.schedule_values.get(sch, 0.0), value)
                    a.lights_w[name] = None if value >= 1.0 else cap
        elif what == "standby_cut":
            for name, (_zone, sch, design_w) in info.equipment.items():
                cut = design_w * step.schedule_values.get(sch, 0.0) * (1 - switchable_plug_fraction)
                a.equipment_w[name] = cut if value else None
    return a
