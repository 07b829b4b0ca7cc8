"""The media stream opens a call only with a fresh, unused token for this call and client."""

from __future__ import annotations

import time

import pytest
import websockets

from db import conversations
from loadtest import twilio_wire as wire
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.waiting import ended, until
from voice import call_tokens

POLICY_VIOLATION = 1008


@pytest.fixture
async def server(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as srv:
        yield srv


async def refused(call: FakeCall) -> int | None:
    return await call.wait_closed(limit_seconds=10)


async def test_replayed_token_is_refused_after_the_call_used_it(server, pool):
    client = await make_client(pool)
    first = FakeCall(server.url, to=client.phone_number)
    await first.dial()
    await first.connect()
    await first.wait_for_agent()
    await first.hang_up()

    replay = FakeCall(server.url, to=client.phone_number, call_sid=first.call_sid)
    replay.instruction = first.instruction
    await replay.connect()
    assert await refused(replay) == POLICY_VIOLATION
    assert (await ended(pool, first.call_sid)).end_reason == "caller_hangup"


async def test_token_used_concurrently_twice_opens_one_call(server, pool):
    client = await make_client(pool)
    a = FakeCall(server.url, to=client.phone_number)
    await a.dial()
    b = FakeCall(server.url, to=client.phone_number, call_sid=a.call_sid)
    b.instruction = a.instruction
    await a.connect()
    await b.connect()

    async def one_closed() -> bool:
        return a.closed or b.closed

    await until(one_closed, what="one of the two streams to be refused")
    loser, winner = (a, b) if a.closed else (b, a)
    assert loser.close_code == POLICY_VIOLATION
    await winner.wait_for_agent()           # the other one is a live call
    assert not winner.closed
    await winner.hang_up()


async def test_wrong_call_sid_is_refused_before_any_provider_is_built(pool, pg_url):
    providers = ScriptedProviders()
    async with live_server(pg_url, providers=providers) as server:
        client = await make_client(pool)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect(call_sid=wire.new_sid("CA"))
        assert await refused(call) == POLICY_VIOLATION
    assert providers.built == 0
    assert (await conversations.get_by_call_sid(pool, call.call_sid)).status == "pending"


async def test_token_for_another_client_is_refused(pool, pg_url):
    providers = ScriptedProviders()
    async with live_server(pg_url, providers=providers) as server:
        mine = await make_client(pool)
        other = await make_client(pool)
        call = FakeCall(server.url, to=mine.phone_number)
        await call.dial()
        url = call.instruction.url.replace(f"/ws/{mine.id}/", f"/ws/{other.id}/")
        await call.connect(url=url)
        assert await refused(call) == POLICY_VIOLATION
    assert providers.built == 0


@pytest.mark.parametrize("token", ["", "garbage", "a.b", "x" * 600])
async def test_missing_or_forged_tokens_are_refused(pool, pg_url, token):
    providers = ScriptedProviders()
    async with live_server(pg_url, providers=providers) as server:
        client = await make_client(pool)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect(token=token)
        assert await refused(call) == POLICY_VIOLATION
    assert providers.built == 0


async def test_expired_token_is_refused(pool, pg_url):
    providers = ScriptedProviders()
    async with live_server(pg_url, providers=providers) as server:
        client = await make_client(pool)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        secret = await pool.fetchval("SELECT value FROM server_secrets WHERE name = 'call_token'")
        stale, _ = call_tokens.issue(secret, call_sid=call.call_sid, client_id=client.id,
                                     now=time.time() - 3600)
        await call.connect(token=stale)
        assert await refused(call) == POLICY_VIOLATION
    assert providers.built == 0


@pytest.mark.parametrize("first", ['{"event": "media"}', "not json", "[]",
                                   '{"event": "start", "start": {"callSid": 5}}'])
async def test_a_stream_that_does_not_start_like_twilio_is_refused(pool, pg_url, first):
    providers = ScriptedProviders()
    async with live_server(pg_url, providers=providers) as server:
        client = await make_client(pool)
        async with websockets.connect(f"{server.settings.public_ws_base}/ws/{client.id}/x") as ws:
            await ws.send(first)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
    assert closed.value.rcvd.code == POLICY_VIOLATION
    assert providers.built == 0


def test_token_unit_checks():
    token, claims = call_tokens.issue("s3cret", call_sid="CA1", client_id=7, now=1000.0)
    assert call_tokens.verify("s3cret", token, call_sid="CA1", client_id=7, ttl_seconds=60,
                              now=1010.0) == claims
    for kwargs in ({"call_sid": "CA2", "client_id": 7}, {"call_sid": "CA1", "client_id": 8}):
        with pytest.raises(call_tokens.InvalidToken):
            call_tokens.verify("s3cret", token, ttl_seconds=60, now=1010.0, **kwargs)
    with pytest.raises(call_tokens.InvalidToken):
        call_tokens.verify("other", token, call_sid="CA1", client_id=7, ttl_seconds=60,
                           now=1010.0)
    with pytest.raises(call_tokens.InvalidToken):
        call_tokens.verify("s3cret", token, call_sid="CA1", client_id=7, ttl_seconds=60,
                           now=1061.0)
