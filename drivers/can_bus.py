"""Owner of one CAN bus, borrowed by the drivers on it (DC power modules).

One python-can bus per configured ``[buses.can.<name>]``, opened through the wiring (a
SocketCAN channel on a board, a python-can virtual bus in the simulator), and one
``can.Notifier`` that hands every received frame to the event loop. Drivers
:meth:`~CanBusOwner.subscribe` to the frames they care about (an id mask and value, or a
predicate) and :meth:`~CanBusOwner.send` frames synchronously: a send only queues the
frame in the kernel (or the virtual channel), it never waits for the wire.

A bus owner can also hold *services* that several drivers share: the power-module pool
registers itself here so that the connectors' module groups find it by bus name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import can

from drivers.context import DriverContext
from drivers.errors import DeviceSilent, DriverError
from drivers.interfaces import Device
from drivers.params import Param

logger = logging.getLogger(__name__)

FrameHandler = Callable[[can.Message], None]
FramePredicate = Callable[[can.Message], bool]

# The notifier thread wakes this often to see whether it must stop (release() waits for it).
_NOTIFIER_POLL_S = 0.05


@dataclass(eq=False)
class Subscription:
    """One subscriber: frames whose id matches (``id & mask == value``) and, if given,
    the predicate, are handed to ``handler`` on the event loop thread."""

    handler: FrameHandler
    mask: int = 0
    value: int = 0
    predicate: FramePredicate | None = None
    extended_only: bool = True

    def wants(self, msg: can.Message) -> bool:
        if self.extended_only and not msg.is_extended_id:
            return False
        if msg.arbitration_id & self.mask != self.value:
            return False
        return self.predicate is None or self.predicate(msg)


async def release_can(notifier: can.Notifier | None, bus: Any) -> bool:
    """Stop ``notifier`` (its thread joined off the loop), then shut ``bus`` down; the bus
    is released even when this is cancelled (the notifier then stops by itself). Returns
    whether there was a bus."""
    try:
        if notifier is not None:
            await asyncio.to_thread(notifier.stop, 1.0)
    finally:
        if bus is not None:
            bus.shutdown()
    return bus is not None


class CanBusOwner:
    """A CAN bus as its drivers see it: subscribe to received frames, send frames.

    Subclasses name the python-can interface (``socketcan``, ``virtual``); the wiring
    decides what is really opened. Every handler runs on the event loop thread; a handler
    that raises is logged and the others still get the frame.
    """

    INTERFACE: ClassVar[str] = "socketcan"
    PARAMS: ClassVar[dict[str, Param]] = {
        "channel": Param(str, resource="can_channel", doc="CAN interface, e.g. can0"),
        "bitrate": Param(int, 125000, choices=(125000, 250000, 500000), doc="bit/s"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self.channel: str = params["channel"]
        self.bitrate: int = params.get("bitrate", 125000)
        self._bus: Any = None
        self._notifier: can.Notifier | None = None
        self._subscriptions: list[Subscription] = []
        self._services: dict[str, object] = {}
        self.counters = {"rx": 0, "tx": 0, "tx_errors": 0, "handler_errors": 0}

    @property
    def name(self) -> str:
        return self._ctx.where

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the bus and start receiving (idempotent)."""
        if self._bus is not None:
            return
        try:
            self._bus = self._ctx.wiring.can_bus(self.INTERFACE, self.channel, self.bitrate)
        except (can.CanError, OSError) as exc:
            raise DeviceSilent(f"{self.name}: cannot open CAN {self.channel}: {exc}") from exc
        loop = asyncio.get_running_loop()
        self._notifier = can.Notifier(
            self._bus, [self._dispatch], timeout=_NOTIFIER_POLL_S, loop=loop
        )
        logger.info("%s: CAN %s open (%s, %d bit/s)", self.name, self.channel,
                    self.INTERFACE, self.bitrate)

    async def release(self) -> None:
        """Stop receiving and release the bus. The notifier thread is joined off the loop."""
        notifier, self._notifier = self._notifier, None
        bus, self._bus = self._bus, None
        if await release_can(notifier, bus):
            logger.info("%s: CAN %s closed", self.name, self.channel)

    # ------------------------------------------------------------------ frames

    def subscribe(
        self,
        handler: FrameHandler,
        *,
        mask: int = 0,
        value: int = 0,
        predicate: FramePredicate | None = None,
        extended_only: bool = True,
    ) -> Subscription:
        """Hand received frames whose id matches ``id & mask == value`` (and ``predicate``,
        if given) to ``handler`` on the event loop. Returns the subscription to cancel."""
        sub = Subscription(handler, mask, value, predicate, extended_only)
        self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)

    def send(self, msg: can.Message) -> None:
        """Queue ``msg`` for transmission now (never waits for the wire).

        Raises :class:`DeviceSilent` when the bus is not open or its transmit queue is
        full (bus off, no other node acknowledging), :class:`DriverError` otherwise."""
        bus = self._bus
        if bus is None:
            raise DeviceSilent(f"{self.name}: CAN bus not open")
        try:
            bus.send(msg, timeout=0)
        except can.CanOperationError as exc:
            self.counters["tx_errors"] += 1
            raise DeviceSilent(f"{self.name}: cannot send on {self.channel}: {exc}") from exc
        except can.CanError as exc:
            self.counters["tx_errors"] += 1
            raise DriverError(f"{self.name}: cannot send on {self.channel}: {exc}") from exc
        self.counters["tx"] += 1

    def _dispatch(self, msg: can.Message) -> None:
        # Runs on the event loop (the notifier schedules it with call_soon_threadsafe).
        if msg.is_error_frame or msg.is_remote_frame:
            return
        self.counters["rx"] += 1
        for sub in list(self._subscriptions):
            if not sub.wants(msg):
                continue
            try:
                sub.handler(msg)
            except Exception:  # a broken handler must not starve the other drivers
                self.counters["handler_errors"] += 1
                logger.exception("%s: frame handler failed on id 0x%08X", self.name,
                                 msg.arbitration_id)

    # ------------------------------------------------------------------ shared services

    def register_service(self, name: str, service: object) -> None:
        """Make ``service`` findable by the other drivers on this bus (one per name)."""
        other = self._services.setdefault(name, service)
        if other is not service:
            raise DriverError(f"{self.name}: a {name} is already registered on this bus")

    def service(self, name: str) -> object | None:
        """The service registered as ``name``, if any."""
        return self._services.get(name)


class SocketCanBus(CanBusOwner):
    """A Linux SocketCAN interface (``can0``); bitrate is set by the system (ip link)."""

    INTERFACE: ClassVar[str] = "socketcan"


class VirtualCanBus(CanBusOwner):
    """A python-can virtual bus: frames shared between the buses of one process."""

    INTERFACE: ClassVar[str] = "virtual"


# The registry hands driver classes out untyped: mypy checks each against its role here.
_CAN_BUS_OWNER_ROLE: type[Device] = CanBusOwner
_SOCKET_CAN_BUS_ROLE: type[Device] = SocketCanBus
_VIRTUAL_CAN_BUS_ROLE: type[Device] = VirtualCanBus
