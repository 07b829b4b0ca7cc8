"""Booking, moving and cancelling, for the agent's tools and the staff's API alike.

Each change is one transaction on one connection: the appointments row (the database's
unique index is the only arbiter of a slot) and the event in the calendar of record. If the
calendar refuses or cannot be reached, the transaction rolls back: nothing is booked that
the business's calendar does not hold.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from db import appointments, contacts, outbox
from db.appointments import Actor, Appointment
from db.clients import Client
from tools.calendars import slots
from tools.calendars.base import Busy, CalendarBackend, EventDraft

log = logging.getLogger("frontdesk.calendars")


@dataclass
class Refused(Exception):
    """The slot or the appointment cannot be had; ``alternatives`` are free slot starts."""
    reason: str   # in_past, closed, outside_hours, slot_taken, same_slot, started, not_found
    alternatives: list[datetime] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.reason)


def event_data(client: Client, booking: Appointment) -> dict[str, Any]:
    """The data of the appointment.* events (webhooks, texts, e-mails)."""
    local = booking.starts_at.astimezone(ZoneInfo(client.timezone))
    return {"appointment_id": booking.id, "conversation_id": booking.conversation_id,
            "contact_id": booking.contact_id, "name": booking.name, "phone": booking.phone,
            "starts_at": _utc(booking.starts_at), "ends_at": _utc(booking.ends_at),
            "local_start": local.replace(tzinfo=None).isoformat(timespec="minutes"),
            "timezone": client.timezone, "status": booking.status,
            "when": f"{local:%a %b} {local.day} at {local:%H:%M}"}


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def draft(client: Client, booking: Appointment) -> EventDraft:
    return EventDraft(appointment_id=booking.id, name=booking.name, phone=booking.phone,
                      starts_at=booking.starts_at, ends_at=booking.ends_at,
                      business=client.name, notes=booking.notes)


async def check_slot(pool: asyncpg.Pool, calendar: CalendarBackend, client: Client,
                     starts: datetime, now: datetime, *,
                     moving: Appointment | None = None) -> None:
    """Raise Refused unless ``starts`` is a future slot of the grid, free in the calendar of
    record. (Bookings in our own table are left to the unique index.)"""
    day = slots.local_day(client, starts)
    if starts <= now:
        raise Refused("in_past", await slots.alternatives(pool, calendar, client, day, starts,
                                                          now))
    if slots.opening_hours(client, day) is None:
        raise Refused("closed", await slots.next_open(pool, calendar, client, day, now))
    if starts not in slots.day_slots(client, day):  # misaligned or outside opening hours
        raise Refused("outside_hours",
                      await slots.alternatives(pool, calendar, client, day, starts, now))
    ends = starts + timedelta(minutes=client.slot_minutes)
    busy = await calendar.busy(starts, ends)
    if moving is not None:  # its own event still sits at the old time
        own = Busy(moving.starts_at, moving.ends_at)
        busy = [b for b in busy if b != own]
    if slots.overlaps(starts, ends, busy):
        raise Refused("slot_taken", await slots.alternatives(pool, calendar, client, day,
                                                             starts, now))


async def _forget(calendar: CalendarBackend, event_id: str) -> None:
    """Undo an event whose booking did not commit (best effort; the booking is what counts)."""
    try:
        await asyncio.shield(calendar.delete_event(event_id))
    except Exception as exc:
        log.error("%s event %s of an uncommitted booking was not deleted: %s",
                  calendar.provider, event_id, type(exc).__name__)


async def book(pool: asyncpg.Pool, calendar: CalendarBackend, client: Client, *,
               starts: datetime, name: str, phone: str, by: Actor, now: datetime,
               contact_id: int | None = None, notes: str = "") -> Appointment:
    """Book one slot, in the appointments table and in the calendar of record."""
    await check_slot(pool, calendar, client, starts, now)
    event_id: str | None = None
    try:
        async with pool.acquire() as conn, conn.transaction():
            booking = await appointments.insert(
                conn, client_id=client.id, conversation_id=by.conversation_id,
                contact_id=contact_id, name=name, phone=phone, starts_at=starts,
                ends_at=starts + timedelta(minutes=client.slot_minutes), notes=notes, by=by,
                calendar_provider=calendar.provider)
            if contact_id is not None:
                await contacts.set_name_if_missing(conn, contact_id, name)
            # Still uncommitted: a racing booking of this slot waits on the index entry.
            event_id = await calendar.create_event(draft(client, booking))
            if event_id is not None:
                await appointments.set_external_event(conn, booking.id, event_id,
                                                      calendar.provider)
                booking = replace(booking, external_event_id=event_id)
            await outbox.record(conn, "appointment.booked",
                                {**event_data(client, booking), "booked_by": by.kind},
                                client_id=client.id, key=f"appointment.booked:{booking.id}")
    except appointments.SlotTaken:
        raise Refused("slot_taken", await slots.alternatives(
            pool, calendar, client, slots.local_day(client, starts), starts, now)) from None
    except BaseException:
        if event_id is not None:
            await _forget(calendar, event_id)
        raise
    return booking


def _in_calendar(calendar: CalendarBackend, booking: Appointment) -> str | None:
    """The booking's event id, when it lives in this calendar."""
    if booking.external_event_id and booking.calendar_provider == calendar.provider:
        return booking.external_event_id
    return None


async def change(pool: asyncpg.Pool, calendar: CalendarBackend, client: Client,
                 booking: Appointment, *, by: Actor, now: datetime,
                 starts: datetime | None = None, details: dict[str, Any] | None = None
                 ) -> Appointment:
    """Move a booking and/or change its details, in one transaction with its event. When it
    moves, the old slot is freed only if the new one is taken."""
    if booking.status != "booked":
        raise Refused("not_found")
    if starts is not None:
        if booking.starts_at <= now:
            raise Refused("started")
        if starts == booking.starts_at:
            raise Refused("same_slot")
        await check_slot(pool, calendar, client, starts, now, moving=booking)
    try:
        async with pool.acquire() as conn, conn.transaction():
            current: Appointment | None = booking
            if details:
                current = await appointments.update_details(conn, client.id, booking.id, by=by,
                                                            **details)
            if current is not None and starts is not None:
                current = await appointments.reschedule(
                    conn, client.id, booking.id, from_starts_at=booking.starts_at,
                    starts_at=starts, ends_at=starts + timedelta(minutes=client.slot_minutes),
                    by=by)
            if current is None:  # cancelled or moved meanwhile
                raise Refused("not_found")
            event_id = _in_calendar(calendar, booking)
            if event_id is not None:
                new_id = await calendar.update_event(event_id, draft(client, current))
            else:  # booked before this calendar was connected: it gets the event now
                new_id = await calendar.create_event(draft(client, current))
            if new_id is not None and new_id != event_id:
                await appointments.set_external_event(conn, booking.id, new_id,
                                                      calendar.provider)
                current = replace(current, external_event_id=new_id,
                                  calendar_provider=calendar.provider)
            if starts is not None:
                await outbox.record(
                    conn, "appointment.rescheduled",
                    {**event_data(client, current), "previous_starts_at": _utc(booking.starts_at),
                     "rescheduled_by": by.kind},
                    client_id=client.id, key=f"appointment.rescheduled:{booking.id}:{_utc(starts)}")
    except appointments.SlotTaken:
        assert starts is not None
        raise Refused("slot_taken", await slots.alternatives(
            pool, calendar, client, slots.local_day(client, starts), starts, now)) from None
    return current


async def cancel(pool: asyncpg.Pool, calendar: CalendarBackend, client: Client,
                 booking: Appointment, *, by: Actor, reason: str | None = None) -> Appointment:
    """Cancel a booking and delete its event, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        cancelled = await appointments.cancel(conn, client.id, booking.id, by=by, reason=reason)
        if cancelled is None:
            raise Refused("not_found")
        event_id = _in_calendar(calendar, booking)
        if event_id is not None:
            await calendar.delete_event(event_id)
        await outbox.record(conn, "appointment.cancelled",
                            {**event_data(client, cancelled), "cancelled_by": by.kind,
                             "reason": reason},
                            client_id=client.id, key=f"appointment.cancelled:{booking.id}")
    return cancelled

