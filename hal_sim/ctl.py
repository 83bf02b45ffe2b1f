"""``evse sim ctl``: drive a running simulated station from the command line.

A thin client of the ``/api/sim/`` routes (sim-api.md) on the stdlib only, so it starts
fast. ``--url`` (or ``EVSE_SIM_URL``) names the station's HTTP server.

    evse sim ctl plug 1 --ev soc=50 --ev max_current_a=16
    evse sim ctl swipe 04A2B3C4D5
    evse sim ctl fault 406 --connector 1
    evse sim ctl state
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any, TextIO

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT_S = 10.0


class CtlError(Exception):
    """A request that failed; the message is for the user."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evse sim ctl", description="drive a simulated station")
    p.add_argument(
        "--url",
        default=os.environ.get("EVSE_SIM_URL", DEFAULT_URL),
        help=f"the station's HTTP address (default: $EVSE_SIM_URL or {DEFAULT_URL})",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plug = sub.add_parser("plug", help="plug an EV in")
    plug.add_argument("connector", type=int)
    plug.add_argument(
        "--ev",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="EV field, repeatable (max_current_a, phases, battery_kwh, soc, target_soc, …)",
    )
    for name, text in (
        ("unplug", "the EV leaves"),
        ("pause", "the EV suspends charging"),
        ("resume", "the EV asks for energy again"),
    ):
        sub.add_parser(name, help=text).add_argument("connector", type=int)

    swipe = sub.add_parser("swipe", help="hold a card to the reader")
    swipe.add_argument("id_tag", metavar="TAG")
    swipe.add_argument("--reader", type=int, default=1)

    for name, text in (("fault", "inject a fault"), ("clear", "end a fault")):
        f = sub.add_parser(name, help=text)
        f.add_argument("code")
        f.add_argument("--connector", type=int, default=None)

    sub.add_parser("faults", help="list the injectable fault codes")

    state = sub.add_parser("state", help="show the station and the world")
    state.add_argument("--json", action="store_true", help="the full state as JSON")

    net = sub.add_parser("network", help="cut or restore the central system link")
    net.add_argument("mode", choices=("online", "offline"))

    door = sub.add_parser("door", help="open or close the service door")
    door.add_argument("mode", choices=("open", "close"))
    return p


def _ev_fields(pairs: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CtlError(f"--ev wants KEY=VALUE, not {pair!r}")
        fields[key.strip()] = value.strip()
    return fields


def request(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One API call; returns the decoded JSON answer or raises :class:`CtlError`."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url.rstrip("/") + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as answer:
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("error", exc.reason)
        except (ValueError, AttributeError):
            detail = exc.reason
        if exc.code == 404 and path.startswith("/api/sim/state"):
            detail = "this station is not simulated (no /api/sim/ routes)"
        raise CtlError(f"{method} {path}: {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CtlError(
            f"cannot reach the simulated station at {url} ({reason}); "
            "is `evse sim` running? (--url / EVSE_SIM_URL)"
        ) from None


def _call(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    """The (method, path, body) for a parsed command."""
    cmd = args.command
    if cmd == "plug":
        ev = _ev_fields(args.ev)
        return "POST", f"/api/sim/connectors/{args.connector}/plug", {"ev": ev} if ev else {}
    if cmd in ("unplug", "pause", "resume"):
        return "POST", f"/api/sim/connectors/{args.connector}/{cmd}", {}
    if cmd == "swipe":
        return "POST", "/api/sim/tokens", {"id_tag": args.id_tag, "reader": args.reader}
    if cmd in ("fault", "clear"):
        body: dict[str, Any] = {"code": args.code}
        if args.connector is not None:
            body["connector"] = args.connector
        return ("POST" if cmd == "fault" else "DELETE"), "/api/sim/faults", body
    if cmd == "faults":
        return "GET", "/api/sim/faults", None
    if cmd == "state":
        return "GET", "/api/sim/state", None
    if cmd == "network":
        return "POST", "/api/sim/network", {"online": args.mode == "online"}
    if cmd == "door":
        return "POST", "/api/sim/doors", {"open": args.mode == "open"}
    raise CtlError(f"unknown command {cmd!r}")  # argparse refuses these first


def format_state(state: dict[str, Any]) -> str:
    """A compact table of ``GET /api/sim/state``."""
    net = state.get("network_online")
    csms = state.get("csms_online")
    lines = [
        f"{state.get('charge_point_id')}  csms: {_onoff(csms)}  network: {_onoff(net)}"
        f"  doors: {'open' if state.get('doors_open') else 'closed'}",
    ]
    head = ("id", "status", "pilot", "contactor", "ev", "soc %", "amps", "power W", "energy Wh")
    rows = [head]
    for c in state.get("connectors", []):
        ev = c.get("ev")
        world = c.get("world", {})
        meter = world.get("meter", {})
        rows.append(
            (
                str(c["id"]),
                str(c.get("status", "-")),
                str(c.get("pilot") or "-"),
                "closed" if world.get("contactor_closed") else "open",
                f"{ev['state']}{' paused' if ev.get('paused') else ''}" if ev else "-",
                f"{ev['soc_percent']:.1f}" if ev else "-",
                f"{ev['current_a']:.1f}" if ev else "-",
                f"{meter.get('power_w', 0.0):.0f}",
                f"{meter.get('energy_wh', 0.0):.1f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines.extend(
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
    for c in state.get("connectors", []):
        for f in c.get("faults", []):
            lines.append(f"connector {c['id']}: fault {f['code']} {f['error_code']} {f['info']}")
    for f in state.get("injected_faults", []):
        where = f"connector {f['connector']}" if f["connector"] else "station"
        lines.append(f"injected: {f['code']} ({where})")
    return "\n".join(lines)


def _onoff(value: Any) -> str:
    return "-" if value is None else "up" if value else "down"


def main(argv: list[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one ``evse sim ctl`` command; returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        method, path, body = _call(args)
        answer = request(args.url, method, path, body)
    except CtlError as exc:
        print(f"evse sim ctl: {exc}", file=err)
        return 1
    if args.command == "state" and not args.json:
        print(format_state(answer), file=out)
    elif args.command == "faults":
        for f in answer["faults"]:
            scope = " (station)" if f.get("station") else ""
            print(f"{f['code']:>5}  {f['description']}{scope}", file=out)
    else:
        print(json.dumps(answer, indent=2), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
