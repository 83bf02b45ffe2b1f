"""The simulator control API: the ``/api/sim/`` routes of sim-api.md on the station's app.

JSON in, JSON out. Errors answer ``{"error": "..."}`` with 400 (bad input, unknown fault
code, a fault the connector cannot have), 404 (unknown connector or reader) or 409 (the
world is not in a state to do it: no EV to unplug, no CSMS link to cut). Every handler
runs on the event loop, like the world it drives.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from firmware.http.server import StationView, json_response
from firmware.station.snapshot import StationState
from hal_sim import faults
from hal_sim.ev_ac import AcEv
from hal_sim.world import ConnectorSim, UnknownConnector, WorldError

if TYPE_CHECKING:
    from hal_sim.simulator import Simulation

log = logging.getLogger(__name__)

TEXT_TAG = re.compile(r"^[\x21-\x7e]{1,20}$")  # printable, no spaces: an NDEF text idTag
ID_TAG = re.compile(r"^(?:[0-9A-Fa-f]{2}){1,10}$")  # a UID in hex, at most an idTag's 20


T = TypeVar("T")


class EvParamError(ValueError):
    """A plug request's ``ev`` object has an unknown key or a bad value."""


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


def add_routes(app: web.Application, sim: Simulation, station: StationView | None) -> None:
    """Add every route of sim-api.md under ``/api/sim/`` to ``app``.

    ``station`` gives the station's half of ``GET /api/sim/state``; None serves the
    world's half alone (a simulation without a station, as in tests).
    """
    api = SimApi(sim, station)
    r = app.router
    r.add_get("/api/sim/state", api.state)
    r.add_post(r"/api/sim/connectors/{n}/{action:plug|unplug|pause|resume}", api.connector)
    r.add_post("/api/sim/tokens", api.token)
    r.add_get("/api/sim/faults", api.list_faults)
    r.add_post("/api/sim/faults", api.inject_fault)
    r.add_delete("/api/sim/faults", api.clear_fault)
    r.add_post("/api/sim/network", api.network)
    r.add_post("/api/sim/doors", api.doors)


class SimApi:
    """The route handlers, bound to one simulation and its station."""

    def __init__(self, sim: Simulation, station: StationView | None) -> None:
        self.sim = sim
        self.world = sim.world
        self.station = station

    # ------------------------------------------------------------------ state

    async def state(self, request: web.Request) -> web.Response:
        return json_response(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        st = self.station.state() if self.station is not None else None
        proxy = self.sim.proxy
        return {
            "charge_point_id": (
                st.charge_point_id if st else self.sim.config.identity.charge_point_id
            ),
            "csms_online": st.csms_online if st else None,
            "csms_url": st.csms_url if st else self.sim.csms_url,
            "network_online": proxy.online if proxy is not None else None,
            "doors_open": self.world.doors_open,
            "faults": [dataclasses.asdict(f) for f in st.faults] if st else [],
            "injected_faults": faults.active(self.world),
            "station_devices": self.sim.hw.readings(),
            "station": dict(st.extra) if st else {},
            "connectors": [self._connector_view(cid, st) for cid in self.world.connectors],
        }

    def _connector_view(self, connector_id: int, st: StationState | None) -> dict[str, Any]:
        conn = self.world.connector(connector_id)
        view: dict[str, Any] = {
            "id": connector_id,
            "name": conn.cfg.name,
            "kind": str(conn.cfg.kind),
        }
        for c in st.connectors if st is not None else ():
            if c.id == connector_id:
                view.update(dataclasses.asdict(c))
        view["ev"] = ev_view(conn)
        view["world"] = world_view(conn)
        return view

    # ------------------------------------------------------------------ EV

    async def connector(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        try:
            cid = _connector_id(request.match_info["n"])
            world = self.world
            if action == "plug":
                body = await _body(request)
                params = None
                if "ev" in body:
                    params = parse_fields(world.ev_params_class(cid), body["ev"])
                world.plug(cid, params)
            elif action == "unplug":
                world.unplug(cid)
            elif action == "pause":
                world.pause(cid)
            else:
                world.resume(cid)
            st = self.station.state() if self.station is not None else None
            return json_response({"ok": True, "connector": self._connector_view(cid, st)})
        except ApiError as exc:
            return _error(exc)
        except UnknownConnector as exc:
            return _error(ApiError(404, str(exc)))
        except ValueError as exc:  # EvParamError and friends
            return _error(ApiError(400, str(exc)))
        except WorldError as exc:
            return _error(ApiError(409, str(exc)))

    async def token(self, request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            id_tag = body.get("id_tag")
            if not isinstance(id_tag, str) or not (
                ID_TAG.match(id_tag) or TEXT_TAG.match(id_tag)
            ):
                raise ApiError(
                    400,
                    f"id_tag must be a card UID in hex or a printable idTag of at most 20 "
                    f"characters: {id_tag!r}",
                )
            reader_no = body.get("reader", 1)
            if reader_no != 1 or isinstance(reader_no, bool):
                raise ApiError(404, f"unknown reader {reader_no!r} (this station has reader 1)")
            reader = self.sim.reader
            if reader is None:
                raise ApiError(409, "this station has no token reader")
            if ID_TAG.match(id_tag):
                uid = id_tag.upper()
                reader.present(uid)
            else:
                # Not a UID: a card whose NDEF text record carries the idTag (the reader
                # reports it with id_from = "ndef_text"), with a UID derived from it.
                uid = hashlib.sha1(id_tag.encode()).hexdigest()[:8].upper()
                reader.present(uid, text=id_tag)
            if ID_TAG.match(id_tag):
                id_tag = uid
            log.info("card %s (UID %s) presented to reader %d", id_tag, uid, reader_no)
            return json_response({"ok": True, "id_tag": id_tag, "uid": uid,
                                  "reader": reader_no})
        except ApiError as exc:
            return _error(exc)

    # ------------------------------------------------------------------ faults

    async def list_faults(self, request: web.Request) -> web.Response:
        return json_response(
            {"faults": faults.catalogue(), "active": faults.active(self.world)}
        )

    async def inject_fault(self, request: web.Request) -> web.Response:
        return await self._fault(request, on=True)

    async def clear_fault(self, request: web.Request) -> web.Response:
        return await self._fault(request, on=False)

    async def _fault(self, request: web.Request, on: bool) -> web.Response:
        try:
            # DELETE may carry its arguments in the query string as well.
            body = dict(request.query)
            body.update(await _body(request))
            code = body.get("code")
            if isinstance(code, int) and not isinstance(code, bool):
                code = str(code)
            if not isinstance(code, str) or not code:
                raise ApiError(400, "code is required, e.g. {\"code\": \"406\", \"connector\": 1}")
            connector = body.get("connector")
            cid = None if connector is None else _connector_id(connector)
            (faults.inject if on else faults.clear)(self.world, code, cid)
            return json_response({"ok": True, "active": faults.active(self.world)})
        except ApiError as exc:
            return _error(exc)
        except faults.UnknownFault as exc:
            return _error(ApiError(400, str(exc), known=exc.known))
        except UnknownConnector as exc:
            return _error(ApiError(404, str(exc)))
        except faults.FaultError as exc:
            return _error(ApiError(400, str(exc)))

    # ------------------------------------------------------------------ station

    async def network(self, request: web.Request) -> web.Response:
        try:
            online = _flag(await _body(request), "online")
            proxy = self.sim.proxy
            if proxy is None:
                raise ApiError(409, "this simulation has no central system link to cut")
            proxy.set_online(online)
            return json_response({"ok": True, "online": proxy.online})
        except ApiError as exc:
            return _error(exc)

    async def doors(self, request: web.Request) -> web.Response:
        try:
            open_ = _flag(await _body(request), "open")
            # The same condition as fault 1001, so both show in the injected faults.
            (faults.inject if open_ else faults.clear)(self.world, "1001")
            return json_response({"ok": True, "open": self.world.doors_open})
        except ApiError as exc:
            return _error(exc)


# ---------------------------------------------------------------------- views


def ev_view(conn: ConnectorSim) -> dict[str, Any] | None:
    """The plugged-in EV, JSON-ready (None without one)."""
    ev = conn.ev
    if ev is None:
        return None
    data: dict[str, Any] = dataclasses.asdict(ev.params)
    data.update(
        state=ev.state,
        paused=ev.paused,
        soc_percent=round(ev.soc, 2),
        energy_wh=round(ev.energy_wh, 3),
    )
    if isinstance(ev, AcEv):
        data.update(type="ac", current_a=round(ev.current_a, 2), pp_ohm=ev.pp_ohm)
        return data
    status = conn.ev_status()
    data.update(
        type="dc",
        ready=ev.ready,
        error=ev.error,
        battery_connected=ev.battery_connected,
        battery_voltage_v=status.battery_voltage_v,
        current_a=round(conn.dc.current if conn.dc else 0.0, 2),
        time_to_bulk_s=status.time_to_bulk_s,
        time_to_full_s=status.time_to_full_s,
    )
    return data


def world_view(conn: ConnectorSim) -> dict[str, Any]:
    """The physical side of a connector: wires, contactor, meter, DC output."""
    c = conn.circuits
    high, low, pp = conn.pilot_levels()
    has_pilot = c.pilot is not None
    data: dict[str, Any] = {
        "pwm_duty": round(c.pilot.duty, 2) if c.pilot is not None else None,
        "cp_high_v": round(high, 2) if has_pilot else None,
        "cp_low_v": round(low, 2) if has_pilot else None,
        "pp_ohm": pp,  # None: open / no PP
        "contactor_closed": c.contactor is not None and c.contactor.closed,
        "contactor_welded": c.contactor is not None and c.contactor.welded,
        "locked": bool(c.lock.locked) if c.lock is not None else None,
        "lock_jammed": bool(c.lock.jammed) if c.lock is not None else None,
        "rcd_tripped": bool(c.rcd.tripped) if c.rcd is not None else None,
        "meter": {
            "energy_wh": round(conn.energy_wh, 3),
            "power_w": round(conn.power_w, 1),
            "voltage_v": [round(v, 1) for v in conn.voltage_v],
            "current_a": [round(a, 2) for a in conn.current_a],
            "silent": conn.meter_silent,
        },
        "injected_faults": sorted(conn.injected),
    }
    if conn.dc is not None:
        dc = conn.dc
        data["dc"] = {
            "enabled": dc.enabled,
            "faulted": dc.faulted,
            "set_v": dc.set_v,
            "set_a": dc.set_a,
            "output_v": round(dc.voltage, 1),
            "output_a": round(dc.current, 2),
            "connector_v": round(dc.connector_v(), 1),
            "insulation_ohm": conn.imd_ohm,
            "imd_alarm": conn.imd_alarm,
        }
    return data


# ---------------------------------------------------------------------- helpers


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"body is not JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise ApiError(400, "body must be a JSON object")
    return dict(data)


def _connector_id(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ApiError(400, f"connector must be a number, not {raw!r}")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ApiError(400, f"connector must be a number, not {raw!r}") from None


def _flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise ApiError(400, f"{key} must be true or false, e.g. {{\"{key}\": false}}")
    return value


def _error(exc: ApiError) -> web.Response:
    return json_response({"error": str(exc), **exc.extra}, status=exc.status)


def parse_fields(cls: type[T], fields: Any) -> T:
    """Build the EV parameter dataclass ``cls`` from ``fields``, checking each value.

    Numbers may be int, float or numeric strings (as the CLI sends them); booleans JSON
    booleans or ``true``/``false``. Ranges come from ``cls.RANGES``.
    """
    if not isinstance(fields, Mapping):
        raise EvParamError(f"ev must be an object, not {fields!r}")
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise EvParamError(
            f"unknown EV field(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    ranges: Mapping[str, tuple[float, float]] = getattr(cls, "RANGES", {})
    values: dict[str, Any] = {}
    for name, raw in fields.items():
        default = known[name].default
        if isinstance(default, bool):
            values[name] = _boolean(name, raw)
            continue
        number = _number(name, raw)
        lo, hi = ranges.get(name, (float("-inf"), float("inf")))
        if not lo <= number <= hi:
            raise EvParamError(f"EV field {name}={raw!r} out of range {lo:g}–{hi:g}")
        values[name] = int(number) if isinstance(default, int) else number
    return cls(**values)


def _number(name: str, raw: Any) -> float:
    if not isinstance(raw, bool):
        try:
            value = float(raw)
        except (TypeError, ValueError):
            pass
        else:
            if value == value:  # not NaN
                return value
    raise EvParamError(f"EV field {name} must be a number, not {raw!r}")


def _boolean(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0"):
        return raw.lower() in ("true", "1")
    raise EvParamError(f"EV field {name} must be true or false, not {raw!r}")

