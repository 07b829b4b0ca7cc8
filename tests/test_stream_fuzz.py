"""No message ends a call: thousands of malformed ones, seeded, over one live call."""

from __future__ import annotations

import functools
import logging
import math
import random

import httpx
import pytest

from db import usage
from loadtest import probe_shapes
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.waiting import ended

pytest.importorskip("piper")
from tests.speech import synthesize_caller, to_ulaw_frames  # noqa: E402

SEED = 20261201
GENERATED = 2000
LINE = "I would like to book an appointment"


@functools.cache
def said(text: str) -> list[bytes]:
    return to_ulaw_frames(*synthesize_caller(text))


async def test_thousands_of_malformed_messages_do_not_end_the_call(pool, pg_url, caplog):
    messages = [raw for _, raw in probe_shapes.catalogue()]
    messages += probe_shapes.random_batch(random.Random(SEED), GENERATED)
    async with live_server(pg_url, providers=ScriptedProviders([LINE])) as server:
        client = await make_client(pool, balance_seconds=600)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect()
        await call.wait_for_agent()
        for i, raw in enumerate(messages):
            await call.send_raw(raw)
            if i % 100 == 99:
                await call.silence(0.04)   # Twilio's own audio keeps flowing in between
                assert not call.closed, f"the call ended after message {i}: {raw[:80]!r}"
        await call.silence(0.5)
        assert not call.closed

        # The call still works end to end, and the server still answers.
        await call.play(said(LINE))
        await call.wait_for_agent()
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{server.url}/healthz")).status_code == 200
        await call.hang_up()
        conv = await ended(pool, call.call_sid)

    assert len(messages) > GENERATED
    assert conv.end_reason == "caller_hangup"
    assert [(t["role"], t["content"]) for t in conv.transcript] == [
        ("assistant", "Hello, thanks for calling."), ("user", LINE),
        ("assistant", f"You said: {LINE}.")]
    ledger = await usage.for_conversation(pool, conv.id)
    assert sum(r["seconds"] for r in ledger) == math.ceil(conv.duration_seconds) \
        == conv.billed_seconds
    # Counted, not logged one by one: the first drop, then at most one line per interval.
    drops = [r for r in caplog.records if "malformed stream message" in r.getMessage()]
    assert 1 <= len(drops) <= 2
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
