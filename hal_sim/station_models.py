"""The chip and device models behind the station-level wires, added to a ``SimWiring``
from the station's configuration: TMP117, ADXL345, HD44780 LCD (PCF8574) and PCA9685
models on the simulated I2C buses, the ADS1115 reading an RDC-DD's analog output or the
PE monitor's, a Bender isoCHA425HV per IMD on its simulated Modbus bus, and a modem peer
behind a pty for the modem's serial port. The circuits that drive pins from them are in
:mod:`hal_sim.station_circuits`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from drivers.params import normalise_port
from hal_sim.fake_smbus import FakeSMBus, I2CDeviceModel
from hal_sim.i2c_models import Adxl345Model, Hd44780Model, Pca9685Model, Tmp117Model
from hal_sim.imd_sim import BenderModel
from hal_sim.modem_sim import ModemPeer

if TYPE_CHECKING:
    from hal_sim.sim_wiring import SimWiring

log = logging.getLogger(__name__)

# (role, driver) of a station device -> the chip model at its I2C address
_STATION_CHIPS: dict[tuple[str, str], type[Any]] = {
    ("temperature", "tmp117"): Tmp117Model,
    ("tilt", "adxl345"): Adxl345Model,
    ("display", "hd44780"): Hd44780Model,
}


def i2c_bus_of(wiring: SimWiring, params: Mapping[str, Any]) -> FakeSMBus | None:
    """The simulated bus a driver section's ``bus`` names (None: not an I2C bus)."""
    name = params.get("bus")
    for bus in wiring.config.buses.values():
        if bus.kind == "i2c" and bus.name == name:
            return wiring.smbus(int(bus.params["bus"]))
    return None


def chip_at(wiring: SimWiring, params: Mapping[str, Any]) -> I2CDeviceModel | None:
    """The model at the section's ``bus`` / ``address``, if there is one."""
    smbus = i2c_bus_of(wiring, params)
    return None if smbus is None else smbus.device(int(params["address"]))


def _add_chip(wiring: SimWiring, params: Mapping[str, Any], model: I2CDeviceModel) -> None:
    smbus = i2c_bus_of(wiring, params)
    if smbus is None:
        log.warning("no I2C bus %r configured: chip not simulated", params.get("bus"))
        return
    if smbus.device(int(params["address"])) is None:
        smbus.add_device(int(params["address"]), model)


def add_station_models(wiring: SimWiring) -> None:
    """Put a model behind every configured station-level device and connector extra."""
    config = wiring.config
    for role, device in config.devices.items():
        chip = _STATION_CHIPS.get((role, device.driver))
        if chip is not None:
            _add_chip(wiring, device.params, chip())
        elif role == "pe_monitor" and device.driver == "ads1115":
            wiring.adc(device.params)  # the PE front end's ADC (hal_sim.pe_sim drives it)
        elif role == "modem" and device.driver == "at":
            wiring.serial_peers[normalise_port(device.params["port"])] = ModemPeer()
    for connector in config.connectors:
        led = connector.devices.get("led")
        if led is not None and led.driver == "pca9685":
            _add_chip(wiring, led.params, Pca9685Model())
        rcd = connector.devices.get("rcd")
        if rcd is not None and rcd.driver == "rdc_dd":
            wiring.adc(rcd.params)
        imd = connector.devices.get("imd")
        if imd is not None and imd.driver == "bender_isocha425":
            model = BenderModel(connector.id, lambda: wiring.extras.get("world"))
            wiring._add_modbus_device(imd.params["bus"], imd.params["address"], model)
