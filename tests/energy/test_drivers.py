"""Point drivers against real protocol servers: a pymodbus TCP server started here, and the test Mosquitto."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from edge.pipelines.energy.config import EnergyConfig, ModbusDriverConfig, MqttDriverConfig, Point
from edge.sources.building import ModbusDriver, MqttDriver, decode_payload, from_register, to_register


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ModbusServer:
    """A real pymodbus TCP server in a background event loop, holding a small BMS register table."""

    def __init__(self) -> None:
        from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext

        self.port = _free_port()
        inputs = [0] * 200
        inputs[10:13] = [214, 812, to_register(-6.3, 0.1)]  # class 1 at 21.4 °C and 812 ppm, -6.3 °C outside
        self.device = ModbusDeviceContext(
            hr=ModbusSequentialDataBlock(1, [0] * 200), ir=ModbusSequentialDataBlock(1, inputs)
        )
        self.context = ModbusServerContext(devices={3: self.device}, single=False)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.server = None

    def _serve(self) -> None:
        from pymodbus.server import ModbusTcpServer

        async def serve() -> None:
            self.server = ModbusTcpServer(self.context, address=("127.0.0.1", self.port))
            await self.server.serve_forever()

        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(serve())

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("pymodbus server did not start")

    def stop(self) -> None:
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.shutdown(), self.loop).result(10)
        self.thread.join(5)

    def holding(self, address: int) -> int:
        """Read back through the protocol with an independent client."""
        from pymodbus.client import ModbusTcpClient

        client = ModbusTcpClient("127.0.0.1", port=self.port)
        client.connect()
        try:
            return client.read_holding_registers(address, count=1, device_id=3).registers[0]
        finally:
            client.close()


@pytest.fixture
def modbus_server() -> Iterator[ModbusServer]:
    server = ModbusServer()
    server.start()
    yield server
    server.stop()


POINTS = [
    Point(name="class1.temp", kind="zone_temp", zone="class1", address="ir:10", scale=0.1),
    Point(name="class1.co2", kind="co2", zone="class1", address="ir:11"),
    Point(name="outdoor", kind="outdoor_temp", address="ir:12", scale=0.1),
    Point(name="class1.heat_sp", kind="heat_setpoint", zone="class1", address="hr:100", scale=0.1),
    Point(name="ahu1.vent", kind="vent_speed", zone="ahu1", address="hr:101", scale=0.01),
]


def test_register_conversion_is_signed_and_scaled() -> None:
    assert from_register(to_register(-7.5, 0.1), 0.1) == pytest.approx(-7.5)
    assert from_register(215, 0.1) == pytest.approx(21.5)
    with pytest.raises(ValueError):
        to_register(5000.0, 0.1)


def test_modbus_driver_reads_points_and_writes_setpoints(modbus_server: ModbusServer) -> None:
    driver = ModbusDriver(ModbusDriverConfig(host="127.0.0.1", port=modbus_server.port, unit=3), POINTS)
    try:
        values = driver.read()
        assert values["class1.temp"] == pytest.approx(21.4)
        assert values["class1.co2"] == pytest.approx(812)
        assert values["outdoor"] == pytest.approx(-6.3)
        driver.write("class1.heat_sp", 20.5)
        driver.write("ahu1.vent", 0.45)
        driver.commit()
        assert modbus_server.holding(100) == 205
        assert modbus_server.holding(101) == 45
        assert driver.read()["class1.heat_sp"] == pytest.approx(20.5)
    finally:
        driver.close()


def test_modbus_driver_returns_nothing_when_the_bms_is_unreachable() -> None:
    driver = ModbusDriver(ModbusDriverConfig(host="127.0.0.1", port=_free_port(), timeout_s=0.5), POINTS)
    assert driver.read() == {}
    driver.close()


def test_zigbee2mqtt_payloads_decode() -> None:
    assert decode_payload(b'{"temperature": 21.3, "occupancy": true}', "temperature") == 21.3
    assert decode_payload(b'{"temperature": 21.3, "occupancy": true}', "occupancy") == 1.0
    assert decode_payload(b"812", None) == 812.0
    assert decode_payload(b'{"battery": 90}', "co2") is None
    assert decode_payload(b"not json", None) is None


def test_config_requires_a_point_map_for_field_drivers() -> None:
    with pytest.raises(ValueError, match="point map"):
        EnergyConfig(building="school", driver=ModbusDriverConfig(host="bms.local"))


@pytest.mark.services
def test_mqtt_driver_follows_zigbee2mqtt_topics(mqtt_broker) -> None:
    import paho.mqtt.client as mqtt

    points = [
        Point(name="class1.temp", kind="zone_temp", zone="class1", address="z2m-test/class1-sensor#temperature"),
        Point(name="class1.pir", kind="occupancy", zone="class1", address="z2m-test/class1-sensor#occupancy"),
        Point(
            name="class1.heat_sp",
            kind="heat_setpoint",
            zone="class1",
            address="z2m-test/class1-trv#current_heating_setpoint",
        ),
    ]
    cfg = MqttDriverConfig(host=mqtt_broker.host, port=mqtt_broker.port)
    driver = MqttDriver(cfg, points, client_id="energy-driver-test")
    sent: list[tuple[str, bytes]] = []
    probe = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="energy-probe")
    probe.on_message = lambda c, u, m: sent.append((m.topic, m.payload))
    probe.connect(mqtt_broker.host, mqtt_broker.port)
    probe.subscribe("z2m-test/+/set", qos=1)
    probe.loop_start()
    try:
        deadline = time.monotonic() + 10
        while "class1.temp" not in driver.read() and time.monotonic() < deadline:
            probe.publish("z2m-test/class1-sensor", json.dumps({"temperature": 20.7, "occupancy": True}), qos=1)
            time.sleep(0.2)
        values = driver.read()
        assert values == {"class1.temp": 20.7, "class1.pir": 1.0}
        driver.write("class1.heat_sp", 21.0)
        driver.commit()
        while not sent and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sent == [("z2m-test/class1-trv/set", b'{"current_heating_setpoint": 21.0}')]
    finally:
        probe.loop_stop()
        probe.disconnect()
        driver.close()
