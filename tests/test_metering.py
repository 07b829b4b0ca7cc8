"""Balance seconds: atomic debits, never more than the balance, calls end when it runs out."""

from __future__ import annotations

import asyncio

import pytest

from db import usage
from loadtest import twilio_wire as wire
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.waiting import ended
from voice.twiml import SAY_NO_BALANCE


async def test_concurrent_debits_never_take_more_than_the_balance(pool):
    client = await make_client(pool, balance_seconds=5)
    debits = await asyncio.gather(*[
        usage.debit(pool, client_id=client.id, conversation_id=None, seconds=1,
                    reason="call_tick") for _ in range(20)])
    assert sum(d.seconds for d in debits) == 5
    assert sorted(d.balance_after for d in debits if d.seconds) == [0, 1, 2, 3, 4]
    assert await pool.fetchval("SELECT balance_seconds FROM clients WHERE id = $1", client.id) == 0
    assert await pool.fetchval("SELECT sum(seconds) FROM usage_ledger WHERE client_id = $1",
                               client.id) == 5


async def test_debit_rejects_negative_seconds_and_credit_is_ledgered(pool):
    client = await make_client(pool, balance_seconds=0)
    with pytest.raises(ValueError):
        await usage.debit(pool, client_id=client.id, conversation_id=None, seconds=-1,
                          reason="call_tick")
    assert await usage.credit(pool, client_id=client.id, seconds=30) == 30
    assert await pool.fetchval("SELECT seconds FROM usage_ledger WHERE client_id = $1",
                               client.id) == -30


async def test_two_calls_sharing_a_small_balance_spend_it_once_and_both_end(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        client = await make_client(pool, balance_seconds=3)
        calls = [FakeCall(server.url, to=client.phone_number) for _ in range(2)]
        for call in calls:
            await call.dial()
            assert call.instruction is not None
        for call in calls:
            await call.connect()
        await asyncio.gather(*(call.wait_closed(limit_seconds=30) for call in calls))
        convs = [await ended(pool, call.call_sid) for call in calls]

    spent = await pool.fetchval("SELECT coalesce(sum(seconds), 0) FROM usage_ledger"
                                " WHERE client_id = $1", client.id)
    assert spent == 3
    assert await pool.fetchval("SELECT balance_seconds FROM clients WHERE id = $1", client.id) == 0
    assert sum(c.billed_seconds for c in convs) == 3
    assert {c.end_reason for c in convs} == {"balance_exhausted"}
    for call in calls:  # each heard the goodbye before the line closed
        assert call.media_count() > 0


async def test_a_call_refused_at_the_stream_for_no_balance_is_finalized(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        client = await make_client(pool, balance_seconds=5)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await pool.execute("UPDATE clients SET balance_seconds = 0 WHERE id = $1", client.id)
        await call.connect()
        assert await call.wait_closed(limit_seconds=10) == 1008
        conv = await ended(pool, call.call_sid)
        redirects = server.twilio.redirects(call.call_sid)
    assert conv.end_reason == "no_balance"
    assert conv.billed_seconds == 0
    # The caller hears why, as at /voice, rather than silence and a hang-up.
    assert len(redirects) == 1
    assert wire.said(redirects[0]["form"]["Twiml"]) == [SAY_NO_BALANCE]
