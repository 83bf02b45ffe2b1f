"""Sampled meter values of running transactions.

Every MeterValueSampleInterval seconds, counted from the start of each transaction (not
clock-aligned), the measurands of MeterValuesSampledData are read from the
``meter_snapshot`` of the :class:`~firmware.ports.StationPort` the link runs for, and
handed to the transaction queue as one MeterValues.req (context Sample.Periodic). Each
sample also persists the energy register, which is the ``meterStop`` of a transaction that
a power cut interrupts.

The measurands of StopTxnSampledData are collected as well and go into the
``transactionData`` of StopTransaction, between the Transaction.Begin and Transaction.End
samples. Units are spelled exactly as the official schema allows; Frequency has no unit
("Hertz" is not in the schema that strict central systems validate against).

Clock-aligned values: every ClockAlignedDataInterval seconds counted from midnight (UTC),
each connector's MeterValuesAlignedData (context Sample.Clock) with the boundary as their
timestamp: queued with the transactionId while a transaction runs, sent directly (not
queued) otherwise. StopTxnAlignedData samples go into the transactionData too.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from firmware.clock import Clock
from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.rpc import JsonObject, format_time
from firmware.ports import MeterSnapshot, StationPort, TxHandle
from firmware.storage.store import Store

logger = logging.getLogger(__name__)

ENERGY = "Energy.Active.Import.Register"
MAX_STOP_SAMPLES = 48  # periodic samples kept for StopTransaction.transactionData
_PHASES_LN = ("L1-N", "L2-N", "L3-N")
_PHASES = ("L1", "L2", "L3")


def _value(
    measurand: str,
    value: float,
    digits: int,
    context: str,
    unit: str | None = None,
    phase: str | None = None,
    location: str = "Outlet",
) -> JsonObject:
    sv: JsonObject = {
        "value": f"{value:.{digits}f}",
        "context": context,
        "format": "Raw",
        "measurand": measurand,
        "location": location,
    }
    if phase is not None:
        sv["phase"] = phase
    if unit is not None:
        sv["unit"] = unit
    return sv


def _per_phase(
    measurand: str, values: Sequence[float], snap: MeterSnapshot, unit: str, names: Sequence[str],
    context: str,
) -> list[JsonObject]:
    if snap.dc or len(values) == 1:
        return [_value(measurand, values[0], 2, context, unit)] if values else []
    return [
        _value(measurand, v, 2, context, unit, phase)
        for v, phase in zip(values, names, strict=False)
    ]


def sampled_values(
    snap: MeterSnapshot, measurands: Sequence[str], context: str
) -> list[JsonObject]:
    """The SampledValue list of one snapshot; measurands it does not have are left out."""
    out: list[JsonObject] = []
    for m in measurands:
        if m == ENERGY:
            out.append(_value(m, snap.energy_import_wh, 1, context, "Wh"))
        elif m == "Power.Active.Import":
            out.append(_value(m, snap.power_w, 1, context, "W"))
        elif m == "Current.Import":
            out += _per_phase(m, snap.current_a, snap, "A", _PHASES, context)
        elif m == "Voltage":
            out += _per_phase(m, snap.voltage_v, snap, "V", _PHASES_LN, context)
        elif m == "Frequency" and snap.frequency_hz is not None:
            out.append(_value(m, snap.frequency_hz, 2, context))  # no unit: see module doc
        elif m == "Current.Offered" and snap.current_offered_a is not None:
            out.append(_value(m, snap.current_offered_a, 1, context, "A"))
        elif m == "Power.Offered" and snap.power_offered_w is not None:
            out.append(_value(m, snap.power_offered_w, 1, context, "W"))
        elif m == "SoC" and snap.soc_percent is not None:
            # The state of charge is measured by the EV, not at the outlet.
            out.append(_value(m, snap.soc_percent, 0, context, "Percent", location="EV"))
        elif m == "Temperature" and snap.temperature_c is not None:
            out.append(_value(m, snap.temperature_c, 1, context, "Celsius"))
    return out


def meter_value(t: datetime, values: list[JsonObject]) -> JsonObject:
    return {"timestamp": format_time(t), "sampledValue": values}


def energy_sample(t: datetime, wh: float, context: str) -> JsonObject:
    return meter_value(t, [_value(ENERGY, wh, 1, context, "Wh")])


def next_sample_time(start: float, interval: float, last: float) -> float:
    """When the next sample of a transaction started at ``start`` falls due: the first
    point of the grid start + k·interval (k ≥ 1) after ``last`` (the previous sample, or
    the start). Samples missed while the loop was late are skipped, not bunched."""
    k = math.floor((last - start) / interval + 1e-9) + 1
    return start + max(k, 1) * interval


def next_aligned_time(now: datetime, interval: int) -> datetime:
    """The first clock-aligned boundary after ``now``: intervals of ``interval`` seconds
    counted from midnight UTC (a day that does not divide evenly restarts at midnight)."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - midnight).total_seconds()
    boundary = midnight + timedelta(seconds=(math.floor(elapsed / interval) + 1) * interval)
    return min(boundary, midnight + timedelta(days=1))


@dataclass
class _Running:
    handle: TxHandle
    start: float  # monotonic time of the start: samples follow it
    last: float  # monotonic time of the last sample (the start before the first)
    stop_samples: list[JsonObject] = field(default_factory=list)


class Metering:
    """Samples every running transaction on its own schedule; one task for all."""

    def __init__(
        self,
        keys: ConfigKeys,
        clock: Clock,
        store: Store,
        enqueue: Callable[[TxHandle, JsonObject], None],
        send_direct: Callable[[JsonObject], Awaitable[object]] | None = None,
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._store = store
        self._enqueue = enqueue  # (handle, meterValue) -> transaction queue
        self._send_direct = send_direct  # MeterValues.req payload -> sent now, not queued
        self._running: dict[int, _Running] = {}
        self._wake = asyncio.Event()
        self._aligned_wake = asyncio.Event()
        self._last_boundary: datetime | None = None
        keys.on_change("MeterValueSampleInterval", lambda _v: self._wake.set())
        keys.on_change("ClockAlignedDataInterval", lambda _v: self._aligned_wake.set())

    def track(self, handle: TxHandle) -> None:
        """Start sampling a transaction that just started."""
        now = self._clock.monotonic()
        self._running[handle.local_id] = _Running(handle, now, now)
        self._wake.set()

    def untrack(self, local_id: int) -> list[JsonObject]:
        """Stop sampling; returns the periodic StopTxnSampledData samples taken."""
        running = self._running.pop(local_id, None)
        self._wake.set()
        return running.stop_samples if running is not None else []

    def transaction_data(
        self, handle: TxHandle, periodic: list[JsonObject], meter_stop_wh: float, stopped: datetime
    ) -> list[JsonObject]:
        """StopTransaction.transactionData per StopTxnSampledData (empty key: none)."""
        measurands = self._keys.get_csl("StopTxnSampledData")
        if not measurands and not periodic:  # periodic: also StopTxnAlignedData samples
            return []
        begin = energy_sample(handle.started, handle.meter_start_wh, "Transaction.Begin")
        end = energy_sample(stopped, meter_stop_wh, "Transaction.End")
        return [begin, *periodic, end]

    def snapshot_values(
        self, station: StationPort, connector_id: int, context: str
    ) -> list[JsonObject]:
        """MeterValuesSampledData of a connector now (TriggerMessage); [] on a meter fault."""
        try:
            snap = station.meter_snapshot(connector_id)
        except Exception:
            logger.exception("connector %d: meter snapshot failed", connector_id)
            return []
        return sampled_values(snap, self._keys.get_csl("MeterValuesSampledData"), context)

    async def run(self, station: StationPort) -> None:
        """Take the sampled and the clock-aligned values of ``station``'s connectors when
        they fall due, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._aligned(station))
            await self._sampled(station)

    async def _aligned(self, station: StationPort) -> None:
        while True:
            self._aligned_wake.clear()
            interval = self._keys.get_int("ClockAlignedDataInterval")
            if interval <= 0:
                await self._aligned_wake.wait()  # 0 disables clock-aligned values
                continue
            now = self._clock.now()
            if self._last_boundary is not None and self._last_boundary > now:
                now = self._last_boundary  # the wall clock went back: no boundary twice
            boundary = next_aligned_time(now, interval)
            try:
                async with asyncio.timeout((boundary - self._clock.now()).total_seconds()):
                    await self._aligned_wake.wait()  # the interval changed: start over
                continue
            except TimeoutError:
                pass
            self._last_boundary = boundary
            for connector_id in station.connector_ids():
                try:
                    await self._take_aligned(station, connector_id, boundary)
                except Exception:  # one connector's meter must not stop the others
                    logger.exception("connector %d: clock-aligned values failed", connector_id)

    async def _take_aligned(
        self, station: StationPort, connector_id: int, boundary: datetime
    ) -> None:
        snap = station.meter_snapshot(connector_id)
        values = sampled_values(snap, self._keys.get_csl("MeterValuesAlignedData"), "Sample.Clock")
        handle = station.active_transaction(connector_id)
        running = self._running.get(handle.local_id) if handle is not None else None
        if running is None:
            if values and self._send_direct is not None:
                await self._send_direct(
                    {"connectorId": connector_id, "meterValue": [meter_value(boundary, values)]}
                )
            return
        if values:
            self._enqueue(running.handle, meter_value(boundary, values))
        stop_values = sampled_values(snap, self._keys.get_csl("StopTxnAlignedData"),
                                     "Sample.Clock")
        if stop_values and len(running.stop_samples) < MAX_STOP_SAMPLES:
            running.stop_samples.append(meter_value(boundary, stop_values))

    async def _sampled(self, station: StationPort) -> None:
        while True:
            self._wake.clear()
            interval = self._keys.get_int("MeterValueSampleInterval")
            if interval <= 0 or not self._running:
                await self._wake.wait()  # 0 disables sampled meter values
                continue
            now = self._clock.monotonic()
            # Computed each round, so a changed interval applies at once (still counted
            # from the start of each transaction).
            due = {
                local_id: next_sample_time(r.start, interval, r.last)
                for local_id, r in self._running.items()
            }
            if min(due.values()) > now:
                try:
                    async with asyncio.timeout(min(due.values()) - now):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                continue
            for local_id, running in list(self._running.items()):
                if due[local_id] <= now:
                    running.last = now
                    try:
                        self._sample(station, running)
                    except Exception:  # one bad sample must not stop the metering
                        logger.exception("connector %d: sampling failed",
                                         running.handle.connector_id)

    def _sample(self, station: StationPort, running: _Running) -> None:
        handle = running.handle
        try:
            snap = station.meter_snapshot(handle.connector_id)
        except Exception:
            logger.exception("connector %d: meter snapshot failed", handle.connector_id)
            return
        now = self._clock.now()
        self._store.persist_meter(handle.local_id, snap.energy_import_wh, now)
        values = sampled_values(snap, self._keys.get_csl("MeterValuesSampledData"),
                                "Sample.Periodic")
        if values:
            self._enqueue(handle, meter_value(now, values))
        stop_measurands = [m for m in self._keys.get_csl("StopTxnSampledData") if m != ENERGY]
        stop_values = sampled_values(snap, stop_measurands, "Sample.Periodic")
        if stop_values and len(running.stop_samples) < MAX_STOP_SAMPLES:
            running.stop_samples.append(meter_value(now, stop_values))
