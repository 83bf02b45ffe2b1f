"""Owners of a Modbus bus (RTU on a serial port, or TCP), borrowed by the drivers on it.

One pymodbus async client per bus and one transaction on the wire at a time. A device
that does not answer within ``timeout_ms`` raises :class:`DeviceSilent`; an exception
response raises :class:`DriverError`. A lost connection (TCP peer gone, serial adapter
unplugged) and, on TCP, an unanswered request drop the connection, which is opened again
on the next call, so a meter that comes back is read again without anyone restarting the
bus. On RTU a silent device says nothing about the port, which stays open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

from pymodbus import FramerType, ModbusException
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.client.base import ModbusBaseClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.pdu import ModbusPDU

from drivers.context import DriverContext
from drivers.errors import DeviceSilent, DriverError
from drivers.interfaces import Device
from drivers.params import Param

logger = logging.getLogger(__name__)
# pymodbus logs every timeout at ERROR with a dump of the last frames; a silent device is
# an expected condition here, reported once by the driver (DeviceSilent) and the fault
# layer, so the library's own lines would only flood the log.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


class ModbusBus:
    """A Modbus bus as the drivers on it see it (base of the RTU and TCP owners): one
    transaction at a time, (re)connecting, errors mapped to the driver exceptions."""

    # Reopen the connection after an unanswered request (TCP: the peer may be gone).
    RECONNECT_ON_TIMEOUT: ClassVar[bool] = True

    def __init__(self, ctx: DriverContext, timeout_ms: int) -> None:
        self._ctx = ctx
        self._timeout_s = timeout_ms / 1000.0
        self._lock = asyncio.Lock()
        self._client: ModbusBaseClient | None = None
        self._reconnect = False
        self.counters = {"transactions": 0, "timeouts": 0, "errors": 0, "reconnects": 0}

    @property
    def name(self) -> str:
        return self._ctx.where

    def _make_client(self) -> ModbusBaseClient:
        raise NotImplementedError

    async def start(self) -> None:
        """Create the client and try to connect (a failure is retried on first use)."""
        async with self._lock:
            self._client = self._make_client()
            if not await self._client.connect():
                logger.warning("%s: cannot connect yet, will retry on first use", self.name)
                self._reconnect = True

    async def release(self) -> None:
        async with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    async def _ensure_connected(self) -> ModbusBaseClient:
        if self._client is None:
            raise DriverError(f"{self.name}: Modbus bus used before start()")
        if self._reconnect or not self._client.connected:
            self._client.close()
            self.counters["reconnects"] += 1
            if not await self._client.connect():
                raise DeviceSilent(f"{self.name}: cannot connect")
            self._reconnect = False
        return self._client

    async def _transact(
        self, what: str, device_id: int, request: Callable[[ModbusBaseClient], Awaitable[Any]]
    ) -> ModbusPDU:
        async with self._lock:
            client = await self._ensure_connected()
            self.counters["transactions"] += 1
            try:
                # pymodbus has its own timeout; this guard only catches a hung transport.
                async with asyncio.timeout(self._timeout_s * 2 + 1.0):
                    response: ModbusPDU = await request(client)
            except ConnectionException as exc:
                self.counters["timeouts"] += 1
                self._reconnect = True
                raise DeviceSilent(f"{self.name}: connection lost ({what})") from exc
            except (TimeoutError, ModbusIOException) as exc:
                self.counters["timeouts"] += 1
                self._reconnect = self._reconnect or self.RECONNECT_ON_TIMEOUT
                raise DeviceSilent(f"{self.name}: device {device_id} silent ({what})") from exc
            except ModbusException as exc:
                self.counters["errors"] += 1
                self._reconnect = True
                raise DriverError(f"{self.name}: device {device_id} {what}: {exc}") from exc
        # Python 3.11's asyncio.wait_for (inside pymodbus) drops a cancellation that lands
        # as the answer arrives (fixed in 3.12): the caller's poll loop would then run on
        # and never end. Honour a cancellation that is still pending here.
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        if response.isError():
            self.counters["errors"] += 1
            # Data for the message: only pymodbus' ExceptionResponse carries a code.
            code = getattr(response, "exception_code", "?")
            raise DriverError(f"{self.name}: device {device_id} {what}: exception {code}")
        return response

    async def read_input_registers(self, device_id: int, address: int, count: int) -> list[int]:
        """FC4: ``count`` input registers from ``address``."""
        response = await self._transact(
            f"FC4 {address}+{count}",
            device_id,
            lambda c: c.read_input_registers(address, count=count, device_id=device_id),
        )
        return list(response.registers)

    async def read_holding_registers(self, device_id: int, address: int, count: int) -> list[int]:
        """FC3: ``count`` holding registers from ``address``."""
        response = await self._transact(
            f"FC3 {address}+{count}",
            device_id,
            lambda c: c.read_holding_registers(address, count=count, device_id=device_id),
        )
        return list(response.registers)

    async def write_register(self, device_id: int, address: int, value: int) -> None:
        """FC6: one holding register."""
        await self._transact(
            f"FC6 {address}",
            device_id,
            lambda c: c.write_register(address, value, device_id=device_id),
        )

    async def write_registers(self, device_id: int, address: int, values: Sequence[int]) -> None:
        """FC16: consecutive holding registers from ``address``."""
        await self._transact(
            f"FC16 {address}+{len(values)}",
            device_id,
            lambda c: c.write_registers(address, list(values), device_id=device_id),
        )


class ModbusRtuBus(ModbusBus):
    """Modbus RTU master on a serial port (RS-485)."""

    RECONNECT_ON_TIMEOUT: ClassVar[bool] = False

    PARAMS: ClassVar[dict[str, Param]] = {
        "port": Param(str, resource="port", doc="serial device, e.g. /dev/ttyAMA0"),
        "baudrate": Param(
            int, 9600, choices=(1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
        ),
        "parity": Param(str, "N", choices=("N", "E", "O")),
        "stopbits": Param(int, 1, choices=(1, 2)),
        "timeout_ms": Param(int, 300, min=50, max=5000, doc="answer deadline per request"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        super().__init__(ctx, params.get("timeout_ms", 300))
        self._port: str = params["port"]
        self._baudrate: int = params.get("baudrate", 9600)
        self._parity: str = params.get("parity", "N")
        self._stopbits: int = params.get("stopbits", 1)

    def _make_client(self) -> ModbusBaseClient:
        path = self._ctx.wiring.serial_port(self._port)
        logger.info("%s: Modbus RTU on %s (%d %s%d)", self.name, path, self._baudrate,
                    self._parity, self._stopbits)
        return AsyncModbusSerialClient(
            path,
            framer=FramerType.RTU,
            baudrate=self._baudrate,
            parity=self._parity,
            stopbits=self._stopbits,
            timeout=self._timeout_s,
            retries=0,  # we report silence at once; the caller's poll is the retry
            reconnect_delay=0,  # no library reconnect task: we reconnect on the next call
        )


class ModbusTcpBus(ModbusBus):
    """Modbus TCP client to one host (a meter or a gateway with several unit ids)."""

    PARAMS: ClassVar[dict[str, Param]] = {
        "host": Param(str, doc="host name or address"),
        "port": Param(int, 502, min=1, max=65535),
        "timeout_ms": Param(int, 500, min=50, max=5000, doc="answer deadline per request"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        super().__init__(ctx, params.get("timeout_ms", 500))
        self._host: str = params["host"]
        self._port: int = params.get("port", 502)

    def _make_client(self) -> ModbusBaseClient:
        host, port = self._ctx.wiring.tcp_endpoint(self._host, self._port)
        logger.info("%s: Modbus TCP to %s:%d", self.name, host, port)
        return AsyncModbusTcpClient(
            host,
            port=port,
            timeout=self._timeout_s,
            retries=0,
            reconnect_delay=0,
        )


# The registry hands driver classes out untyped: mypy checks each against its role here.
_MODBUS_RTU_BUS_ROLE: type[Device] = ModbusRtuBus
_MODBUS_TCP_BUS_ROLE: type[Device] = ModbusTcpBus
