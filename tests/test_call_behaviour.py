"""What callers notice: marks, hang-ups that never clip the goodbye, barge-in, silence,
maximum duration, key presses and transfers. Each against a real WebSocket, with the
fake Twilio echoing marks and clears, and a local server standing in for Twilio's REST API."""

from __future__ import annotations

import functools
import logging
import time

import pytest

from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import FAREWELL, STORY, ScriptedProviders
from tests.waiting import ended, until
from voice.session import AGENT_GOODBYE

pytest.importorskip("piper")
from tests.speech import synthesize_caller, to_ulaw_frames  # noqa: E402


@functools.cache
def said(text: str) -> list[bytes]:
    return to_ulaw_frames(*synthesize_caller(text))


def index_of_last(call: FakeCall, event: str) -> int:
    return max(i for i, r in enumerate(call.received) if r.message["event"] == event)


async def start_call(server, pool, **client_values) -> tuple[FakeCall, object]:
    client = await make_client(pool, **client_values)
    call = FakeCall(server.url, to=client.phone_number)
    await call.dial()
    await call.connect()
    await call.wait_for_agent()
    return call, client


async def test_goodbye_plays_in_full_before_the_rest_hang_up(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(["Okay goodbye"])) as server:
        call, _ = await start_call(server, pool)
        await call.play(said("Okay goodbye"))
        await call.wait_closed()
        conv = await ended(pool, call.call_sid)
        hangups = server.twilio.hangups(call.call_sid)

    assert conv.end_reason == "agent_hangup"
    # On the wire: the goodbye's media, then its mark, then nothing but marks.
    assert index_of_last(call, "media") < index_of_last(call, "mark")
    goodbye_mark = call.received[index_of_last(call, "mark")].message["mark"]["name"]
    echoed_at = dict(call.echoed_marks)[goodbye_mark]
    assert len(hangups) == 1 and hangups[0]["form"] == {"Status": "completed"}
    assert hangups[0]["at"] >= echoed_at           # hung up only after the caller heard it
    assert all(r.at <= hangups[0]["at"] for r in call.received
               if r.message["event"] == "media")   # no media after the hang-up


async def test_the_caller_talking_over_the_goodbye_does_not_cut_it_off(pool, pg_url):
    # No comma: a pause inside the first line could make it two speech segments, and the
    # scripted STT hands out one line per segment.
    providers = ScriptedProviders(["That's all bye", "Thank you"])
    async with live_server(pg_url, providers=providers) as server:
        call, _ = await start_call(server, pool)
        greeting_packets = call.media_count()
        await call.play(said("That's all bye"))
        while call.media_count() == greeting_packets:   # the line stays open, as on Twilio
            await call.silence(0.1)
        await call.play(said("Thank you"))           # "thanks, bye" over the agent's goodbye
        await call.wait_closed()
        conv = await ended(pool, call.call_sid)

    assert conv.end_reason == "agent_hangup", conv.transcript
    media_at = [i for i, event in enumerate(call.events()) if event == "media"]
    assert "clear" not in call.events()[media_at[greeting_packets]:]   # from the goodbye on
    assert conv.transcript[-1] == {**conv.transcript[-1], "role": "assistant",
                                   "content": " ".join(FAREWELL), "interrupted": False}
    # The goodbye's last sentence was played out (its mark echoed) before the hang-up.
    assert index_of_last(call, "media") < index_of_last(call, "mark")


async def test_a_goodbye_cut_off_before_the_caller_was_muted_is_said_again(pool, pg_url):
    # The race as a replayed call showed it: the caller's turn ends, the agent calls
    # end_call, and the caller's next words (a VAD start 3 ms after the turn's end) interrupt
    # the goodbye before the ending mutes them. The hooks are called in that order here.
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        call, _ = await start_call(server, pool)
        session = server.calls.get(call.call_sid)
        greeting_packets = call.media_count()
        await session.end_call("agent_hangup")
        session.on_assistant_turn("", "2026-12-08T10:00:00Z", True, lambda _heard: None)
        session.on_assistant_turn("", "2026-12-08T10:00:00Z", True, lambda _heard: None)
        await call.wait_closed()
        conv = await ended(pool, call.call_sid)
        hangups = server.twilio.hangups(call.call_sid)

    assert conv.end_reason == "agent_hangup"
    assert call.media_count() > greeting_packets              # no dead air: it was said
    goodbyes = [t for t in conv.transcript if t["content"] == AGENT_GOODBYE]
    assert len(goodbyes) == 1 and goodbyes[0]["interrupted"] is False   # once, in full
    goodbye_mark = call.received[index_of_last(call, "mark")].message["mark"]["name"]
    assert len(hangups) == 1 and hangups[0]["at"] >= dict(call.echoed_marks)[goodbye_mark]


async def test_every_sentence_gets_a_mark(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(["Tell me a story"])) as server:
        call, _ = await start_call(server, pool)
        await call.play(said("Tell me a story"))
        await call.wait_for_agent()
        await call.hang_up()
        await ended(pool, call.call_sid)
    marks = [r.message["mark"]["name"] for r in call.received if r.message["event"] == "mark"]
    assert len(marks) == 1 + len(STORY)            # the greeting and each story sentence
    assert [name for name, _ in call.echoed_marks] == marks


async def test_hanging_up_twice_or_after_the_caller_left_is_harmless(pool, pg_url, caplog):
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        call, _ = await start_call(server, pool)
        session = server.calls.get(call.call_sid)
        await session.end_call("agent_hangup")
        await session.end_call("agent_hangup")
        await session.end_with_goodbye("max_duration")
        await call.wait_closed()
        first = await ended(pool, call.call_sid)

        gone, _ = await start_call(server, pool)
        session = server.calls.get(gone.call_sid)
        await gone.hang_up()                         # the caller hangs up first
        second = await ended(pool, gone.call_sid)
        await session.end_with_goodbye("balance_exhausted")
        await session.end_call("agent_hangup")

        assert len(server.twilio.hangups(call.call_sid)) == 1
        assert server.twilio.hangups(gone.call_sid) == []
    assert first.end_reason == "agent_hangup" and second.end_reason == "caller_hangup"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_barge_in_keeps_only_what_was_heard_in_transcript_and_context(pool, pg_url):
    providers = ScriptedProviders(["Tell me a story", "Stop please"])
    async with live_server(pg_url, providers=providers) as server:
        call, _ = await start_call(server, pool)
        await call.play(said("Tell me a story"))

        async def first_sentence_heard() -> bool:   # the caller has heard part one
            return len(call.echoed_marks) >= 2

        await until(first_sentence_heard, what="the first story sentence to play")
        await call.play(said("Stop please"))         # talks over part two
        interrupted_until = time.monotonic()         # no new reply before the caller stops
        await call.wait_for_agent()
        await call.hang_up()
        conv = await ended(pool, call.call_sid)

    story_started = call.echoed_marks[1][1]
    clear_at = next(r.at for r in call.received
                    if r.message["event"] == "clear" and r.at > story_started)
    # Nothing of the interrupted reply was sent after the clear.
    assert not [r for r in call.received
                if r.message["event"] == "media" and clear_at < r.at <= interrupted_until]
    story = next(t for t in conv.transcript if t["content"].startswith("Part one"))
    assert story["interrupted"] is True
    assert story["content"].startswith(STORY[0]) and STORY[-1] not in story["content"]
    # The agent's next inference saw the same truncated turn, not the whole story.
    last_context = providers.llms[0].contexts[-1]
    assistant = [m["content"] for m in last_context if m["role"] == "assistant"]
    assert story["content"] in assistant
    assert not any(STORY[-1] in str(a) for a in assistant)


async def test_silence_gets_one_prompt_then_a_goodbye(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        call, _ = await start_call(server, pool, settings={"silence_timeout": 1})
        await call.wait_closed(limit_seconds=20)
        conv = await ended(pool, call.call_sid)
    assistant = [t["content"] for t in conv.transcript if t["role"] == "assistant"]
    assert assistant == ["Hello, thanks for calling.", "Are you still there?",
                         "I haven't heard anything, so I'll hang up now. Goodbye."]
    assert conv.end_reason == "silence"


async def test_max_duration_ends_the_call_with_a_goodbye(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        call, _ = await start_call(server, pool, settings={"max_call_duration": 2})
        await call.wait_closed(limit_seconds=20)
        conv = await ended(pool, call.call_sid)
        hangups = server.twilio.hangups(call.call_sid)
    assert conv.end_reason == "max_duration"
    assert "time limit" in conv.transcript[-1]["content"]
    assert len(hangups) == 1


async def test_a_socket_that_goes_quiet_is_torn_down(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(),
                           stream_idle_seconds=1.0) as server:
        call, _ = await start_call(server, pool)
        # The caller's side stops reading and sending without closing: a dead peer.
        await until(lambda: _closed(call), within=15, what="the server to drop the stream")
        conv = await ended(pool, call.call_sid)
    assert conv.end_reason == "stream_timeout"


async def _closed(call: FakeCall) -> bool:
    return call.closed


async def test_operator_digit_transfers_the_call(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        call, _ = await start_call(server, pool, settings={"transfer_number": "+15005550009"})
        await call.press("0")

        async def redirected() -> list:
            return server.twilio.redirects(call.call_sid)

        redirect = (await until(redirected, what="the REST redirect"))[0]
        await call.hang_up()                  # Twilio ends the stream once it dials
        conv = await ended(pool, call.call_sid)
    assert "<Dial>+15005550009</Dial>" in redirect["form"]["Twiml"]
    assert conv.end_reason == "transferred" and conv.transferred_to == "+15005550009"
    assert conv.transcript[-1]["content"] == "Please hold while I transfer you."


async def test_operator_digit_without_twilio_credentials_is_declined(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(),
                           twilio_account_sid=None) as server:
        call, _ = await start_call(server, pool, settings={"transfer_number": "+15005550009"})
        await call.press("0")
        await call.wait_for_agent()
        await call.hang_up()
        conv = await ended(pool, call.call_sid)
    assert conv.transcript[-1]["content"] == "Sorry, I can't transfer you right now."
    assert conv.transferred_to is None and conv.end_reason == "caller_hangup"


async def test_other_digits_reach_the_agent(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        call, _ = await start_call(server, pool)
        await call.press("4")
        await call.press("2")
        await call.press("#")
        await call.wait_for_agent()
        await call.hang_up()
        conv = await ended(pool, call.call_sid)
    assert ("user", "DTMF: 42#") in [(t["role"], t["content"]) for t in conv.transcript]


async def test_transcripts_switched_off_keep_no_words_but_bill_and_measure(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(["Hello there"])) as server:
        call, client = await start_call(server, pool, settings={"enable_transcription": False})
        await call.play(said("Hello there"))
        await call.wait_for_agent()
        await call.hang_up()
        conv = await ended(pool, call.call_sid)
    assert conv.transcript == []
    assert conv.turn_metrics and conv.billed_seconds > 0
