"""Whole calls whose LLM (an OpenAI-compatible server) uses the calendar tools, with Google
Calendar (the local server) as the calendar of record: one call books, a second call from
the same number finds and moves the booking, a third cancels it; the event follows in Google,
the appointments API and each conversation show every change; a calendar that cannot be
reached leaves the caller without a booking and told so."""

from __future__ import annotations

import functools
import time

import httpx
import pytest
from cryptography.fernet import Fernet
from pipecat.services.openai.llm import OpenAILLMService

from api.auth import issue_access_token
from db import appointments, calendar_credentials, clients, tool_executions
from db.clients import Client
from db.sealing import Sealer
from pipelines.providers import BUILTIN_LLM, CallServices, ProviderPlan, system_instruction
from pipelines.receptionist.service import create_receptionist_llm
from tests.caller import FakeCall
from tests.factories import make_client
from tests.fake_calendars import fake_google_calendar
from tests.fake_openai import fake_openai
from tests.live import live_server
from tests.providers import ScriptedSTT, ToneTTS
from tests.test_api_appointments import DAY, at, utc
from tests.waiting import ended

pytest.importorskip("piper")
from tests.speech import synthesize_caller, to_ulaw_frames  # noqa: E402

KEY = Fernet.generate_key().decode()
CALLER = "+14155550123"
TOOLS = ["get_available_slots", "book_appointment", "find_appointments",
         "reschedule_appointment", "cancel_appointment", "end_call"]


@functools.cache
def said(text: str) -> list[bytes]:
    return to_ulaw_frames(*synthesize_caller(text))


class LLMProviders:
    """Scripted ears and a tone voice around a real OpenAI LLM service (the fake server)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.lines: list[str] = []

    def plan(self, client: Client) -> ProviderPlan:
        return ProviderPlan(stt="test/scripted", llm=client.llm_model, tts="test/tone",
                            tts_voice="tone")

    def build(self, plan: ProviderPlan, client: Client, *, call_sid: str) -> CallServices:
        if plan.llm == BUILTIN_LLM:
            return CallServices(stt=ScriptedSTT(list(self.lines)), tts=ToneTTS(),
                                llm=create_receptionist_llm(
                                    business_name=client.name, timezone=client.timezone,
                                    business_hours=client.business_hours,
                                    phone_number=client.phone_number))
        llm = OpenAILLMService(api_key="sk-test", base_url=self.base_url,
                               settings=OpenAILLMService.Settings(
                                   model=plan.llm.split("/", 1)[1],
                                   system_instruction=system_instruction(client)))
        return CallServices(stt=ScriptedSTT(list(self.lines)), llm=llm, tts=ToneTTS())


async def phone_call(server, pool, providers: LLMProviders, client: Client,
                     lines: list[str], *, spoken: str | None = None):
    """One call from CALLER saying ``lines`` (the last one a goodbye); its conversation.

    ``spoken`` is played for every line instead of the line itself: a short phrase is one
    speech segment for sure, and the scripted ears hand out one line per segment.
    """
    providers.lines = lines
    call = FakeCall(server.url, to=client.phone_number, caller=CALLER)
    assert (await call.dial()).status_code == 200
    await call.connect()
    await call.wait_for_agent()
    for line in lines[:-1]:
        await call.play(said(spoken or line))
        await call.wait_for_agent(limit_seconds=30)
    await call.play(said(spoken or lines[-1]))
    await call.wait_closed(limit_seconds=30)
    return await ended(pool, call.call_sid)


@pytest.fixture
async def world(pool, pg_url):
    async with fake_google_calendar() as google, fake_openai() as llm:
        providers = LLMProviders(llm.url)
        overrides = {"encryption_key": KEY, "openai_base_url": llm.url, **google.settings()}
        async with live_server(pg_url, providers=providers, **overrides) as server:
            client = await make_client(pool, llm_model="openai/gpt-4o-mini",
                                       enabled_tools=TOOLS, timezone="America/New_York")
            tokens = google.issue("owner@dental.example")
            secret = {"access_token": tokens["access_token"],
                      "refresh_token": tokens["refresh_token"],
                      "expires_at": int(time.time()) + 3600}
            await calendar_credentials.upsert(
                pool, client_id=client.id, kind="oauth", account_email="owner@dental.example",
                scopes=[], ciphertext=Sealer.from_config(KEY).seal(secret))
            yield server, providers, llm, google, client


async def api_get(server, pool, owner_id: int, path: str) -> dict:
    secret = await pool.fetchval("SELECT value FROM server_secrets WHERE name = 'jwt'")
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get(path, headers={
            "Authorization": f"Bearer {issue_access_token(secret, owner_id)}"})
    assert response.status_code == 200, response.text
    return response.json()


async def test_book_then_move_then_cancel_over_three_calls(world, pool):
    server, providers, llm, google, client = world
    day = DAY.isoformat()

    llm.tool_rules = {"book": ("book_appointment",
                               {"date": day, "time": "10:00", "name": "Ada Lovelace"})}
    first = await phone_call(server, pool, providers, client,
                             ["I would like to book ten in the morning", "Thanks, goodbye."])
    [booking] = await appointments.for_conversation(pool, first.id)
    assert (booking.status, booking.phone, booking.starts_at) == ("booked", CALLER, utc(at(10)))
    event = google.events[booking.external_event_id]
    assert "Ada Lovelace" in event["summary"] and CALLER in event["summary"]
    listed = await api_get(server, pool, client.owner_id,
                           f"/api/clients/{client.id}/appointments")
    assert [a["id"] for a in listed["items"]] == [booking.id]

    llm.tool_rules = {"which": ("find_appointments", {}),
                      "move": ("reschedule_appointment",
                               {"appointment_id": booking.id, "date": day, "time": "11:30"})}
    second = await phone_call(server, pool, providers, client,
                              ["Which appointments do I have", "Please move it to half past"
                               " eleven", "Thanks, goodbye."])
    assert second.contact_id == first.contact_id and second.id != first.id
    found = [t["content"] for t in second.transcript if t["role"] == "assistant"
             and t["content"].startswith("Done:")]
    assert str(booking.id) in found[0] and "10:00" in found[0]
    moved = await appointments.get(pool, client.id, booking.id)
    assert moved.starts_at == utc(at(11, 30))
    assert utc(google.events[booking.external_event_id]["start"]["dateTime"]) == utc(at(11, 30))

    llm.tool_rules = {"cancel": ("cancel_appointment", {"appointment_id": booking.id})}
    third = await phone_call(server, pool, providers, client,
                             ["Please cancel my appointment", "Thanks, goodbye."])
    assert (await appointments.get(pool, client.id, booking.id)).status == "cancelled"
    assert google.events == {}

    # Both sides show each change: the appointment's history and each call's record.
    detail = await api_get(server, pool, client.owner_id,
                           f"/api/clients/{client.id}/appointments/{booking.id}")
    assert [(c["action"], c["conversation_id"]) for c in detail["changes"]] == [
        ("booked", first.id), ("rescheduled", second.id), ("cancelled", third.id)]
    assert detail["cancelled_by"] == "caller"
    for conv, action in ((first, "booked"), (second, "rescheduled"), (third, "cancelled")):
        shown = await api_get(server, pool, client.owner_id,
                              f"/api/clients/{client.id}/conversations/{conv.id}")
        assert [(a["appointment_id"], a["action"]) for a in shown["appointments"]] == [
            (booking.id, action)]
        assert shown["turn_metrics"] and shown["transferred_to"] is None
    audit = await tool_executions.for_conversation(pool, second.id)
    assert [(a["tool_name"], a["status"]) for a in audit] == [
        ("find_appointments", "success"), ("reschedule_appointment", "success"),
        ("end_call", "success")]


async def test_an_unreachable_calendar_books_nothing_and_the_caller_is_told(world, pool):
    server, providers, llm, google, client = world
    google.fail_next = 10
    llm.tool_rules = {"book": ("book_appointment", {"date": DAY.isoformat(), "time": "10:00",
                                                    "name": "Ada Lovelace"})}
    conv = await phone_call(server, pool, providers, client,
                            ["I would like to book ten in the morning", "Thanks, goodbye."])
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 0
    [tool_row] = [a for a in await tool_executions.for_conversation(pool, conv.id)
                  if a["tool_name"] == "book_appointment"]
    assert tool_row["output"]["booked"] is False
    assert tool_row["output"]["reason"] == "calendar_unreachable"
    # What the model was handed (and read back) says it cannot reach the calendar.
    told = [t["content"] for t in conv.transcript if t["role"] == "assistant"]
    assert any("calendar_unreachable" in t and "take a message" in t for t in told)


async def test_the_receptionist_takes_a_message_when_the_calendar_cannot_be_reached(
        world, pool):
    server, providers, _, google, client = world
    client = await clients.update_for_org(
        pool, client.organization_id, client.id, llm_model="builtin/receptionist",
        enabled_tools=[*TOOLS, "take_message"])
    google.fail_next = 10
    conv = await phone_call(server, pool, providers, client, [
        f"This is Ada Lovelace. Can I come in on {DAY:%A %B} {DAY.day} at 10 am?",
        "No thanks. Goodbye."], spoken="Hello there")
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 0
    audit = [(a["tool_name"], a["output"] and a["output"].get("reason"))
             for a in await tool_executions.for_conversation(pool, conv.id)]
    assert audit[:2] == [("get_available_slots", "calendar_unreachable"),
                         ("take_message", None)], audit
    [message] = await pool.fetch("SELECT name, callback_phone, body, reason FROM messages")
    assert (message["name"], message["callback_phone"], message["reason"]) == (
        "Ada Lovelace", CALLER, "calendar_unreachable")
    assert "at 10 AM" in message["body"]
    told = [t["content"] for t in conv.transcript if t["role"] == "assistant"]
    assert any("can't reach our calendar" in t for t in told), told
    assert not any("booked for" in t.lower() for t in told), told


async def test_the_receptionist_books_moves_and_cancels_over_three_calls(world, pool):
    server, providers, _, google, client = world
    await clients.update_for_org(pool, client.organization_id, client.id,
                                 llm_model="builtin/receptionist",
                                 enabled_tools=[*TOOLS, "take_message"])
    on_day = f"{DAY:%A %B} {DAY.day}"
    first = await phone_call(server, pool, providers, client, [
        f"This is Ada Lovelace. Can I come in on {on_day} at 10 am?", "Yes.",
        "No thanks. Goodbye."], spoken="Hello there")
    [booking] = await appointments.for_conversation(pool, first.id)
    assert (booking.status, booking.name, booking.starts_at) == (
        "booked", "Ada Lovelace", utc(at(10)))
    assert "Ada Lovelace" in google.events[booking.external_event_id]["summary"]

    second = await phone_call(server, pool, providers, client, [
        "I need to move my appointment.", f"{on_day} at 11:30 am.", "Yes.",
        "No thanks. Goodbye."], spoken="Hello there")
    moved = await appointments.get(pool, client.id, booking.id)
    assert moved.starts_at == utc(at(11, 30))
    assert utc(google.events[booking.external_event_id]["start"]["dateTime"]) == utc(at(11, 30))
    told = [t["content"] for t in second.transcript if t["role"] == "assistant"]
    assert any("Shall I move it?" in t for t in told), told

    third = await phone_call(server, pool, providers, client, [
        "Please cancel my appointment.", "Yes.", "No thanks. Goodbye."], spoken="Hello there")
    assert (await appointments.get(pool, client.id, booking.id)).status == "cancelled"
    assert google.events == {}
    told = [t["content"] for t in third.transcript if t["role"] == "assistant"]
    assert any("at 11:30 AM. Shall I cancel it?" in t for t in told), told

    for conv, tools in ((second, ["find_appointments", "get_available_slots",
                                  "reschedule_appointment", "end_call"]),
                        (third, ["find_appointments", "cancel_appointment", "end_call"])):
        audit = await tool_executions.for_conversation(pool, conv.id)
        assert [(a["tool_name"], a["status"]) for a in audit] == [
            (t, "success") for t in tools]
