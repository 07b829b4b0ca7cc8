"""Whole offline calls over the WebSocket with caller voices of other engines than the
agent's (flite and festival WAVs in tests/fixtures/callers): Whisper hears, the built-in
receptionist answers, Piper speaks, and the rows land in PostgreSQL."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from db import messages, tool_executions
from pipelines.providers import DefaultProviderFactory
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server, server_settings
from tests.test_offline_call import appointments, hear_out
from tests.waiting import ended
from tools.outcome import BOOKED, MESSAGE_TAKEN, NO_ACTION, call_outcome

pytest.importorskip("piper")
from loadtest import voices  # noqa: E402

TZ = "America/New_York"
# Whole calls of four or five turns: Whisper and Piper are slow on a busy machine.
pytestmark = pytest.mark.timeout(300)
EVERY_DAY = {d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CALLERS = Path(__file__).parent / "fixtures" / "callers"


@functools.cache
def said(name: str) -> list[bytes]:
    return voices.to_ulaw_frames(*voices.load_wav(CALLERS / f"{name}.wav"))


@pytest.fixture
async def offline_server(pool, pg_url, local_models):
    providers = DefaultProviderFactory(server_settings(pg_url, 0), local_models)
    async with live_server(pg_url, providers=providers) as server:
        yield server


async def call_with(server, pool, lines: list[str], *, hang_up: bool = True):
    client = await make_client(pool, timezone=TZ, business_hours=EVERY_DAY)
    call = FakeCall(server.url, to=client.phone_number, caller="+15005550006")
    await call.dial()
    await call.connect()
    await hear_out(pool, call, 1)
    for n, line in enumerate(lines, start=1):
        await call.play(said(line))
        if n < len(lines) or hang_up:
            await hear_out(pool, call, 1 + 2 * n)
    if hang_up:
        await call.hang_up()
    else:
        await call.wait_closed(limit_seconds=60)  # the agent says goodbye and hangs up
    return client, call, await ended(pool, call.call_sid)


def local_day(days_ahead: int = 0, weekday: int | None = None) -> str:
    today = datetime.now(ZoneInfo(TZ)).date()
    if weekday is not None:
        return (today + timedelta(days=(weekday - today.weekday()) % 7 or 7)).isoformat()
    return (today + timedelta(days=days_ahead)).isoformat()


def booked_as(rows: list[dict]) -> list[tuple[str, str, str]]:
    out = []
    for r in rows:
        local = r["starts_at"].astimezone(ZoneInfo(TZ))
        out.append((local.date().isoformat(), local.strftime("%H:%M"), r["name"]))
    return out


async def test_a_booking_with_the_name_corrected_at_the_read_back(offline_server, pool):
    client, _, conv = await call_with(offline_server, pool, ["fix_1", "fix_2", "fix_3", "fix_4"])
    spoken = [(t["role"], t["content"]) for t in conv.transcript]
    assert booked_as(await appointments(pool, client.id)) == [
        (local_day(1), "15:00", "Linda Park")], spoken
    readbacks = [c for r, c in spoken if r == "assistant" and c.startswith("Let me confirm")]
    assert [r.split("for ")[-1] for r in readbacks] == ["Linda Mark. Shall I book it?",
                                                        "Linda Park. Shall I book it?"], spoken
    assert await call_outcome(pool, conv.id) == BOOKED


async def test_a_booking_given_name_first_then_time_then_day(offline_server, pool):
    client, _, conv = await call_with(offline_server, pool, ["order_1", "order_2", "order_3"])
    spoken = [(t["role"], t["content"]) for t in conv.transcript]
    assert booked_as(await appointments(pool, client.id)) == [
        (local_day(weekday=4), "10:00", "Maria Garcia")], spoken
    assert spoken[2] == ("assistant", "Thanks, Maria. How can I help you today?"), spoken
    assert not any(c.startswith("Sorry, I didn't catch") for r, c in spoken if r == "assistant")


async def test_a_message_is_taken_after_three_turns_it_cannot_use(offline_server, pool):
    client, call, conv = await call_with(offline_server, pool, ["lost_1", "lost_2", "lost_3"],
                                         hang_up=False)
    spoken = [(t["role"], t["content"]) for t in conv.transcript]
    agent = [c for r, c in spoken if r == "assistant"]
    assert all(a != b for a, b in zip(agent, agent[1:], strict=False)), spoken
    taken = await messages.for_conversation(pool, client.id, conv.id)
    assert [(m.reason, m.callback_phone, m.contact_id) for m in taken] == [
        ("not_understood", "+15005550006", conv.contact_id)], spoken
    assert "Purple elephants" in taken[0].body
    assert agent[-1].endswith("Goodbye!") and conv.end_reason == "agent_hangup"
    assert await appointments(pool, client.id) == []
    assert await call_outcome(pool, conv.id) == MESSAGE_TAKEN


async def test_an_hours_question_is_answered_from_the_business_hours(offline_server, pool):
    client, call, conv = await call_with(offline_server, pool, ["hours_1", "hours_2"],
                                         hang_up=False)
    spoken = [(t["role"], t["content"]) for t in conv.transcript]
    assert spoken[2] == ("assistant", "Yes, we're open on Saturday from 9 AM to 5 PM. "
                                      "Would you like to book an appointment?"), spoken
    audit = [a["tool_name"] for a in await tool_executions.for_conversation(pool, conv.id)]
    assert audit == ["end_call"], spoken  # no slot lookup for an hours question
    assert await call_outcome(pool, conv.id) == NO_ACTION
