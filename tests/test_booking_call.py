"""A booking call, end to end: the owner's webhook receives appointment.booked and call.ended
(signed, verified with the README's snippet), the caller's confirmation text reaches the
local Twilio server, the reminder is queued for its time; then the caller texts back."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pipecat.frames.frames import FunctionCallFromLLM, LLMContextFrame
from twilio.request_validator import RequestValidator

from db import appointments
from tests.caller import FakeCall
from tests.factories import make_client
from tests.fake_openai import fake_openai
from tests.live import AUTH_TOKEN, live_server
from tests.providers import CallServices, EchoLLM, ScriptedProviders, ScriptedSTT, ToneTTS
from tests.test_api_support import register
from tests.waiting import ended, until
from tests.webhook_receiver import webhook_receiver

pytest.importorskip("piper")
from tests.speech import synthesize_caller, to_ulaw_frames  # noqa: E402

BOOK = "I would like to book Tuesday at three please"
BYE = "That is all goodbye"
# Tuesday 2 June 2099, 15:00 in New York
DATE, TIME = "2099-06-02", "15:00"
STARTS = datetime(2099, 6, 2, 19, 0, tzinfo=UTC)
SETTINGS = {"webhook_allow_private_targets": True, "webhook_retry_delays": "0.2,0.2,0.2"}


@functools.cache
def frames(text: str) -> list[bytes]:
    return to_ulaw_frames(*synthesize_caller(text))


class BookingLLM(EchoLLM):
    """EchoLLM that books the slot when asked to book."""

    async def process_frame(self, frame: Any, direction: Any) -> None:
        if isinstance(frame, LLMContextFrame):
            messages = frame.context.get_messages()
            last = messages[-1] if messages else {}
            if last.get("role") == "tool" and '"booked": true' in str(last.get("content")):
                await self._say("You're booked.")
                return
            if last.get("role") == "user" and "book" in str(last.get("content")).lower():
                await self.run_function_calls([FunctionCallFromLLM(
                    function_name="book_appointment", tool_call_id="call_book",
                    arguments={"date": DATE, "time": TIME, "name": "Ana Lopez"},
                    context=frame.context)])
                return
        await super().process_frame(frame, direction)


class BookingProviders(ScriptedProviders):
    def build(self, plan: Any, client: Any, *, call_sid: str) -> CallServices:
        self.built += 1
        return CallServices(stt=ScriptedSTT(self.lines), llm=BookingLLM(), tts=ToneTTS())


def signed(url: str, form: dict[str, str]) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, form)}


async def text_in(server: Any, body: str, *, caller: str, to: str, sid: str) -> httpx.Response:
    form = {"MessageSid": sid, "AccountSid": server.settings.twilio_account_sid or "",
            "From": caller, "To": to, "Body": body, "NumMedia": "0"}
    async with httpx.AsyncClient() as http:
        return await http.post(f"{server.url}/sms", data=form,
                               headers=signed(f"{server.settings.public_url}/sms", form))


async def place_call(server: Any, client: Any, lines: list[str]) -> Any:
    call = FakeCall(server.url, to=client.phone_number, caller="+12125550199")
    await call.dial()
    await call.connect()
    await call.wait_for_agent()
    for line in lines:
        await call.play(frames(line))
        await call.wait_for_agent()
    return call


async def test_a_booking_call_tells_the_webhook_the_caller_and_schedules_the_reminder(
        pool, pg_url):
    async with webhook_receiver() as receiver, \
            live_server(pg_url, providers=BookingProviders([BOOK, BYE]), **SETTINGS) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        response = await owner.post("/api/webhooks", json={
            "url": receiver.url, "events": ["appointment.booked", "call.ended",
                                            "appointment.cancelled", "call.started",
                                            "contact.created"]})
        receiver.secret = response.json()["secret"]
        client = await make_client(pool, owner_id=owner.id, timezone="America/New_York")
        call = await place_call(server, client, [BOOK, BYE])
        conv = await ended(pool, call.call_sid)

        async def both():
            return receiver.events("appointment.booked") and receiver.events("call.ended")

        await until(both, what="appointment.booked and call.ended")
        assert all(r["verified"] for r in receiver.received)
        (started,) = receiver.events("call.started")
        assert started["data"]["call_sid"] == call.call_sid
        (contact,) = receiver.events("contact.created")
        assert contact["data"]["phone"] == "+12125550199"
        (booked,) = receiver.events("appointment.booked")
        assert booked["data"]["name"] == "Ana Lopez"
        assert booked["data"]["starts_at"] == "2099-06-02T19:00:00Z"
        (call_ended,) = receiver.events("call.ended")
        data = call_ended["data"]
        assert data["call_sid"] == call.call_sid and data["outcome"] == "booked"
        assert [b["appointment_id"] for b in data["booked"]] == [booked["data"]["appointment_id"]]
        assert "Booked Tue Jun 2 at 3 PM for Ana Lopez" in data["summary"]
        assert [t["content"] for t in data["transcript"] if t["role"] == "user"] == [BOOK, BYE]
        stored = await pool.fetchrow("SELECT summary, outcome FROM conversations WHERE id = $1",
                                     conv.id)
        assert stored["outcome"] == "booked" and stored["summary"] == data["summary"]

        # The caller's confirmation, from the client's number, through Twilio's Messages API
        await until(lambda: _ready(server.twilio.messages), what="the confirmation text")
        (text,) = server.twilio.messages
        assert text["form"] == {
            "From": client.phone_number, "To": "+12125550199",
            "Body": f"You're booked at {client.name} on Tue Jun 2 at 3 PM. Reply C to cancel.",
            "StatusCallback": f"{server.settings.public_url}/sms/status"}
        # ... and one reminder, queued for 24 hours before the appointment
        (reminder,) = await pool.fetch("SELECT id, send_at, status FROM sms_messages"
                                       " WHERE kind = 'reminder'")
        assert reminder["send_at"] == STARTS - timedelta(hours=24)
        assert reminder["status"] == "scheduled"
        due = await pool.fetchval("SELECT execute_after FROM pgqueuer WHERE entrypoint ="
                                  " 'sms.send' AND status = 'queued'")
        assert abs((due - reminder["send_at"]).total_seconds()) < 60

        # Twilio's status callbacks: stored, and a late one never undoes "delivered"
        for status in ("delivered", "sent"):
            form = {"MessageSid": text["sid"], "MessageStatus": status,
                    "AccountSid": "AC1", "From": client.phone_number, "To": "+12125550199"}
            answer = await http.post("/sms/status", data=form,
                                     headers=signed(f"{server.settings.public_url}/sms/status",
                                                    form))
            assert answer.status_code == 204
        assert await pool.fetchval("SELECT status FROM sms_messages WHERE twilio_sid = $1",
                                   text["sid"]) == "delivered"

        # C by text cancels the appointment (and says so), and the webhook hears it
        reply = await text_in(server, " c ", caller="+12125550199", to=client.phone_number,
                              sid="SM" + "c" * 32)
        assert reply.status_code == 200 and "is cancelled" in reply.text
        booking = await appointments.get(pool, client.id, booked["data"]["appointment_id"])
        assert booking.status == "cancelled"
        await until(lambda: _ready(receiver.events("appointment.cancelled")),
                    what="appointment.cancelled")
        again = await text_in(server, "C", caller="+12125550199", to=client.phone_number,
                              sid="SM" + "c" * 32)   # Twilio repeating its webhook
        assert "<Message>" not in again.text
        # The reminder for the cancelled appointment does not go out when it comes due
        await pool.execute("UPDATE pgqueuer SET execute_after = now() WHERE entrypoint ="
                           " 'sms.send'")
        await until(lambda: pool.fetchval("SELECT status = 'skipped' FROM sms_messages"
                                          " WHERE kind = 'reminder'"), what="the reminder")
        assert len(server.twilio.messages) == 1


async def _ready(value: Any) -> Any:
    return value


async def test_stop_by_text_stops_every_text_to_that_number(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(), **SETTINGS) as server:
        client = await make_client(pool, timezone="America/New_York")
        caller = "+12125550142"
        forged = await httpx.AsyncClient().post(f"{server.url}/sms", data={
            "MessageSid": "SM1", "From": caller, "To": client.phone_number, "Body": "STOP"})
        assert forged.status_code == 403                    # unsigned: refused
        reply = await text_in(server, "stop", caller=caller, to=client.phone_number,
                              sid="SM" + "1" * 32)
        assert reply.status_code == 200 and "<Message>" not in reply.text   # Twilio answers
        assert await pool.fetchval("SELECT count(*) FROM sms_opt_outs WHERE phone_number = $1",
                                   caller) == 1
        # a booking for that caller sends nothing
        from tests.test_tool_audit import ToolContext
        from tools.calendar import book_appointment
        from tools.messaging import send_sms

        ctx = ToolContext(pool=pool, client=client, conversation_id=None, caller_phone=caller)
        result = await book_appointment(ctx, DATE, TIME, "Bo Stop")
        assert result["booked"] is True
        await until(lambda: pool.fetchval("SELECT status = 'skipped' FROM sms_messages"
                                          " WHERE kind = 'confirmation'"), what="the skip")
        assert await send_sms(ctx, "Hello") == {"sent": False,
                                                "reason": "this number has opted out of texts"}
        # while the organisation's Twilio breaker is open, the agent hears it is unavailable
        from events.deps import Deps
        from tools.breaker import shared
        from tools.messaging import twilio_breaker_alias

        account = await Deps(server.settings, pool, None, None).twilio(  # type: ignore[arg-type]
            client.organization_id)
        for _ in range(3):
            shared.get(account.breaker_name()).record_failure()
        assert shared.retry_after(twilio_breaker_alias(client.organization_id)) is not None
        await pool.execute("DELETE FROM sms_opt_outs")
        assert await send_sms(ctx, "Hi") == {"sent": False,
                                             "reason": "texting is unavailable right now"}
        shared.reset()
        # START opts back in
        await text_in(server, "START", caller=caller, to=client.phone_number,
                      sid="SM" + "2" * 32)
        assert (await send_sms(ctx, "Hello again"))["sent"] is True
        await until(lambda: _ready(server.twilio.messages), what="the text")
        assert server.twilio.messages[0]["form"]["Body"] == "Hello again"
        assert server.twilio.messages[0]["form"]["To"] == caller


async def test_an_llm_clients_summary_is_written_by_its_llm(pool, pg_url):
    async with fake_openai() as llm, \
            live_server(pg_url, providers=ScriptedProviders(["Do you open on Saturdays", BYE]),
                        openai_api_key="sk-test", openai_base_url=llm.url) as server:
        client = await make_client(pool, llm_model="openai/gpt-test")
        call = await place_call(server, client, ["Do you open on Saturdays", BYE])
        await ended(pool, call.call_sid)
        row = await until(lambda: pool.fetchrow(
            "SELECT summary, outcome FROM conversations WHERE call_sid = $1 AND summary"
            " IS NOT NULL", call.call_sid), what="the summary")
    assert row["outcome"] == "no_action"
    assert row["summary"] == "LLM summary: the caller said Do you open on Saturdays / " \
                             f"{BYE}."
    (asked,) = [r for r in llm.requests if not r.get("stream")]
    assert asked["model"] == "gpt-test"


async def test_a_rescheduled_appointment_gets_a_reminder_for_its_new_time_only(pool, pg_url):
    from tests.test_tool_audit import ToolContext
    from tools.calendar import book_appointment, reschedule_appointment

    async with live_server(pg_url, providers=ScriptedProviders(), **SETTINGS) as server:
        client = await make_client(pool, timezone="America/New_York")
        ctx = ToolContext(pool=pool, client=client, conversation_id=None,
                          caller_phone="+12125550177")
        booked = await book_appointment(ctx, DATE, TIME, "Re Schedule")
        await until(lambda: _ready(server.twilio.messages), what="the confirmation")
        moved = STARTS + timedelta(days=1)
        local = moved.astimezone(ZoneInfo(client.timezone))
        result = await reschedule_appointment(ctx, booked["appointment_id"],
                                              local.date().isoformat(), f"{local:%H:%M}")
        assert result["rescheduled"], result

        async def two():
            rows = await pool.fetch("SELECT send_at FROM sms_messages WHERE kind = 'reminder'"
                                    " ORDER BY send_at")
            return rows if len(rows) == 2 else None

        rows = await until(two, what="the second reminder")
        assert [r["send_at"] for r in rows] == [STARTS - timedelta(hours=24),
                                                moved - timedelta(hours=24)]
        await pool.execute("UPDATE pgqueuer SET execute_after = now()")

        async def settled():
            rows = await pool.fetch("SELECT status, error_message FROM sms_messages"
                                    " WHERE kind = 'reminder' ORDER BY send_at")
            return rows if all(r["status"] != "scheduled" for r in rows) else None

        old, new = await until(settled, what="both reminders to come due")
        assert (old["status"], old["error_message"]) == ("skipped", "appointment moved")
        assert new["status"] == "queued"        # sent: Twilio's answer is the status
        bodies = [m["form"]["Body"] for m in server.twilio.messages]
        assert bodies[-1] == f"Reminder: your appointment at {client.name} is on Wed Jun 3" \
                             " at 3 PM. Reply Y to confirm or C to cancel."
