"""The simulated bottom-most I/O of one station (a :class:`drivers.wiring.Wiring`).

Built from the station's configuration, it holds the simulated wires the real drivers
run on: a :class:`SimPinFactory`, a :class:`FakeSMBus` per I2C bus with an ADS1115 model
at every configured pilot address, a pymodbus server per Modbus bus (RTU behind a pty,
TCP on loopback) with an SDM630 or Acrel DC meter model per configured meter, python-can
virtual buses named per station with simulated power modules on the power-module pool's
bus (:mod:`hal_sim.can_stacks`), and a :class:`FakeClf` NFC reader. The station
devices' models (TMP117, ADXL345, LCD, PCA9685, an RDC-DD's ADC, Bender IMDs on the
Modbus buses, a modem peer behind a pty for the modem's port) come from
:mod:`hal_sim.station_models`; a liquid-cooled DC cable's sensor amplifiers and cooling
unit (``cables`` / ``coolers`` by connector) from :mod:`hal_sim.cable_sim`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drivers.params import normalise_port
from firmware.config.model import BusConfig, StationConfig
from hal_sim.acrel_sim import AcrelModel
from hal_sim.cable_sim import CableCircuit, CoolerModel
from hal_sim.fake_smbus import Ads1115Model, FakeSMBus
from hal_sim.modbus_sim import ModbusDeviceModel, ModbusRtuSim, ModbusTcpSim, Sdm630Model
from hal_sim.modem_sim import ModemPeer
from hal_sim.nfc_sim import FakeClf
from hal_sim.pins import SimPinFactory

if TYPE_CHECKING:
    from hal_sim.can_stacks import CanStackSim

logger = logging.getLogger(__name__)


def find_bus(config: StationConfig, kind: str, name: str) -> BusConfig | None:
    """The configured bus ``[buses.<kind>.<name>]``, if there is one."""
    for bus in config.buses.values():
        if bus.kind == kind and bus.name == name:
            return bus
    return None


class SimWiring:
    """Simulated wiring of one station. ``await start()`` before the drivers start (it
    starts the Modbus servers), ``await stop()`` after they are closed.

    ``extras`` is where simulation parts find each other (the world model registers
    itself as ``extras["world"]``); ``station_id`` names the virtual CAN channels.
    """

    def __init__(self, config: StationConfig) -> None:
        self.config = config
        self.station_id = config.identity.charge_point_id
        self.extras: dict[str, object] = {}
        self.pins = SimPinFactory()
        self.nfc = FakeClf()
        self._smbuses: dict[int, FakeSMBus] = {}
        self._rtu: dict[str, ModbusRtuSim] = {}  # by bus name
        self._tcp: dict[str, ModbusTcpSim] = {}
        self._modbus_models: dict[tuple[str, int], ModbusDeviceModel] = {}
        self._tcp_overrides: dict[tuple[str, int], tuple[str, int]] = {}
        self._can_stacks: dict[str, CanStackSim] = {}  # simulated power modules by CAN bus
        # far ends of simulated serial lines other than Modbus (the modem), by device path
        self.serial_peers: dict[str, ModemPeer] = {}
        # a liquid-cooled DC cable's contact sensors and cooling unit, by connector id
        self.cables: dict[int, CableCircuit] = {}
        self.coolers: dict[int, CoolerModel] = {}
        self._cable_tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._build()

    def _build(self) -> None:
        for bus in self.config.buses.values():
            if bus.kind == "i2c":
                self.smbus(int(bus.params["bus"]))
            elif bus.kind == "modbus" and bus.driver == "rtu":
                self._rtu[bus.name] = ModbusRtuSim(
                    baudrate=int(bus.params.get("baudrate", 9600)),
                    parity=str(bus.params.get("parity", "N")),
                    stopbits=int(bus.params.get("stopbits", 1)),
                )
            elif bus.kind == "modbus" and bus.driver == "tcp":
                self._tcp[bus.name] = ModbusTcpSim()
        for connector in self.config.connectors:
            pilot = connector.devices.get("pilot")
            if pilot is not None and pilot.driver == "ads1115":
                self.adc(pilot.params)
            meter = connector.devices.get("meter")
            if meter is not None and meter.driver == "sdm630":
                self._add_modbus_device(meter.params["bus"], meter.params["address"], Sdm630Model())
            if meter is not None and meter.driver == "acrel_djsf1352":
                self._add_modbus_device(meter.params["bus"], meter.params["address"],
                                        AcrelModel(connector.id, self._world,
                                                   float(meter.params["energy_unit_wh"])))
        self._build_cables()
        self._build_power_modules()
        from hal_sim.station_models import add_station_models  # late: it imports this one

        add_station_models(self)

    def _build_cables(self) -> None:
        """The cable sensors' amplifiers on their ADS1115 (the pilot's, or one of their
        own) and the cooling units on their Modbus buses."""
        for connector in self.config.connectors:
            cable = connector.devices.get("cable")
            if cable is not None and cable.driver == "pt1000_ads1115":
                adc = self.adc(cable.params)
                if adc is not None:
                    self.cables[connector.id] = CableCircuit(
                        connector.id, cable.params, adc, self._world)
            cooler = connector.devices.get("cooler")
            if cooler is not None and cooler.driver == "modbus":
                model = CoolerModel(connector.id, self._world)
                self._add_modbus_device(cooler.params["bus"], cooler.params["address"], model)
                self.coolers[connector.id] = model

    def _build_power_modules(self) -> None:
        pool = self.config.devices.get("power_modules")
        if pool is None or pool.driver != "infypower":
            return
        bus = find_bus(self.config, "can", pool.params["bus"])
        if bus is None:
            return
        from hal_sim.can_stacks import CanStackSim, modules_from_config  # late: imports can

        self._can_stacks[bus.name] = CanStackSim(
            self.can_channel(str(bus.params["channel"])),
            modules_from_config(self.config, pool),
            self._world,
            controller=int(pool.params.get("controller_address", 0xF0)),
        )

    def _world(self) -> Any:
        return self.extras.get("world")

    def _add_modbus_device(self, bus_name: str, device_id: int, model: ModbusDeviceModel) -> None:
        sim = self._rtu.get(bus_name) or self._tcp.get(bus_name)
        if sim is None:
            logger.warning("no Modbus bus %r configured: device %d not simulated", bus_name,
                           device_id)
            return
        sim.add_device(device_id, model)
        self._modbus_models[(bus_name, device_id)] = model

    # ------------------------------------------------------------ simulation side

    async def start(self) -> None:
        """Start the simulated Modbus servers."""
        if self._started:
            return
        self._started = True
        for rtu in self._rtu.values():
            await rtu.start()
        for tcp in self._tcp.values():
            await tcp.start()
        for stacks in self._can_stacks.values():
            await stacks.start()
        for peer in self.serial_peers.values():
            await peer.start()
        self._cable_tasks = [asyncio.create_task(c.run()) for c in self.cables.values()]

    async def stop(self) -> None:
        for task in self._cable_tasks:
            task.cancel()
        for task in self._cable_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._cable_tasks = []
        for sim in [*self._rtu.values(), *self._tcp.values()]:
            await sim.stop()
        for stacks in self._can_stacks.values():
            await stacks.stop()
        for peer in self.serial_peers.values():
            await peer.stop()
        self._started = False

    def smbus(self, bus: int) -> FakeSMBus:
        """The simulated I2C bus ``bus`` (created empty if not configured)."""
        if bus not in self._smbuses:
            self._smbuses[bus] = FakeSMBus(bus)
        return self._smbuses[bus]

    def adc(self, params: Mapping[str, Any]) -> Ads1115Model | None:
        """The ADS1115 at a driver section's ``bus`` / ``address``, put there by the
        first of its users (several drivers may read inputs of one chip); None when the
        section names no I2C bus or another chip sits at the address."""
        bus = find_bus(self.config, "i2c", str(params.get("bus", "")))
        if bus is None:
            return None
        smbus = self.smbus(int(bus.params["bus"]))
        address = int(params["address"])
        if smbus.device(address) is None:
            smbus.add_device(address, Ads1115Model())
        chip = smbus.device(address)
        return chip if isinstance(chip, Ads1115Model) else None

    def modbus_device(self, bus_name: str, device_id: int) -> ModbusDeviceModel | None:
        return self._modbus_models.get((bus_name, device_id))

    def meter_model(self, bus_name: str, device_id: int) -> Sdm630Model | None:
        """The SDM630 model at ``device_id`` on the Modbus bus named ``bus_name``."""
        model = self._modbus_models.get((bus_name, device_id))
        return model if isinstance(model, Sdm630Model) else None

    def can_stacks(self, bus_name: str) -> CanStackSim | None:
        """The simulated power modules on the CAN bus named ``bus_name``."""
        return self._can_stacks.get(bus_name)

    def can_channel(self, channel: str) -> str:
        """The virtual CAN channel standing for ``channel`` of this station."""
        return f"{self.station_id}-{channel}"

    def set_tcp_override(self, host: str, port: int, target: tuple[str, int]) -> None:
        """Route connections to ``host:port`` to ``target`` (e.g. a network-cut proxy)."""
        self._tcp_overrides[(host, port)] = target

    # ------------------------------------------------------------ Wiring

    def pin_factory(self) -> SimPinFactory:
        return self.pins

    def open_smbus(self, bus: int) -> FakeSMBus:
        return self.smbus(bus)

    def serial_port(self, port: str) -> str:
        peer = self.serial_peers.get(normalise_port(port))
        if peer is not None:
            if not peer.path:
                raise RuntimeError("SimWiring.start() must run before the drivers start")
            return peer.path
        for name, rtu in self._rtu.items():
            bus = find_bus(self.config, "modbus", name)
            if bus is not None and bus.params.get("port") == port:
                if not rtu.path:
                    raise RuntimeError("SimWiring.start() must run before the drivers start")
                return rtu.path
        logger.warning("serial port %s is not simulated", port)
        return port

    def tcp_endpoint(self, host: str, port: int) -> tuple[str, int]:
        override = self._tcp_overrides.get((host, port))
        if override is not None:
            return override
        for name, tcp in self._tcp.items():
            bus = find_bus(self.config, "modbus", name)
            if bus is not None and (bus.params.get("host"), bus.params.get("port", 502)) == (
                host,
                port,
            ):
                if tcp.server is None:
                    raise RuntimeError("SimWiring.start() must run before the drivers start")
                return tcp.address
        return host, port

    def can_bus(self, interface: str, channel: str, bitrate: int) -> Any:
        import can  # late: only stations with CAN devices need it

        return can.Bus(interface="virtual", channel=self.can_channel(channel))

    def open_nfc(self, device: str) -> FakeClf:
        return self.nfc.open(device)
