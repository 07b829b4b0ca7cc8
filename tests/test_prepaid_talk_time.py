"""Prepaid talk time: a call only talks seconds it has already debited; the unused part of
its last tick comes back; a caller that stops reading is dropped within the send timeout."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import pytest

from db import conversations, usage
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.waiting import ended, until
from voice.session import GOODBYES

BALANCE = 20
CALLS = 6
# From the moment the paid time runs out to the goodbye's first audio: the pipeline's own
# latency (the tone TTS is instant), not talk time; generous, for a loaded test machine. An
# unpaid tick is far more: 15 s at the product's default tick.
GOODBYE_LAG = timedelta(seconds=2)


def goodbye_started(conv) -> datetime | None:
    for turn in conv.transcript:
        if turn["role"] == "assistant" and turn["content"] == GOODBYES["balance_exhausted"]:
            return datetime.fromisoformat(turn["timestamp"])
    return None


@pytest.mark.parametrize("tick", [3, 15])
async def test_six_calls_on_twenty_seconds_talk_at_most_twenty_seconds(pool, pg_url, tick):
    async with live_server(pg_url, providers=ScriptedProviders(),
                           meter_tick_seconds=tick) as server:
        client = await make_client(pool, balance_seconds=BALANCE)
        calls = [FakeCall(server.url, to=client.phone_number) for _ in range(CALLS)]
        for call in calls:
            await call.dial()
            assert call.instruction is not None
        await asyncio.gather(*(call.connect() for call in calls))
        await asyncio.gather(*(call.wait_closed(limit_seconds=60) for call in calls))
        convs = [await ended(pool, call.call_sid) for call in calls]

    ledger = await pool.fetch("SELECT seconds, reason FROM usage_ledger WHERE client_id = $1",
                              client.id)
    assert sum(r["seconds"] for r in ledger) == BALANCE
    assert await pool.fetchval("SELECT balance_seconds FROM clients WHERE id = $1",
                               client.id) == 0
    assert sum(c.billed_seconds for c in convs) == BALANCE
    talked = timedelta()
    for conv in convs:
        if conv.end_reason == "no_balance":      # refused at the stream: never talked
            assert conv.billed_seconds == 0 and not conv.transcript
            continue
        assert conv.end_reason == "balance_exhausted", conv
        goodbye = goodbye_started(conv)
        assert goodbye is not None, conv.transcript
        before_goodbye = goodbye - conv.started_at
        # No call talks a second it has not paid for before its goodbye starts.
        assert before_goodbye <= timedelta(seconds=conv.billed_seconds) + GOODBYE_LAG
        talked += before_goodbye
    assert talked <= timedelta(seconds=BALANCE) + CALLS * GOODBYE_LAG


async def test_the_unused_part_of_the_last_tick_is_credited_back(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(),
                           meter_tick_seconds=15) as server:
        client = await make_client(pool, balance_seconds=600)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect()

        async def prepaid() -> bool:
            conv = await conversations.get_by_call_sid(pool, call.call_sid)
            return conv is not None and conv.billed_seconds == 15

        await until(prepaid, what="the first tick to be debited at the start")
        await call.wait_for_agent()
        await call.hang_up()
        conv = await ended(pool, call.call_sid)

    ledger = await usage.for_conversation(pool, conv.id)
    assert [r["reason"] for r in ledger] == ["call_tick", "call_refund"]
    assert ledger[0]["seconds"] == 15 and ledger[1]["seconds"] < 0
    assert sum(r["seconds"] for r in ledger) == math.ceil(conv.duration_seconds) \
        == conv.billed_seconds < 15
    assert await pool.fetchval("SELECT balance_seconds FROM clients WHERE id = $1",
                               client.id) == 600 - conv.billed_seconds


async def test_a_caller_that_stops_reading_is_dropped_within_the_send_timeout(pool, pg_url):
    send_timeout = 2.0
    async with live_server(pg_url, providers=ScriptedProviders(),
                           ws_send_timeout_seconds=send_timeout) as server:
        client = await make_client(pool, balance_seconds=600)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect()
        await call.wait_for_agent()
        call._ws.transport.pause_reading()      # reads nothing more, but keeps sending
        stopped = datetime.now(UTC)

        async def gone() -> bool:
            await call.silence(0.1)
            conv = await conversations.get_by_call_sid(pool, call.call_sid)
            return conv.status == "ended"

        await until(gone, within=send_timeout + 10, what="the server to drop the call")
        conv = await ended(pool, call.call_sid)
        call._ws.transport.abort()

    assert conv.ended_at - stopped <= timedelta(seconds=send_timeout + 1)
    assert conv.billed_seconds == math.ceil(conv.duration_seconds)
