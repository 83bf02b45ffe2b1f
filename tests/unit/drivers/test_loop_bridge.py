"""The thread → event-loop bridge (drivers.loop_bridge) the pilot sampler, the NFC reader
and the GPIO edge watch hand their results over with."""

from __future__ import annotations

import asyncio
import threading

from drivers.loop_bridge import LoopBridge


async def test_a_call_from_a_thread_runs_on_the_loop_thread() -> None:
    bridge = LoopBridge.to_running_loop("test")
    arrived: asyncio.Future[tuple[str, int, int]] = asyncio.get_running_loop().create_future()
    posted: list[bool] = []

    def on_loop(text: str, number: int) -> None:
        arrived.set_result((text, number, threading.get_ident()))

    thread = threading.Thread(target=lambda: posted.append(bridge.post(on_loop, "card", 7)))
    thread.start()
    text, number, ran_on = await asyncio.wait_for(arrived, 2.0)
    thread.join()
    assert (text, number) == ("card", 7)
    assert ran_on == threading.get_ident() != thread.ident  # the loop's thread, not the poster's
    assert posted == [True]


def test_a_call_after_the_loop_closed_is_dropped_without_an_error() -> None:
    loop = asyncio.new_event_loop()
    bridge = LoopBridge(loop, "test")
    loop.close()
    calls: list[int] = []
    outcome: list[bool | BaseException] = []

    def post_late() -> None:
        try:
            outcome.append(bridge.post(calls.append, 1))
        except BaseException as exc:  # the thread must not die with a traceback
            outcome.append(exc)

    thread = threading.Thread(target=post_late)
    thread.start()
    thread.join(2.0)
    assert outcome == [False]  # dropped: the poster is told to stop
    assert calls == []
