"""Supervision of a liquid-cooled DC cable: its contact temperatures (DC list code 20) and
its cooling unit (code 21), for the DC connector that has the ``cable`` / ``cooler``
roles. Started by :class:`firmware.connector.dc_control.DcControl`; both loops are guarded
tasks of the connector (its :class:`~firmware.connector.context.ConnectorContext`) and
sleep on the connector's clock.

* Cable: ``read_c()`` every :data:`CABLE_POLL_S`; :data:`CABLE_FAULT_AFTER` failed reads in
  a row (a sensor open or shorted, the ADC silent) are fault 20. Valid readings are the
  contact temperatures the connector's state shows, and they derate the connector (a
  named limit of the station's power budget) linearly from the cable's ``derate_from_c``
  (full current) to ``derate_to_c`` (zero: the session pauses in SuspendedEVSE).
* Cooler: the driver's ``run()`` polls the unit; when it ends with ``DeviceFaulted``
  (a fault bit, low flow) or ``DeviceSilent`` that is fault 21, and the unit is watched
  again after :data:`COOLER_RETRY_S`.

Both faults block the connector: the power path is made safe first (stacks off,
contactor open), then the fault is raised. Their recovery is ``csms_reset``: a good
reading afterwards only marks the condition gone, the fault stays until a reset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.errors import DriverError
from drivers.interfaces_station import CableCooler, CableMonitor, CoolerStatus
from firmware.connector.context import ConnectorContext
from firmware.log_context import connector_logger
from firmware.safety.fault_book import FaultBook
from firmware.safety.fault_catalogue import Condition

_log = logging.getLogger(__name__)

CABLE_POLL_S = 0.5
CABLE_FAULT_AFTER = 3  # failed cable readings in a row before fault 20
COOLER_RETRY_S = 1.0  # after a cooler fault, watch the unit again after this long
DERATE_STEP_A = 0.5  # the derated current moves in steps this big (no offer churn)


def derated_a(max_a: float, hottest_c: float, from_c: float, to_c: float) -> float | None:
    """The current a cable at ``hottest_c`` may carry: None below ``from_c`` (no limit),
    falling linearly to 0 A at ``to_c``, rounded down to :data:`DERATE_STEP_A`."""
    if hottest_c < from_c:
        return None
    if to_c <= from_c or hottest_c >= to_c:
        return 0.0
    amps = max_a * (to_c - hottest_c) / (to_c - from_c)
    return float(int(amps / DERATE_STEP_A) * DERATE_STEP_A)


class CableSupervision:
    """The cable and cooler loops of one DC connector, and what they last saw.

    ``max_current_a`` is the connector's rating (what a cool cable may carry); ``cable``
    and ``cooler`` the devices it watches (None where not fitted).
    """

    def __init__(
        self,
        ctx: ConnectorContext,
        faults: FaultBook,
        max_current_a: float,
        *,
        cable: CableMonitor | None = None,
        cooler: CableCooler | None = None,
    ) -> None:
        self._ctx = ctx
        self._faults = faults
        self._max_current_a = max_current_a
        self._cable = cable
        self._cooler = cooler
        self._log = connector_logger(_log, ctx.id)
        self.temperatures_c: tuple[float, ...] = ()  # the last valid reading
        self.cooler: CoolerStatus | None = None  # the last good cooler reading
        self.limit_a: float | None = None  # cable over-temperature derating, None: none
        # Where the derating goes (the station's power budget: see subscribe_limit).
        self._limit_listeners: list[Callable[[float | None], None]] = []

    def subscribe_limit(self, listener: Callable[[float | None], None]) -> None:
        """Call ``listener(amps)`` whenever the derating changes (None: no limit). The
        station's power budget listens: the derating is one of its named limits, so what
        it frees goes to the other connectors."""
        self._limit_listeners.append(listener)

    def start(self) -> None:
        """Start the loops of the roles this connector has (it runs: see ``spawn``)."""
        if self._cable is not None:
            self._ctx.spawn(self._cable_loop(self._cable), "cable")
        if self._cooler is not None:
            self._ctx.spawn(self._cooler_loop(self._cooler), "cooler")

    # ------------------------------------------------------------------ cable
    async def _cable_loop(self, cable: CableMonitor) -> None:
        failures = 0
        while True:
            try:
                temperatures = await cable.read_c()
            except DriverError as exc:  # a sensor open or shorted, the ADC silent
                failures += 1
                self.temperatures_c = ()
                if failures == CABLE_FAULT_AFTER:
                    self._fault(Condition.CABLE_FAULT, f"cable: {exc}")
            else:
                failures = 0
                self.temperatures_c = temperatures
                self._ctx.end_fault(Condition.CABLE_FAULT)
                self._derate(max(temperatures, default=0.0), cable.derate_from_c,
                             cable.derate_to_c)
            await self._ctx.clock.sleep(CABLE_POLL_S)

    def _derate(self, hottest_c: float, from_c: float, to_c: float) -> None:
        limit = derated_a(self._max_current_a, hottest_c, from_c, to_c)
        if limit == self.limit_a:
            return
        if limit is None:
            self._log.info("cable at %.1f °C: derating ended", hottest_c)
        else:
            self._log.warning("cable at %.1f °C: current limited to %.1f A", hottest_c,
                              limit)
        self.limit_a = limit
        for listener in self._limit_listeners:
            listener(limit)

    # ------------------------------------------------------------------ cooler
    async def _cooler_loop(self, cooler: CableCooler) -> None:
        while True:
            try:
                await cooler.run(self._on_cooler)
            except DriverError as exc:  # a fault bit, low flow, silent, or a bus error
                self.cooler = None
                self._fault(Condition.COOLER_FAULT, f"cooler: {exc}")
            await self._ctx.clock.sleep(COOLER_RETRY_S)

    def cooler_state(self) -> dict[str, object] | None:
        """The last good cooler reading for the status page (None: no cooler, or none)."""
        return None if self.cooler is None else self.cooler.as_json()

    def _on_cooler(self, status: CoolerStatus) -> None:
        self.cooler = status
        self._ctx.end_fault(Condition.COOLER_FAULT)

    # ------------------------------------------------------------------ faults
    def _fault(self, condition: Condition, reason: str) -> None:
        """Raise 20 / 21; ``raise_fault`` makes the power path safe before it records and
        reports a new blocking fault."""
        if self._faults.holds(condition):
            return
        self._log.error("%s", reason)
        self._ctx.raise_fault(condition)
