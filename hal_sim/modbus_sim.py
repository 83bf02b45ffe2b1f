"""Simulated Modbus buses: device models served by pymodbus servers.

* :class:`Sdm630Model`: an Eastron SDM630's input registers (float32, high word first).
* :class:`ModbusTcpSim`: a pymodbus ``ModbusTcpServer`` on 127.0.0.1 (ephemeral port).
* :class:`ModbusRtuSim`: a pymodbus ``ModbusSerialServer`` on one pty, bridged to a
  second pty whose path the firmware's serial client opens, like two ends of an RS-485
  line (a single pty has only one openable end, and pyserial needs a path). Buses with
  parity E/O get a loopback ``socket://`` line end instead (ptys cannot do parity).

Every device id on a bus is one model. ``model.silent = True`` makes that device not
answer at all (the request is dropped, the client times out), and ids without a model
stay silent too, as on a real RS-485 line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import threading
import tty
from collections.abc import Mapping
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.base import ModbusBaseServer
from pymodbus.simulator import DataType, SimData, SimDevice
from pymodbus.simulator.simdevice import SimAction

logger = logging.getLogger(__name__)

_REGISTER_SPACE = 400  # SDM630 input registers used here all lie below 0x190


class ModbusDeviceModel:
    """A device on a simulated bus: a register map (``registers()``) and ``silent``.

    ``register_space``: addresses 0 .. register_space - 1 exist; others answer with an
    illegal-address exception, as on the real device."""

    register_space: int = _REGISTER_SPACE

    def __init__(self) -> None:
        self.silent = False
        self.requests = 0
        self.writes: list[tuple[int, list[int]]] = []

    def registers(self) -> Mapping[int, int]:
        """Current register values by address (FC3 and FC4 share this map)."""
        return {}

    def write(self, address: int, values: list[int]) -> None:
        """A master wrote holding registers (FC6 / FC16)."""
        self.writes.append((address, list(values)))


def _float_regs(value: float) -> tuple[int, int]:
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return high, low


@dataclass
class Sdm630State:
    voltage_v: tuple[float, float, float] = (230.0, 230.0, 230.0)
    current_a: tuple[float, float, float] = (0.0, 0.0, 0.0)
    power_phase_w: tuple[float, float, float] = (0.0, 0.0, 0.0)
    power_w: float = 0.0
    frequency_hz: float = 50.0
    import_wh: float = 0.0
    export_wh: float = 0.0


class Sdm630Model(ModbusDeviceModel):
    """An SDM630's measurements as FC4 input registers (energy kept in Wh here, kWh on
    the wire). Set the public fields directly or through :meth:`set`; thread-safe."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._state = Sdm630State()

    def set(
        self,
        *,
        voltage_v: tuple[float, float, float] | None = None,
        current_a: tuple[float, float, float] | None = None,
        power_phase_w: tuple[float, float, float] | None = None,
        power_w: float | None = None,
        frequency_hz: float | None = None,
        import_wh: float | None = None,
        export_wh: float | None = None,
    ) -> None:
        """Change any of the measurements at once."""
        with self._lock:
            s = self._state
            if voltage_v is not None:
                s.voltage_v = _three(voltage_v)
            if current_a is not None:
                s.current_a = _three(current_a)
            if power_phase_w is not None:
                s.power_phase_w = _three(power_phase_w)
            if power_w is not None:
                s.power_w = float(power_w)
            if frequency_hz is not None:
                s.frequency_hz = float(frequency_hz)
            if import_wh is not None:
                s.import_wh = float(import_wh)
            if export_wh is not None:
                s.export_wh = float(export_wh)

    @property
    def state(self) -> Sdm630State:
        """A copy of the current measurements."""
        with self._lock:
            s = self._state
            return Sdm630State(**{f: getattr(s, f) for f in Sdm630State.__dataclass_fields__})

    @property
    def import_wh(self) -> float:
        with self._lock:
            return self._state.import_wh

    def registers(self) -> Mapping[int, int]:
        with self._lock:
            s = self._state
            values: dict[int, float] = {70: s.frequency_hz, 52: s.power_w}
            for i in range(3):
                values[0 + 2 * i] = s.voltage_v[i]
                values[6 + 2 * i] = s.current_a[i]
                values[12 + 2 * i] = s.power_phase_w[i]
            values[72] = s.import_wh / 1000.0
            values[74] = s.export_wh / 1000.0
        regs: dict[int, int] = {}
        for address, value in values.items():
            regs[address], regs[address + 1] = _float_regs(value)
        return regs


def _three(values: tuple[float, ...]) -> tuple[float, float, float]:
    if len(values) != 3:
        raise ValueError("three phase values expected (L1, L2, L3)")
    return float(values[0]), float(values[1]), float(values[2])


def _sim_devices(models: Mapping[int, ModbusDeviceModel]) -> list[SimDevice]:
    """pymodbus simulator devices whose action callback serves each model."""

    def action_for(model: ModbusDeviceModel | None) -> SimAction:
        async def action(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            if model is None or model.silent:
                # The server drops requests for unknown ids (ignore_missing_devices):
                # the master sees no answer at all, as from an unpowered meter.
                raise NoSuchIdException(f"device silent (function {function_code})")
            model.requests += 1
            if set_values is not None:
                model.write(address, [int(v) for v in set_values])
                return None
            current = model.registers()
            for i in range(address, address + count):
                if i in current:  # the rest keeps what a master wrote there
                    registers[i - start_address] = current[i]
            return None

        return action

    devices = [
        SimDevice(
            device_id,
            simdata=[SimData(0, count=model.register_space, values=0,
                             datatype=DataType.REGISTERS)],
            action=action_for(model),
        )
        for device_id, model in models.items()
    ]
    # id 0 answers for every id without a model: silently.
    devices.append(
        SimDevice(
            0,
            simdata=[SimData(0, count=0x10000, values=0, datatype=DataType.REGISTERS)],
            action=action_for(None),
        )
    )
    return devices


@dataclass
class _BusBase:
    models: dict[int, ModbusDeviceModel] = field(default_factory=dict)
    server: ModbusBaseServer | None = None

    def add_device(self, device_id: int, model: ModbusDeviceModel) -> None:
        """Register a model (before :meth:`start`)."""
        if self.server is not None:
            raise RuntimeError("add devices before the simulated bus starts")
        self.models[device_id] = model

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()  # type: ignore[no-untyped-call]
            self.server = None


@dataclass
class ModbusTcpSim(_BusBase):
    """A Modbus TCP server on loopback; :attr:`address` once started."""

    address: tuple[str, int] = ("127.0.0.1", 0)

    async def start(self) -> None:
        server = ModbusTcpServer(
            _sim_devices(self.models), address=("127.0.0.1", 0), ignore_missing_devices=True
        )
        await server.serve_forever(background=True)
        listener = server.transport
        assert isinstance(listener, asyncio.Server)
        host, port = listener.sockets[0].getsockname()[:2]
        self.address = (str(host), int(port))
        self.server = server
        logger.info("simulated Modbus TCP bus on %s:%d", *self.address)


@dataclass
class ModbusRtuSim(_BusBase):
    """A Modbus RTU server behind a pty; the firmware opens :attr:`path`.

    The server opens one pty; the bytes it sends and receives are bridged to the line
    end the firmware opens: a second pty, or, for a bus configured with parity E or O, a
    loopback TCP socket given as a pyserial ``socket://`` URL. Linux ptys have no parity
    bit: the kernel clears PARENB, and pyserial's second reconfiguration of such a port
    (pymodbus sets the timeout after opening) then fails with EINVAL. RTU framing, CRC
    and device ids are the same on both line ends.
    """

    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    path: str = ""
    _fds: list[int] = field(default_factory=list)
    _listener: asyncio.Server | None = None
    _peers: list[asyncio.StreamWriter] = field(default_factory=list)
    _peer_tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        server_master, server_slave = os.openpty()
        self._fds = [server_master, server_slave]
        # Raw mode at once, and keep our slave fds open: a pty without an open slave
        # fails reads on its master, and a cooked one would echo and rewrite bytes.
        tty.setraw(server_slave)
        os.set_blocking(server_master, False)
        if self.parity == "N":
            line_master, line_slave = os.openpty()
            self._fds += [line_master, line_slave]
            tty.setraw(line_slave)
            os.set_blocking(line_master, False)
            loop.add_reader(line_master, self._forward, line_master, server_master)
            self.path = os.ttyname(line_slave)
        else:
            self._listener = await asyncio.start_server(self._serve_peer, "127.0.0.1", 0)
            port = self._listener.sockets[0].getsockname()[1]
            self.path = f"socket://127.0.0.1:{port}"
        loop.add_reader(server_master, self._from_server, server_master)
        server = ModbusSerialServer(
            _sim_devices(self.models),
            port=os.ttyname(server_slave),
            baudrate=self.baudrate,
            ignore_missing_devices=True,
        )
        await server.serve_forever(background=True)
        self.server = server
        logger.info("simulated Modbus RTU bus on %s", self.path)

    def _from_server(self, server_master: int) -> None:
        try:
            data = os.read(server_master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            logger.debug("simulated RS-485 line: %s", exc)
            return
        if len(self._fds) > 2:
            self._write(self._fds[2], data)
        for peer in self._peers:
            peer.write(data)

    async def _serve_peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                          ) -> None:
        self._peers.append(writer)
        task = asyncio.current_task()
        if task is not None:  # the stream server owns it; stop() waits for it
            self._peer_tasks.add(task)
            task.add_done_callback(self._peer_tasks.discard)
        try:
            while data := await reader.read(4096):
                self._write(self._fds[0], data)
        except ConnectionError:
            pass
        finally:
            self._peers.remove(writer)
            writer.close()

    def _forward(self, source: int, sink: int) -> None:
        try:
            data = os.read(source, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # the other end went away: the line is dead
            logger.debug("simulated RS-485 line: %s", exc)
            return
        self._write(sink, data)

    @staticmethod
    def _write(fd: int, data: bytes) -> None:
        try:
            os.write(fd, data)
        except (BlockingIOError, InterruptedError):
            logger.debug("simulated RS-485 line: %d bytes dropped (nobody reading)", len(data))
        except OSError as exc:
            logger.debug("simulated RS-485 line: %s", exc)

    async def stop(self) -> None:
        await super().stop()
        for peer in list(self._peers):
            peer.close()
        if self._peer_tasks:
            await asyncio.wait(self._peer_tasks, timeout=1.0)
        if self._listener is not None:
            self._listener.close()
            await self._listener.wait_closed()
            self._listener = None
        if self._fds:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._fds[0])
            if len(self._fds) > 2:
                loop.remove_reader(self._fds[2])
            for fd in self._fds:
                os.close(fd)
            self._fds = []
