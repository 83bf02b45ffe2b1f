"""systemd notification (Type=notify) and the watchdog heartbeat.

The heartbeat runs on the event loop, so a blocked loop stops it and systemd restarts the
service (WatchdogSec in systemd/evse.service). No dependency: one datagram per message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    """Send ``message`` (e.g. "READY=1") to systemd; False when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        log.warning("systemd notify failed for %s", message)
        return False
    return True


def watchdog_interval() -> float | None:
    """Half of systemd's WatchdogSec, or None when no watchdog is set for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 2_000_000


async def watchdog() -> None:
    """Ping systemd's watchdog until cancelled (returns at once when there is none)."""
    interval = watchdog_interval()
    if interval is None:
        return
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)
