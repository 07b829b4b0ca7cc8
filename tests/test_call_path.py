"""Whole calls over a real WebSocket against the running app, read back from PostgreSQL."""

from __future__ import annotations

import functools
import math

import httpx
import pytest

from api.auth import issue_access_token
from db import tool_executions, usage
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.waiting import ended

pytest.importorskip("piper")
from tests.speech import synthesize_caller, to_ulaw_frames  # noqa: E402

LINES = ["I would like to book an appointment please", "Thank you very much"]


@functools.cache
def caller_frames(text: str) -> list[bytes]:
    return to_ulaw_frames(*synthesize_caller(text))


async def active_call_ids(server, pool, owner_id: int) -> list[str]:
    secret = await pool.fetchval("SELECT value FROM server_secrets WHERE name = 'jwt'")
    token = issue_access_token(secret, owner_id)
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{server.url}/api/active-calls",
                                  headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    return [c["call_id"] for c in response.json()]


async def test_replayed_call_leaves_transcript_usage_and_no_active_call(pool, pg_url):
    providers = ScriptedProviders(LINES)
    async with live_server(pg_url, providers=providers) as server:
        client = await make_client(pool, balance_seconds=600)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect()
        await call.wait_for_agent()                       # the greeting
        assert await active_call_ids(server, pool, client.owner_id) == [call.call_sid]
        for line in LINES:
            await call.play(caller_frames(line))
            await call.wait_for_agent()
        await call.hang_up()
        conv = await ended(pool, call.call_sid)
        assert await active_call_ids(server, pool, client.owner_id) == []

    assert conv.end_reason == "caller_hangup"
    roles = [(t["role"], t["content"]) for t in conv.transcript]
    assert roles == [
        ("assistant", "Hello, thanks for calling."),
        ("user", LINES[0]), ("assistant", f"You said: {LINES[0]}."),
        ("user", LINES[1]), ("assistant", f"You said: {LINES[1]}."),
    ]
    assert all(t["timestamp"] and t["interrupted"] is False for t in conv.transcript)
    assert len(conv.turn_metrics) >= 2
    for m in conv.turn_metrics:
        # The breakdown adds up to the turn: the endpointing wait plus what came after it.
        assert m["speech_end_to_audio_ms"] > m["vad_stop_to_audio_ms"] > 0
        assert "endpointing_wait" in m["stages_ms"]
        assert sum(m["stages_ms"].values()) <= m["speech_end_to_audio_ms"] + 1
    ledger = await usage.for_conversation(pool, conv.id)
    charged = sum(row["seconds"] for row in ledger)
    assert charged == math.ceil(conv.duration_seconds) == conv.billed_seconds
    assert {row["reason"] for row in ledger} <= {"call_tick", "call_final", "call_refund"}
    assert await pool.fetchval("SELECT balance_seconds FROM clients WHERE id = $1",
                               client.id) == 600 - charged
    assert await pool.fetchval("SELECT count(*) FROM active_calls") == 0
    assert conv.contact_id is not None
    media = [r.message for r in call.received if r.message["event"] == "media"]
    assert media and all(m["streamSid"] == call.stream_sid for m in media)
    assert set(call.events()) <= {"media", "clear", "mark"}


async def test_goodbye_ends_the_call_from_the_agent_side_with_an_audit_row(pool, pg_url):
    providers = ScriptedProviders(["Okay goodbye"])
    async with live_server(pg_url, providers=providers) as server:
        client = await make_client(pool)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect()
        await call.wait_for_agent()
        await call.play(caller_frames("Okay goodbye"))
        await call.wait_closed()
        conv = await ended(pool, call.call_sid)

    assert conv.end_reason == "agent_hangup"
    assert conv.transcript[-1]["content"] == "Goodbye!"
    audit = await tool_executions.for_conversation(pool, conv.id)
    assert [(a["tool_name"], a["status"]) for a in audit] == [("end_call", "success")]
    # The goodbye was sent in full before the socket closed.
    last_media = max(i for i, r in enumerate(call.received) if r.message["event"] == "media")
    assert last_media == len(call.received) - 1 or call.received[-1].message["event"] != "media"


async def test_socket_drop_without_stop_is_finalized_as_socket_closed(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        client = await make_client(pool)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect()
        await call.wait_for_agent()
        await call.close()                      # no "stop": the connection just goes
        conv = await ended(pool, call.call_sid)
    assert conv.end_reason == "socket_closed"
    assert await pool.fetchval("SELECT count(*) FROM active_calls") == 0


async def test_malformed_messages_mid_call_are_dropped_and_the_call_goes_on(pool, pg_url):
    providers = ScriptedProviders(["Still there"])
    async with live_server(pg_url, providers=providers) as server:
        client = await make_client(pool)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect()
        await call.wait_for_agent()
        for junk in ["{not json", "[1, 2]", '"text"', b"\x00\x01binary",
                     '{"event": "media", "media": {"payload": "%%%not base64%%%"}}',
                     '{"event": "media"}', '{"event": "unknown-event"}',
                     '{"event": "media", "media": {"payload": "' + "A" * 70_000 + '"}}']:
            await call.send_raw(junk)
        await call.play(caller_frames("Still there"))
        await call.wait_for_agent()
        await call.hang_up()
        conv = await ended(pool, call.call_sid)
    assert ("user", "Still there") in [(t["role"], t["content"]) for t in conv.transcript]
    assert conv.end_reason == "caller_hangup"
