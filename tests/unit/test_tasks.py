"""One way to run a firmware task (firmware.tasks): a failure goes to its handler and
never ends the TaskGroup, a cancellation passes, and a task the station cannot take is
closed, not left un-awaited."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest

from firmware.tasks import TaskHost, start_supervised, supervised


class Boom(Exception):
    pass


async def fails() -> None:
    await asyncio.sleep(0)
    raise Boom("a defect")


async def test_a_failure_goes_to_the_handler_and_the_group_goes_on() -> None:
    failures: list[tuple[str, Exception]] = []
    done = asyncio.Event()

    async def sibling() -> None:
        await asyncio.sleep(0.01)
        done.set()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(supervised(fails(), "checks", lambda w, e: failures.append((w, e))))
        tg.create_task(sibling())
    assert done.is_set()  # the failing task did not cancel its sibling
    [(what, error)] = failures
    assert what == "checks" and isinstance(error, Boom)


async def test_a_cancellation_is_not_a_failure() -> None:
    failures: list[str] = []
    task = asyncio.create_task(
        supervised(asyncio.sleep(10), "sleeper", lambda w, _e: failures.append(w)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert failures == []


async def test_the_host_spawns_only_while_bound() -> None:
    failures: list[str] = []
    host = TaskHost(lambda what, _exc: failures.append(what))
    ran: list[str] = []

    async def job(name: str) -> None:
        ran.append(name)

    host.spawn(job("before"), "before")  # not running: closed, with a warning
    assert not host.running
    async with asyncio.TaskGroup() as tg:
        host.bind(tg)
        assert host.running
        host.spawn(job("while"), "while")
        host.spawn(fails(), "request")
    host.bind(None)
    host.spawn(job("after"), "after")
    assert ran == ["while"]
    assert failures == ["request"]


async def test_a_group_that_is_ending_closes_the_coroutine() -> None:
    async def job() -> None:
        raise AssertionError("never started")

    async with asyncio.TaskGroup() as tg:
        pass  # the group has ended: it takes no more tasks
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would be one
        assert not start_supervised(tg, job(), "late", lambda _w, _e: None)
        gc.collect()
