"""SIGTERM: refuse new calls, let live ones finish or say goodbye, finalize each once."""

from __future__ import annotations

import asyncio

from loadtest import twilio_wire as wire
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.waiting import ended


async def test_shutdown_drains_live_calls_with_a_goodbye(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(), drain_seconds=0.5) as server:
        client = await make_client(pool)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect()
        await call.wait_for_agent()
        heard_before = call.media_count()

        shutdown = asyncio.create_task(server.server.shutdown_gracefully())
        late = FakeCall(server.url, to=client.phone_number)
        await late.dial()                      # a caller arriving while draining
        await call.wait_closed()
        await shutdown

    conv = await ended(pool, call.call_sid)
    assert conv.end_reason == "server_shutdown"
    assert call.media_count() > heard_before  # the goodbye was played
    assert late.instruction is None and "busy" in wire.said(late.twiml)[0]
    assert await pool.fetchval("SELECT count(*) FROM active_calls") == 0
