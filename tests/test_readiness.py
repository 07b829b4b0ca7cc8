"""Admission by measured load and ``/readyz``: a process that is loading its models,
draining, or over its event-loop budget answers /voice with the busy TwiML and says why."""

from __future__ import annotations

import asyncio
import threading

import httpx

from loadtest import twilio_wire as wire
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.waiting import ended, until
from voice.load import WINDOW_TICKS, LoadMonitor, Sample
from voice.readiness import Readiness
from voice.registry import CallRegistry

IDLE = Sample(lag_ms=1.0, loop_cpu_s=0.01, wall_s=0.25)
LAGGING = Sample(lag_ms=400.0, loop_cpu_s=0.05, wall_s=0.25)
BUSY_LOOP = Sample(lag_ms=5.0, loop_cpu_s=0.25, wall_s=0.25)


def monitor(**budgets: float) -> LoadMonitor:
    # A tick an hour: the test's samples are the only ones in the window.
    return LoadMonitor(**({"max_loop_lag_ms": 100, "max_cpu_percent": 90} | budgets),
                       tick_seconds=3600)


def fill(load: LoadMonitor, sample: Sample) -> None:
    for _ in range(WINDOW_TICKS):
        load.record(sample)


async def readyz(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(f"{url}/readyz")


def test_budgets_read_the_window_and_zero_turns_one_off():
    load = monitor()
    assert load.over_budget() is None                     # nothing measured yet
    fill(load, IDLE)
    assert load.over_budget() is None
    fill(load, LAGGING)
    assert load.over_budget() == "event-loop lag 400 ms over the 100 ms budget"
    fill(load, BUSY_LOOP)
    assert load.over_budget() == "event-loop CPU 100 % over the 90 % budget"
    load.record(IDLE)                                     # one quiet tick is not enough
    assert load.over_budget() is not None
    fill(load, IDLE)
    load.record(Sample(lag_ms=2500.0, loop_cpu_s=2.5, wall_s=2.75))   # one long stall...
    assert load.over_budget() is None                     # ...refuses nothing after it
    off = monitor(max_loop_lag_ms=0, max_cpu_percent=0)
    fill(off, LAGGING)
    fill(off, BUSY_LOOP)
    assert off.over_budget() is None


async def test_the_running_monitor_measures_the_loop():
    load = LoadMonitor(max_loop_lag_ms=100, max_cpu_percent=90, tick_seconds=0.01)
    load.start()
    try:
        async def measured() -> bool:
            return load.samples >= 3

        await until(measured, what="three ticks")
    finally:
        await load.stop()
    now = load.current()
    assert now.loop_lag_ms >= 0 and now.loop_cpu_percent >= 0


async def test_over_the_lag_budget_voice_is_busy_and_readyz_says_why(pool, pg_url, caplog):
    load = monitor()
    async with live_server(pg_url, providers=ScriptedProviders(),
                           app_options={"load": load}) as server:
        client = await make_client(pool)
        ready = await readyz(server.url)
        assert ready.status_code == 200 and ready.json()["ready"] is True

        fill(load, LAGGING)
        ready = await readyz(server.url)
        refused = FakeCall(server.url, to=client.phone_number)
        await refused.dial()

        fill(load, IDLE)
        again = await readyz(server.url)
        accepted = FakeCall(server.url, to=client.phone_number)
        await accepted.dial()

    assert ready.status_code == 503
    assert ready.json()["ready"] is False
    assert ready.json()["reasons"] == ["event-loop lag 400 ms over the 100 ms budget"]
    assert ready.json()["loop_lag_ms"] == 400
    assert refused.instruction is None and "busy" in wire.said(refused.twiml)[0]
    assert f"call {refused.call_sid} refused: event-loop lag 400 ms" in caplog.text
    assert again.status_code == 200 and again.json()["reasons"] == []
    assert accepted.instruction is not None


async def test_over_the_cpu_budget_voice_is_busy(pool, pg_url):
    load = monitor()
    async with live_server(pg_url, providers=ScriptedProviders(),
                           app_options={"load": load}) as server:
        client = await make_client(pool)
        fill(load, BUSY_LOOP)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        ready = await readyz(server.url)
    assert call.instruction is None and "busy" in wire.said(call.twiml)[0]
    assert ready.status_code == 503
    assert ready.json()["reasons"] == ["event-loop CPU 100 % over the 90 % budget"]


async def test_not_ready_while_the_models_load(pool, pg_url):
    release = threading.Event()

    def slow_models(_settings: object) -> None:
        release.wait(30)      # a thread, as the real loader runs: the loop keeps serving
        return None

    async with live_server(pg_url, providers=None,
                           app_options={"load_models": slow_models}) as server:
        client = await make_client(pool)
        loading = await readyz(server.url)
        async with httpx.AsyncClient() as http:
            alive = await http.get(f"{server.url}/healthz")
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        release.set()

        async def ready() -> bool:
            return (await readyz(server.url)).status_code == 200

        await until(ready, what="the models to have loaded")

    assert loading.status_code == 503
    assert loading.json()["reasons"] == ["models loading"]
    assert alive.status_code == 200
    assert call.instruction is None and "busy" in wire.said(call.twiml)[0]


async def test_not_ready_while_draining(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        client = await make_client(pool)
        live = FakeCall(server.url, to=client.phone_number)
        await live.dial()
        await live.connect()
        await live.wait_for_agent()
        drain = asyncio.create_task(server.calls.drain(30))

        async def draining() -> httpx.Response | None:
            response = await readyz(server.url)
            return response if response.status_code == 503 else None

        response = await until(draining, what="/readyz to report draining")
        late = FakeCall(server.url, to=client.phone_number)
        await late.dial()
        await live.hang_up()
        await ended(pool, live.call_sid)
        await drain

    assert response.json()["reasons"] == ["draining"]
    assert late.instruction is None and "busy" in wire.said(late.twiml)[0]


def test_a_full_process_is_not_ready_but_takes_the_calls_it_holds_places_for():
    calls = CallRegistry(1)
    readiness = Readiness(calls, monitor())
    assert readiness.reasons() == ["models loading"]
    readiness.set_models_loaded()
    assert readiness.reasons() == [] and readiness.refusal() is None
    assert calls.expect("CA1", 60)
    assert readiness.reasons() == ["at capacity (1 calls)"]
    assert readiness.refusal() is None   # MAX_CALLS is applied by the registry itself
