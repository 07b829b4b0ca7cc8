"""Sockets without a verified token never hold a call slot: they wait in a small room,
bounded per process and per address, for a few seconds at most."""

from __future__ import annotations

import asyncio
import functools
import logging

import httpx
import pytest
import websockets

from loadtest import twilio_wire as wire
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.waiting import ended, until

pytest.importorskip("piper")
from tests.speech import synthesize_caller, to_ulaw_frames  # noqa: E402

POLICY, TRY_AGAIN = 1008, 1013
START_TIMEOUT = 3.0
LINE = "I would like to book an appointment"


@functools.cache
def said(text: str) -> list[bytes]:
    return to_ulaw_frames(*synthesize_caller(text))


async def closed_code(ws: websockets.ClientConnection, within: float) -> int | None:
    """The code the server closed ``ws`` with, waiting at most ``within`` seconds."""
    try:
        await asyncio.wait_for(ws.wait_closed(), within)
    except TimeoutError:
        return None
    return ws.close_code


async def health(server) -> dict:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{server.url}/healthz")).json()


async def test_two_hundred_idle_sockets_leave_the_lines_free(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders([LINE]), max_calls=2,
                           stream_start_timeout_seconds=START_TIMEOUT) as server:
        client = await make_client(pool)
        url = f"{server.settings.public_ws_base}/ws/{client.id}/idle"
        idle = [await websockets.connect(url, ping_interval=None) for _ in range(200)]
        waiting = (await health(server))["unauthenticated_streams"]

        call = FakeCall(server.url, to=client.phone_number)
        response = await call.dial()
        assert call.instruction is not None, wire.said(response.text)   # not "busy"
        await call.connect()
        await call.wait_for_agent()                                     # the greeting
        await call.play(said(LINE))
        await call.wait_for_agent()                                     # the answer
        await call.hang_up()
        conv = await ended(pool, call.call_sid)
        # Every idle socket is closed by the server, within the start deadline.
        codes = await asyncio.gather(*(closed_code(ws, START_TIMEOUT + 5) for ws in idle))

    assert waiting == server.settings.stream_pending_per_address
    assert conv.end_reason == "caller_hangup"
    assert [(t["role"], t["content"]) for t in conv.transcript][1:] == [
        ("user", LINE), ("assistant", f"You said: {LINE}.")]
    assert set(codes) <= {POLICY, TRY_AGAIN} and None not in codes
    assert codes.count(POLICY) <= server.settings.stream_pending_per_address  # the deadline
    assert codes.count(TRY_AGAIN) >= 200 - server.settings.stream_pending_per_address


async def test_each_address_has_its_own_bound_and_the_oldest_makes_room(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(), stream_pending_per_address=2,
                           stream_pending_limit=5, stream_start_timeout_seconds=30) as server:
        client = await make_client(pool)
        url = f"{server.settings.public_ws_base}/ws/{client.id}/idle"

        async def open_from(host: str) -> websockets.ClientConnection:
            return await websockets.connect(url, ping_interval=None, local_addr=(host, 0))

        here = [await open_from("127.0.0.1") for _ in range(2)]
        there = [await open_from("127.0.0.2") for _ in range(3)]
        assert await closed_code(there[0], 5) == TRY_AGAIN   # its own address's oldest
        assert [ws.close_code for ws in here + there[1:]] == [None] * 4

        others = [await open_from(f"127.0.0.{n}") for n in (3, 4)]   # past the process bound
        assert await closed_code(here[0], 5) == TRY_AGAIN           # the oldest of all
        assert (await health(server))["unauthenticated_streams"] == 5
        for ws in here + there + others:
            await ws.close()


async def test_voice_counts_issued_tokens_not_sockets(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(), max_calls=1,
                           call_token_ttl_seconds=5) as server:
        client = await make_client(pool)
        first = FakeCall(server.url, to=client.phone_number)
        await first.dial()
        second = FakeCall(server.url, to=client.phone_number)
        await second.dial()
        assert first.instruction is not None
        assert second.instruction is None and "busy" in wire.said(second.twiml)[0]

        await first.connect()                 # the place /voice held is the call's
        await first.wait_for_agent()
        await first.hang_up()
        await ended(pool, first.call_sid)

        async def idle() -> bool:
            return (await health(server))["calls"] == 0

        await until(idle, what="the call to leave the registry")
        unused = FakeCall(server.url, to=client.phone_number)
        await unused.dial()                   # a token that is never used...
        assert unused.instruction is not None

        async def expired() -> bool:
            return (await health(server))["expected_calls"] == 0

        await until(expired, within=15, what="the unused token to expire")
        late = FakeCall(server.url, to=client.phone_number)
        await late.dial()                     # ...holds the place only until it expires
        assert late.instruction is not None


async def test_deep_json_as_the_first_message_is_refused_with_1008_and_no_traceback(
        pool, pg_url, caplog):
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        client = await make_client(pool)
        url = f"{server.settings.public_ws_base}/ws/{client.id}/x"
        codes = []
        for first in ("[" * 5000 + "]" * 5000, '{"event": "start", "start": ' + "{" * 900,
                      b"\x00binary"):
            async with websockets.connect(url) as ws:
                await ws.send(first)
                codes.append(await closed_code(ws, 10))
        assert (await health(server))["status"] == "ok"
    assert codes == [POLICY] * 3
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
