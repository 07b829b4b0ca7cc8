"""The bench server's stall probe: a held event loop and a collection show in its window."""

from __future__ import annotations

import gc
import time

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.loop_stalls import PATH, LoopStallProbe, with_probe
from tests.waiting import until


async def ticks_past(probe: LoopStallProbe, n: int) -> None:
    async def counted() -> bool:
        return probe.window.ticks >= n

    await until(counted, what=f"{n} probe ticks")


async def test_a_held_loop_is_its_longest_stall_and_a_collection_is_timed() -> None:
    probe = LoopStallProbe(period_s=0.005)
    probe.start()
    try:
        await ticks_past(probe, 2)
        probe.read()
        time.sleep(0.08)  # noqa: ASYNC251 - the stimulus: the loop held for 80 ms
        gc.collect()
        await ticks_past(probe, 2)
        window = probe.read()
        assert window.longest_ms >= 70
        assert window.over_50_ms == 1 and window.over_20_ms >= 1
        assert window.gc_count >= 1 and window.gc_longest_ms > 0
        assert probe.window.ticks == 0 and probe.window.gc_count == 0  # a new window
    finally:
        await probe.stop()
    assert probe._on_gc not in gc.callbacks


async def test_the_window_is_served_as_json_and_the_app_still_answers() -> None:
    app = Starlette(routes=[Route("/healthz", lambda _r: PlainTextResponse("ok"))])
    probe = LoopStallProbe()
    probe.window.ticks, probe.window.longest_ms = 40, 31.456
    transport = httpx.ASGITransport(app=with_probe(app, probe))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        first = (await http.get(PATH)).json()
        again = (await http.get(PATH)).json()
        assert (await http.get("/healthz")).text == "ok"
    assert first["ticks"] == 40 and first["longest_ms"] == 31.46
    assert again["ticks"] == 0 and again["longest_ms"] == 0
