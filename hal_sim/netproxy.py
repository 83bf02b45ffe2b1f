"""A loopback TCP proxy that can cut the station's link to the central system.

The simulation routes the OCPP WebSocket through a :class:`NetworkProxy` (via
``SimWiring.set_tcp_override``). ``set_online(False)`` aborts every open connection and
refuses new ones, so the firmware sees exactly what a dropped network looks like from a
socket: a connection that dies under it and reconnects that fail until the link returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)

_CHUNK = 65536


class NetworkProxy:
    """Forward TCP connections from a loopback port to ``target_host:target_port``.

    ``await start()`` binds the listening socket (``listen_port=0`` picks a free port, see
    :attr:`address`); ``await close()`` stops it and drops every connection. Each accepted
    connection is served by a handler task the proxy keeps and cancels on a cut, so no task
    outlives the proxy.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
    ) -> None:
        self.target = (target_host, target_port)
        self._listen = (listen_host, listen_port)
        self._server: asyncio.Server | None = None
        self._online = True
        self._handlers: set[asyncio.Task[None]] = set()
        self.connections_total = 0
        self.refused_total = 0

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) the proxy listens on; valid after :meth:`start`."""
        if self._server is None:
            raise RuntimeError("proxy not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def online(self) -> bool:
        return self._online

    @property
    def open_connections(self) -> int:
        return len(self._handlers)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, *self._listen)
        log.info("network proxy %s:%d -> %s:%d", *self.address, *self.target)

    def set_online(self, online: bool) -> None:
        """Cut (``False``) or restore (``True``) the link. A cut aborts open connections."""
        if online == self._online:
            return
        self._online = online
        log.info("network proxy to %s:%d %s", *self.target, "restored" if online else "cut")
        if not online:
            for task in list(self._handlers):
                task.cancel()

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        # The handlers swallow their own cancellation (see _serve); wait for them so
        # their sockets are closed before we return.
        await asyncio.gather(*handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio.start_server runs one such coroutine per client as its own task; we keep
        # it in _handlers so a cut or close() can cancel it.
        if not self._online:
            self.refused_total += 1
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            try:
                up_reader, upstream = await asyncio.open_connection(*self.target)
            except OSError as exc:
                log.warning("network proxy: target %s:%d unreachable: %s", *self.target, exc)
                return
            self.connections_total += 1
            async with asyncio.TaskGroup() as tg:
                tg.create_task(_pipe(reader, upstream))
                tg.create_task(_pipe(up_reader, writer))
        except asyncio.CancelledError:
            # A cut: the handler ends here, its sockets are aborted below. The task is
            # started by asyncio's server and nobody awaits it except close().
            pass
        finally:
            self._handlers.discard(task)
            # abort() rather than close(): a cut network delivers no orderly shutdown.
            writer.transport.abort()
            if upstream is not None:
                upstream.transport.abort()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Copy bytes until EOF, then half-close the destination."""
    with contextlib.suppress(ConnectionError):
        while data := await src.read(_CHUNK):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
