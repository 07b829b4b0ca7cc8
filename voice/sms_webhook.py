"""POST /sms (a caller's text to a client's number) and POST /sms/status (delivery status of
our texts), both signed by Twilio like /voice.

C cancels the caller's next appointment, Y confirms it; STOP (and Twilio's other opt-out
words) stops every text from that number until START. Twilio answers STOP, START and HELP
itself, so those get an empty reply.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from twilio.twiml.messaging_response import MessagingResponse

from db import appointments, clients, sms
from db.appointments import Actor
from db.clients import Client
from events.texts import when
from tools.calendars import CalendarUnavailable, bookings, open_calendar
from voice.state import VoiceState
from voice.twiml import e164, read_signed_form

log = logging.getLogger("frontdesk.sms")

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                     "OPTOUT"})
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})
NO_APPOINTMENT = "We couldn't find an upcoming appointment for this number."
CALENDAR_DOWN = "We couldn't cancel your appointment just now. Please try again later or call us."


def _reply(text: str | None = None) -> Response:
    response = MessagingResponse()
    if text:
        response.message(text)
    return Response(str(response), media_type="application/xml")


async def sms_webhook(request: Request) -> Response:
    state: VoiceState = request.state.voice
    form = await read_signed_form(request, state)
    if isinstance(form, Response):
        return form
    sid, to, caller = form.get("MessageSid", ""), e164(form.get("To", "")), \
        e164(form.get("From", ""))
    if not sid or not to or not caller:
        return PlainTextResponse("MessageSid, From and To are required", status_code=400)
    client = await clients.get_by_phone(state.pool, to)
    if client is None:
        log.info("text %s to unknown number %s", sid[:40], to)
        return _reply()
    body = form.get("Body", "")
    stored = await sms.insert_inbound(state.pool, client_id=client.id, from_number=caller,
                                      to_number=to, body=body[:1600], twilio_sid=sid)
    if stored is None:
        return _reply()   # Twilio repeated a webhook we have handled
    word = body.strip().upper()
    if word in OPT_OUT or form.get("OptOutType") == "STOP":
        await sms.opt_out(state.pool, client.id, caller, word or "STOP")
        log.info("client %s: %s opted out of texts", client.id, caller)
        return _reply()
    if word in OPT_IN or form.get("OptOutType") == "START":
        await sms.opt_in(state.pool, client.id, caller)
        return _reply()
    if word in HELP:
        return _reply()
    if word == "C":
        return _reply(await _cancel_next(state, client, caller))
    if word == "Y":
        return _reply(await _confirm_next(state, client, caller))
    return _reply()


async def _cancel_next(state: VoiceState, client: Client, caller: str) -> str:
    """Cancel the caller's next booked appointment in the calendar of record (which records
    appointment.cancelled)."""
    booking = await appointments.next_booked(state.pool, client.id, caller)
    if booking is None:
        return NO_APPOINTMENT
    try:
        async with open_calendar(state.pool, state.settings, client) as calendar:
            await bookings.cancel(state.pool, calendar, client, booking,
                                  by=Actor("caller"), reason="cancelled by text")
    except bookings.Refused:   # cancelled or moved since it was read
        return NO_APPOINTMENT
    except CalendarUnavailable:
        log.warning("client %s: appointment %s not cancelled by text: calendar unreachable",
                    client.id, booking.id)
        return CALENDAR_DOWN
    log.info("client %s: appointment %s cancelled by text", client.id, booking.id)
    return f"Your appointment at {client.name} on {when(client, booking.starts_at)} " \
           "is cancelled."


async def _confirm_next(state: VoiceState, client: Client, caller: str) -> str:
    row = await state.pool.fetchrow(
        "UPDATE appointments SET confirmed_at = coalesce(confirmed_at, now()) WHERE id ="
        " (SELECT id FROM appointments WHERE client_id = $1 AND phone = $2"
        "  AND status = 'booked' AND starts_at > now() ORDER BY starts_at LIMIT 1)"
        " RETURNING starts_at", client.id, caller)
    if row is None:
        return NO_APPOINTMENT
    return f"Thanks, you're confirmed for {when(client, row['starts_at'])} at {client.name}."


async def sms_status(request: Request) -> Response:
    state: VoiceState = request.state.voice
    form = await read_signed_form(request, state)
    if isinstance(form, Response):
        return form
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not sid or not status:
        return PlainTextResponse("MessageSid and MessageStatus are required", status_code=400)
    code = form.get("ErrorCode", "")
    if not await sms.apply_status(state.pool, sid, status[:40],
                                  int(code) if code.isdigit() else None):
        log.info("status %s for unknown text %s", status[:40], sid[:40])
    return Response(status_code=204)
