"""The offline receptionist end to end: Whisper hears, the built-in engine books, Piper speaks."""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from db import appointments as appointment_rows
from db import tool_executions
from pipelines.providers import DefaultProviderFactory
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server, server_settings
from tests.waiting import ended, transcript_has

pytest.importorskip("piper")
from tests.speech import synthesize_caller, to_ulaw_frames  # noqa: E402

TZ = "America/New_York"
EVERY_DAY = {d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@functools.cache
def said(text: str) -> list[bytes]:
    return to_ulaw_frames(*synthesize_caller(text))


def tomorrow() -> str:
    return (datetime.now(ZoneInfo(TZ)) + timedelta(days=1)).date().isoformat()


@pytest.fixture
async def offline_server(pool, pg_url, local_models):
    providers = DefaultProviderFactory(server_settings(pg_url, 0), local_models)
    async with live_server(pg_url, providers=providers) as server:
        yield server


async def converse(pool, call: FakeCall, lines: list[str]) -> None:
    """Dial, then say each line once the agent has answered the previous one in full
    (Whisper and Piper run slower on a busy machine; the caller waits as a person would)."""
    await call.dial()
    await call.connect()
    await hear_out(pool, call, 1)
    for n, line in enumerate(lines, start=1):
        await call.play(said(line))
        await hear_out(pool, call, 1 + 2 * n)


async def hear_out(pool, call: FakeCall, turns: int) -> None:
    """Keep the line open (silence, as Twilio streams) until the agent has answered."""
    waiting = asyncio.ensure_future(transcript_has(pool, call, turns))
    while not waiting.done():
        if call.closed:
            await asyncio.sleep(0.1)  # silence() returns at once on a closed line
        else:
            await call.silence(0.1)
    waiting.result()
    await call.until_quiet()


async def appointments(pool, client_id: int) -> list[dict]:
    rows = await pool.fetch("SELECT name, phone, starts_at, status FROM appointments"
                            " WHERE client_id = $1 ORDER BY id", client_id)
    return [dict(r) for r in rows]


async def test_offline_call_books_an_appointment_and_says_goodbye(offline_server, pool):
    # The client asks for Deepgram, but no key is configured: the call runs on Whisper.
    client = await make_client(pool, timezone=TZ, business_hours=EVERY_DAY,
                               stt_model="deepgram/nova-3")
    call = FakeCall(offline_server.url, to=client.phone_number, caller="+15005550006")
    await converse(pool, call, ["I would like to book an appointment tomorrow at 3 pm.",
                                "My name is John Smith.", "Yes."])
    await call.play(said("That's all, thank you. Goodbye."))
    await call.wait_closed(limit_seconds=30)
    conv = await ended(pool, call.call_sid)

    booked = await appointments(pool, client.id)
    assert len(booked) == 1, conv.transcript
    starts = booked[0]["starts_at"].astimezone(ZoneInfo(TZ))
    assert (starts.date().isoformat(), starts.strftime("%H:%M")) == (tomorrow(), "15:00")
    assert booked[0]["name"] == "John Smith" and booked[0]["phone"] == "+15005550006"
    audit = [(a["tool_name"], a["status"])
             for a in await tool_executions.for_conversation(pool, conv.id)]
    assert ("book_appointment", "success") in audit and audit[-1] == ("end_call", "success")
    assert conv.end_reason == "agent_hangup"
    assert "bye" in conv.transcript[-1]["content"].lower()
    assert conv.providers["stt"] == "local/whisper-tiny.en" and conv.providers["tts"] == "local"
    assert [(f["kind"], f["requested"]) for f in conv.provider_fallbacks] == [
        ("stt", "deepgram/nova-3")]


async def test_two_callers_for_one_slot_one_books_the_other_hears_alternatives(
        offline_server, pool):
    client = await make_client(pool, timezone=TZ, business_hours=EVERY_DAY)
    calls = [FakeCall(offline_server.url, to=client.phone_number, caller=number)
             for number in ("+15005550006", "+15005550007")]
    lines = ["I would like to book an appointment tomorrow at 10 am.", "My name is John Smith."]
    await asyncio.gather(*(converse(pool, call, lines) for call in calls))
    # Both have heard the read-back; both confirm at once.
    await asyncio.gather(*(confirm(pool, call) for call in calls))
    booked = await appointments(pool, client.id)
    assert len(booked) == 1
    transcripts = []
    for call in calls:
        await call.hang_up()
        transcripts.append((await ended(pool, call.call_sid)).transcript)
    replies = [" ".join(t["content"].lower() for t in transcript if t["role"] == "assistant")
               for transcript in transcripts]
    spoken = [[(t["role"], t["content"]) for t in transcript] for transcript in transcripts]
    assert sum("you're booked" in r for r in replies) == 1, spoken
    loser = next(r for r in replies if "you're booked" not in r)
    assert "just taken" in loser, loser


async def test_a_please_that_cuts_off_the_read_back_gets_it_said_again(offline_server, pool):
    # "Yes, please" with a long pause: "yes" books, "please" lands on the read-back.
    client = await make_client(pool, timezone=TZ, business_hours=EVERY_DAY)
    call = FakeCall(offline_server.url, to=client.phone_number, caller="+15005550006")
    await converse(pool, call, ["I would like to book an appointment tomorrow at 11 am.",
                                "My name is John Smith."])
    spoken = call.media_count()
    await call.play(said("Yes."))
    while call.media_count() == spoken:              # the read-back has started
        await call.silence(0.02)
    await call.play(said("Please."))
    await hear_out(pool, call, 8)                    # (9 when the cut reply was half heard)
    await call.hang_up()
    conv = await ended(pool, call.call_sid)

    turns = [(t["role"], t["content"], t["interrupted"]) for t in conv.transcript]
    assert len(await appointments(pool, client.id)) == 1, turns
    callers = [content.lower().strip(" .!?") for role, content, _ in turns if role == "user"]
    assert callers[-2:] == ["yes", "please"], turns
    role, content, interrupted = turns[-1]
    assert role == "assistant" and not interrupted, turns
    assert content.startswith("You're booked for "), turns
    assert content.endswith("Is there anything else I can help with?"), turns


async def confirm(pool, call: FakeCall) -> None:
    await call.play(said("Yes."))
    await hear_out(pool, call, 7)


MANAGING = ["get_available_slots", "book_appointment", "find_appointments",
            "reschedule_appointment", "cancel_appointment", "take_message", "end_call"]


async def test_a_caller_moves_then_cancels_their_booking_by_phone(offline_server, pool):
    client = await make_client(pool, timezone=TZ, business_hours=EVERY_DAY,
                               enabled_tools=MANAGING)
    day = datetime.fromisoformat(tomorrow()).date()
    starts = datetime.combine(day, datetime.min.time().replace(hour=10), ZoneInfo(TZ))
    held = await appointment_rows.insert(
        pool, client_id=client.id, starts_at=starts, ends_at=starts + timedelta(minutes=30),
        name="John Smith", phone="+15005550006")

    call = FakeCall(offline_server.url, to=client.phone_number, caller="+15005550006")
    await converse(pool, call, ["I need to move my appointment.", "Tomorrow at 3 pm.", "Yes."])
    await call.play(said("That's all, thank you. Goodbye."))
    await call.wait_closed(limit_seconds=30)
    moved = await ended(pool, call.call_sid)
    [row] = await appointments(pool, client.id)
    assert row["starts_at"].astimezone(ZoneInfo(TZ)).strftime("%H:%M") == "15:00", \
        moved.transcript
    assert row["status"] == "booked"

    call = FakeCall(offline_server.url, to=client.phone_number, caller="+15005550006")
    await converse(pool, call, ["Please cancel my appointment.", "Yes."])
    await call.play(said("That's all, thank you. Goodbye."))
    await call.wait_closed(limit_seconds=30)
    cancelled = await ended(pool, call.call_sid)
    [row] = await appointments(pool, client.id)
    assert row["status"] == "cancelled", cancelled.transcript
    said_back = [t["content"] for t in cancelled.transcript if t["role"] == "assistant"]
    assert any("at 3 PM. Shall I cancel it?" in t for t in said_back), said_back
    for conv, tool in ((moved, "reschedule_appointment"), (cancelled, "cancel_appointment")):
        audit = [(a["tool_name"], a["status"], a["input"].get("appointment_id"))
                 for a in await tool_executions.for_conversation(pool, conv.id)]
        assert (tool, "success", held.id) in audit, audit
