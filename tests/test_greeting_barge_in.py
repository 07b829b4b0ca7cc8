"""The greeting is always the first turn of the transcript, however early the caller cut
it off: an interrupted assistant turn holding what was heard of it (possibly nothing)."""

from __future__ import annotations

import functools

import pytest

from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.waiting import ended, transcript_has

pytest.importorskip("piper")
from tests.speech import synthesize_caller, to_ulaw_frames  # noqa: E402

# About three seconds of greeting: the caller is talking over it within its first second.
GREETING = ("Hello and welcome to the Bright Smile dental clinic, thank you so much for"
            " calling us today, this is the front desk and we are very happy to help you"
            " with anything you need, how can I help you today?")
LINE = "Hi I would like to book a cleaning"


@functools.cache
def said(text: str) -> list[bytes]:
    return to_ulaw_frames(*synthesize_caller(text))


async def test_a_greeting_cut_off_at_once_is_stored_as_interrupted(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders([LINE])) as server:
        client = await make_client(pool, initial_greeting=GREETING)
        call = FakeCall(server.url, to=client.phone_number)
        speech = said(LINE)
        await call.dial()
        await call.connect()
        await call.play(speech)                  # from the stream's first frame
        await transcript_has(pool, call, 3)
        await call.hang_up()
        conv = await ended(pool, call.call_sid)

    assert "clear" in call.events()              # the greeting was cut off
    first, user, answer = conv.transcript
    assert first["role"] == "assistant" and first["interrupted"] is True
    assert first["content"] == ""                # not one sentence of it had played
    assert first["timestamp"] <= user["timestamp"]
    assert (user["role"], user["content"]) == ("user", LINE)
    assert (answer["role"], answer["interrupted"]) == ("assistant", False)
