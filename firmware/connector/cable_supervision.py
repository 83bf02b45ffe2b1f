"""Supervision of a liquid-cooled DC cable: its contact temperatures (DC list code 20) and
its cooling unit (code 21), for the DC connector that has the ``cable`` / ``cooler``
roles. Started by :class:`firmware.connector.dc_control.DcControl`; both loops are tasks of the
connector's TaskGroup.

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

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from drivers.errors import DriverError
from drivers.interfaces_station import CoolerStatus
from firmware.safety.fault_catalogue import Condition

if TYPE_CHECKING:
    from firmware.connector.controller import ConnectorController

log = logging.getLogger(__name__)

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
    """The cable and cooler loops of one DC connector, and what they last saw."""

    def __init__(self, connector: ConnectorController) -> None:
        self.c = connector
        self.temperatures_c: tuple[float, ...] = ()  # the last valid reading
        self.cooler: CoolerStatus | None = None  # the last good cooler reading
        self.limit_a: float | None = None  # cable over-temperature derating, None: none
        # Where the derating goes: the station's power budget, as a named limit (set by
        # the station; its allocation becomes the connector's offer).
        self.on_limit: Callable[[float | None], None] | None = None

    def start(self, tg: asyncio.TaskGroup) -> None:
        """Start the loops of the roles this connector has."""
        d = self.c.devices
        if d.cable is not None:
            self.c.start_task(tg, "cable", self._cable_loop())
        if d.cooler is not None:
            self.c.start_task(tg, "cooler", self._cooler_loop())

    # ------------------------------------------------------------------ cable
    async def _cable_loop(self) -> None:
        cable = self.c.devices.cable
        assert cable is not None
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
                self.c.end_fault(Condition.CABLE_FAULT)
                self._derate(max(temperatures, default=0.0), cable.derate_from_c,
                             cable.derate_to_c)
            await asyncio.sleep(CABLE_POLL_S)

    def _derate(self, hottest_c: float, from_c: float, to_c: float) -> None:
        limit = derated_a(self.c.cfg.max_current_a, hottest_c, from_c, to_c)
        if limit == self.limit_a:
            return
        if limit is None:
            log.info("connector %d: cable at %.1f °C: derating ended", self.c.id, hottest_c)
        else:
            log.warning("connector %d: cable at %.1f °C: current limited to %.1f A",
                        self.c.id, hottest_c, limit)
        self.limit_a = limit
        if self.on_limit is not None:
            self.on_limit(limit)

    # ------------------------------------------------------------------ cooler
    async def _cooler_loop(self) -> None:
        cooler = self.c.devices.cooler
        assert cooler is not None
        while True:
            try:
                await cooler.run(self._on_cooler)
            except DriverError as exc:  # a fault bit, low flow, silent, or a bus error
                self.cooler = None
                self._fault(Condition.COOLER_FAULT, f"cooler: {exc}")
            await asyncio.sleep(COOLER_RETRY_S)

    def cooler_state(self) -> dict[str, object] | None:
        """The last good cooler reading for the status page (None: no cooler, or none)."""
        return None if self.cooler is None else self.cooler.as_json()

    def _on_cooler(self, status: CoolerStatus) -> None:
        self.cooler = status
        self.c.end_fault(Condition.COOLER_FAULT)

    # ------------------------------------------------------------------ faults
    def _fault(self, condition: Condition, reason: str) -> None:
        """Raise 20 / 21; ``raise_fault`` makes the power path safe before it records and
        reports a new blocking fault."""
        if self.c.faults.holds(condition):
            return
        log.error("connector %d: %s", self.c.id, reason)
        self.c.raise_fault(condition)
