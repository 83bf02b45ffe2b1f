"""The network-cut proxy: forwards, cuts live connections, refuses new ones, restores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hal_sim.netproxy import NetworkProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[NetworkProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    p = NetworkProxy(host, port)
    await p.start()
    yield p
    await p.close()
    server.close()
    await server.wait_closed()


async def _roundtrip(proxy: NetworkProxy, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*proxy.address)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), 5)
    finally:
        writer.close()


async def test_forwards_both_ways(proxy: NetworkProxy) -> None:
    assert await _roundtrip(proxy, b"hello csms") == b"hello csms"
    big = bytes(range(256)) * 1000
    assert await _roundtrip(proxy, big) == big


async def test_cut_drops_live_connection_and_refuses_new(proxy: NetworkProxy) -> None:
    reader, writer = await asyncio.open_connection(*proxy.address)
    writer.write(b"ping")
    assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"

    proxy.set_online(False)
    assert not proxy.online
    # The live connection dies: the reader sees EOF or a reset, never more data.
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        await asyncio.wait_for(reader.readexactly(1), 5)
    writer.close()

    # New connections are accepted by the socket but dropped before any byte passes.
    reader2, writer2 = await asyncio.open_connection(*proxy.address)
    writer2.write(b"anyone?")
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        await asyncio.wait_for(reader2.readexactly(1), 5)
    writer2.close()
    assert proxy.refused_total >= 1
    assert proxy.open_connections == 0


async def test_restore_lets_connections_through_again(proxy: NetworkProxy) -> None:
    proxy.set_online(False)
    proxy.set_online(True)
    assert proxy.online
    assert await _roundtrip(proxy, b"back") == b"back"


async def test_unreachable_target_closes_client() -> None:
    # Bind then close a socket to find a port with nobody listening.
    probe = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    p = NetworkProxy("127.0.0.1", port)
    await p.start()
    try:
        reader, writer = await asyncio.open_connection(*p.address)
        with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
            await asyncio.wait_for(reader.readexactly(1), 5)
        writer.close()
    finally:
        await p.close()


async def test_close_drops_open_connections(proxy: NetworkProxy) -> None:
    reader, writer = await asyncio.open_connection(*proxy.address)
    writer.write(b"x")
    assert await asyncio.wait_for(reader.readexactly(1), 5) == b"x"
    await proxy.close()
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        await asyncio.wait_for(reader.readexactly(1), 5)
    writer.close()
    with pytest.raises(RuntimeError):
        _ = proxy.address
