"""Texts to callers: the booking confirmation, the reminder, and the job that sends any
queued text through Twilio's Messages API from the client's number."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from db import appointments, clients, outbox, sms
from db.appointments import Appointment
from db.clients import Client
from events.deps import Deps
from tools.breaker import BreakerOpen
from tools.messaging import SEND_SMS
from tools.twilio_api import TwilioClient, TwilioError

log = logging.getLogger("frontdesk.sms")

DEFAULT_REMINDER_HOURS = 24
OPTED_OUT = 21610   # Twilio: the recipient has replied STOP to this sender


def when(client: Client, starts_at: datetime) -> str:
    """ "Tue Dec 8 at 3 PM" / "Tue Dec 8 at 3:30 PM", in the client's time zone."""
    local = starts_at.astimezone(ZoneInfo(client.timezone))
    hour = local.hour % 12 or 12
    clock = f"{hour}" if local.minute == 0 else f"{hour}:{local.minute:02d}"
    return f"{local:%a %b} {local.day} at {clock} {'AM' if local.hour < 12 else 'PM'}"


def confirmation_text(client: Client, booking: Appointment) -> str:
    return f"You're booked at {client.name} on {when(client, booking.starts_at)}. " \
           "Reply C to cancel."


def reminder_text(client: Client, booking: Appointment) -> str:
    return f"Reminder: your appointment at {client.name} is on " \
           f"{when(client, booking.starts_at)}. Reply Y to confirm or C to cancel."


def reminder_hours(client: Client) -> float:
    value = client.settings.get("sms_reminder_hours", DEFAULT_REMINDER_HOURS)
    return float(value) if isinstance(value, int | float) and value >= 0 else 0.0


async def on_booked(conn: Any, client: Client, booking: Appointment, *,
                    now: datetime | None = None) -> None:
    """Queue the confirmation now and the reminder for its time (both once per booking)."""
    now = now or datetime.now(UTC)
    if client.settings.get("sms_confirmations", True) is not False:
        text = await sms.insert_outbound(conn, client_id=client.id, kind="confirmation",
                                         from_number=client.phone_number,
                                         to_number=booking.phone, appointment_id=booking.id,
                                         body=confirmation_text(client, booking))
        if text is not None:
            await outbox.enqueue(conn, SEND_SMS, {"sms_id": text.id}, key=f"sms:{text.id}")
    await schedule_reminder(conn, client, booking, now=now)


async def schedule_reminder(conn: Any, client: Client, booking: Appointment, *,
                            now: datetime) -> None:
    hours = reminder_hours(client)
    send_at = booking.starts_at - timedelta(hours=hours)
    if hours <= 0 or send_at <= now:
        return   # off, or the appointment is sooner than the reminder would be
    text = await sms.insert_outbound(conn, client_id=client.id, kind="reminder",
                                     from_number=client.phone_number, to_number=booking.phone,
                                     appointment_id=booking.id, send_at=send_at,
                                     for_starts_at=booking.starts_at,
                                     body=reminder_text(client, booking))
    if text is not None:
        await outbox.enqueue(conn, SEND_SMS, {"sms_id": text.id}, key=f"sms:{text.id}",
                             after=send_at - now)


async def _still_wanted(deps: Deps, text: sms.Sms, client: Client) -> str | None:
    """Why a queued text should no longer go out, or None."""
    if await sms.opted_out(deps.pool, client.id, text.to_number):
        return "opted out"
    if text.appointment_id is None or text.kind not in ("confirmation", "reminder"):
        return None
    booking = await appointments.get(deps.pool, client.id, text.appointment_id)
    if booking is None or booking.status != "booked":
        return "appointment cancelled"
    if text.kind == "reminder" and text.for_starts_at not in (None, booking.starts_at):
        return "appointment moved"
    return None


async def send(deps: Deps, sms_id: int, attempts: int) -> None:
    """The job: send one queued text, once."""
    text = await sms.get(deps.pool, sms_id)
    if text is None or text.status not in ("queued", "scheduled"):
        return
    client = await clients.get(deps.pool, text.client_id)
    if client is None:
        return
    skip = await _still_wanted(deps, text, client)
    if skip is not None:
        await sms.mark(deps.pool, sms_id, "skipped", error_message=skip)
        return
    if deps.settings.integrations_stub_mode:
        await sms.mark(deps.pool, sms_id, "skipped", error_message="stub mode")
        return
    account = await deps.twilio(client.organization_id)
    if account is None:
        await sms.mark(deps.pool, sms_id, "failed", error_message="no Twilio credentials")
        return
    callback = f"{deps.settings.public_url}/sms/status"
    try:
        answer = await TwilioClient(deps.http, account, deps.breakers).send_sms(
            from_=text.from_number, to=text.to_number, body=text.body, status_callback=callback)
    except (TwilioError, BreakerOpen) as exc:
        code = getattr(exc, "code", None)
        if code == OPTED_OUT:
            await sms.opt_out(deps.pool, client.id, text.to_number, "twilio-21610")
        if isinstance(exc, TwilioError) and exc.permanent:
            await sms.mark(deps.pool, sms_id, "failed", error_code=code, error_message=str(exc))
            return
        deps.retry_or_give_up(attempts, str(exc))
        await sms.mark(deps.pool, sms_id, "failed", error_code=code, error_message=str(exc))
        return
    await sms.mark_sent(deps.pool, sms_id, twilio_sid=answer.get("sid") or None,
                        status=str(answer.get("status") or "queued"))
    log.info("text %d (%s) sent to %s", sms_id, text.kind, text.to_number)
