"""A deterministic guard against blocking calls on the event loop's thread.

Rule 4 of the project: blocking libraries (smbus2, pyserial, nfcpy, subprocesses) run in
threads and hand their results back; nothing sleeps on the loop. Instead of timing the
loop's steps (a timing test fails on a busy machine and passes a blocking call that
happens to be quick), :class:`LoopGuard` wraps the blocking primitives the station could
reach and records every call made on the thread that runs the event loop, with the
firmware's frames that made it. Calls from worker threads (``asyncio.to_thread``, the
simulated wires' own threads) are what is meant to happen and are not recorded.

What is wrapped: ``time.sleep``; every I/O method of the simulated I2C adapter
(:class:`hal_sim.fake_smbus.FakeSMBus`, the wire a real ``smbus2.SMBus`` would be);
``socket.socket`` I/O on a socket in blocking mode (asyncio's own sockets are
non-blocking); ``serial.Serial`` reads and writes with a timeout (pymodbus polls its port
with none); ``subprocess`` runs and waits.
SQLite is not: the store commits on the loop by design (``firmware/storage/store.py``).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hal_sim.fake_smbus import FakeSMBus

_OURS = ("/firmware/", "/drivers/")
_SMBUS_IO = ("read_byte_data", "write_byte_data", "read_word_data", "write_word_data",
             "read_i2c_block_data", "write_i2c_block_data")
_SOCKET_IO = ("recv", "recv_into", "recvfrom", "send", "sendall", "sendto", "connect",
              "accept")


class LoopGuard:
    """Records blocking calls made on the event loop's thread while the loop runs."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._thread = threading.get_ident()
        self._undo: list[tuple[Any, str, Any]] = []

    def _on_loop(self) -> bool:
        if threading.get_ident() != self._thread:
            return False
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False  # the thread, but no loop running (set-up, tear-down)
        return True

    def _record(self, what: str) -> None:
        frames = [f"{f.filename.rsplit('/', 2)[-2]}/{f.filename.rsplit('/', 1)[-1]}:"
                  f"{f.lineno} {f.name}"
                  for f in traceback.extract_stack()[:-2]  # without _record and the wrapper
                  if any(part in f.filename for part in _OURS)]
        self.calls.append(f"{what} from {' <- '.join(reversed(frames)) or 'outside firmware'}")

    def wrap(self, owner: Any, name: str, what: str,
             blocking: Callable[..., bool] | None = None) -> None:
        """Record calls of ``owner.name`` on the loop (where ``blocking(*args)`` holds)."""
        original = getattr(owner, name)
        guard = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if guard._on_loop() and (blocking is None or blocking(*args)):
                guard._record(what)
            return original(*args, **kwargs)

        setattr(owner, name, wrapper)
        self._undo.append((owner, name, original))

    def install(self) -> None:
        self.wrap(time, "sleep", "time.sleep")
        for name in _SMBUS_IO:
            self.wrap(FakeSMBus, name, f"I2C {name}")
        for name in _SOCKET_IO:
            self.wrap(socket.socket, name, f"blocking socket.{name}",
                      blocking=lambda sock, *_: sock.gettimeout() != 0.0)
        self.wrap(subprocess, "run", "subprocess.run")
        self.wrap(subprocess.Popen, "wait", "subprocess wait")
        self.wrap(subprocess.Popen, "communicate", "subprocess communicate")
        try:
            import serial
        except ImportError:
            return
        # pymodbus's serial transport polls with timeout 0 / write_timeout 0: not blocking.
        for name in ("read", "readline"):
            self.wrap(serial.Serial, name, f"serial {name}",
                      blocking=lambda port, *_: port.timeout != 0)
        self.wrap(serial.Serial, "write", "serial write",
                  blocking=lambda port, *_: port.write_timeout != 0)

    def uninstall(self) -> None:
        while self._undo:
            owner, name, original = self._undo.pop()
            setattr(owner, name, original)


@contextmanager
def no_blocking_on_loop() -> Iterator[LoopGuard]:
    """Guard the calling thread's event loop for the duration of the block."""
    guard = LoopGuard()
    guard.install()
    try:
        yield guard
    finally:
        guard.uninstall()
