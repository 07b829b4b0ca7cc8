"""Calendar tools: free slots and bookings on the client's calendar of record, in its zone.

Dates and times the LLM sends and receives are the client's local wall-clock time;
the database stores UTC instants. ``now`` is a parameter so tests can freeze it. The
calendar itself (built-in, Google, Microsoft 365) is behind tools.calendars.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from datetime import date as Date
from datetime import time as Time
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from db import appointments
from db.appointments import Actor
from tools.calendars import CalendarUnavailable, bookings, open_calendar
from tools.calendars.slots import availability, day_slots, free_slots, opening_hours
from tools.context import ToolContext

__all__ = ["ToolError", "book_appointment", "cancel_appointment", "day_slots",
           "find_appointments", "free_slots", "get_available_slots", "normalize_phone",
           "opening_hours", "parse_date", "parse_time", "reschedule_appointment"]

_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_MAX_NAME = 100
UNREACHABLE = ("The calendar cannot be reached right now, so nothing was changed. Tell the "
               "caller, and offer to take a message with the time they wanted.")


class ToolError(Exception):
    """A mistake the LLM can fix by calling again; the message is shown to it verbatim."""


# --- parsing ---------------------------------------------------------------------------------

def parse_date(value: Any) -> Date:
    text = value.strip() if isinstance(value, str) else ""
    try:
        day = Date.fromisoformat(text) if _DATE_RE.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None:
        raise ToolError("date must be YYYY-MM-DD")
    if not 1900 <= day.year <= 9000:  # keeps UTC conversion and look-ahead clear of overflow
        raise ToolError("date is out of range")
    return day


def parse_time(value: Any) -> Time:
    match = _TIME_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ToolError("time must be HH:MM (24-hour), e.g. 14:30")
    return Time(int(match[1]), int(match[2]))


def normalize_phone(value: str) -> str:
    """E.164 form of a phone number; numbers without a country code are taken as US."""
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ToolError("phone must be a valid phone number, e.g. +12125550123")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _clean_name(value: Any) -> str:
    name = " ".join(value.split()) if isinstance(value, str) else ""
    if not name:
        raise ToolError("name is required: ask the caller for their name")
    return name[:_MAX_NAME]


def _caller_phone(ctx: ToolContext) -> str:
    try:
        return normalize_phone(ctx.caller_phone)
    except ToolError:
        # Withheld or foreign-format caller IDs happen; the agent should just ask.
        raise ToolError("phone is required: the caller's number is unknown, ask for it") from None


# --- shaping ---------------------------------------------------------------------------------

def _local(ctx: ToolContext, instant: datetime) -> datetime:
    return instant.astimezone(ZoneInfo(ctx.client.timezone))


def _slot(local: datetime) -> dict[str, str]:
    return {"date": local.date().isoformat(), "time": local.strftime("%H:%M")}


def _when(ctx: ToolContext, instant: datetime) -> dict[str, str]:
    local = _local(ctx, instant)
    return {**_slot(local), "weekday": _WEEKDAY_NAMES[local.weekday()]}


def _unreachable(refused: dict[str, Any]) -> dict[str, Any]:
    # Also when the connection needs re-authorisation: for the caller it is the same, and
    # the owner sees it in the calendar status.
    return {**refused, "reason": "calendar_unreachable", "message": UNREACHABLE}


def _actor(ctx: ToolContext) -> Actor:
    return Actor("agent", conversation_id=ctx.conversation_id)


# --- tools -----------------------------------------------------------------------------------

async def get_available_slots(ctx: ToolContext, date: str, *,
                              now: datetime | None = None) -> dict[str, Any]:
    """Free slots on one day (YYYY-MM-DD, client's local date) as HH:MM local times."""
    day = parse_date(date)
    now = now or datetime.now(UTC)
    result: dict[str, Any] = {"date": day.isoformat(), "weekday": _WEEKDAY_NAMES[day.weekday()],
                              "timezone": ctx.client.timezone}
    try:
        async with open_calendar(ctx.pool, ctx.settings, ctx.client) as calendar:
            found = await availability(ctx.pool, calendar, ctx.client, day, now)
    except CalendarUnavailable:
        return _unreachable({**result, "slots": []})
    result["slots"] = [_local(ctx, s).strftime("%H:%M") for s in found.free]
    if found.closed:
        result["closed"] = True
    if not found.free:
        result["next_available"] = [_slot(_local(ctx, s)) for s in found.next_available]
    return result


async def book_appointment(ctx: ToolContext, date: str, time: str, name: str,
                           phone: str | None = None, *,
                           now: datetime | None = None) -> dict[str, Any]:
    """Book one slot for the caller; a refusal carries a reason and alternatives."""
    day, at = parse_date(date), parse_time(time)
    name = _clean_name(name)
    phone = normalize_phone(phone) if phone else _caller_phone(ctx)
    now = now or datetime.now(UTC)
    starts = datetime.combine(day, at, tzinfo=ZoneInfo(ctx.client.timezone))
    refused = {"booked": False, "date": day.isoformat(), "time": at.strftime("%H:%M")}
    try:
        async with open_calendar(ctx.pool, ctx.settings, ctx.client) as calendar:
            # No read-then-write check of our own table before the insert: its unique index
            # is the only arbiter, so two calls racing for one slot cannot both win.
            booking = await bookings.book(ctx.pool, calendar, ctx.client, starts=starts,
                                          name=name, phone=phone, by=_actor(ctx), now=now,
                                          contact_id=ctx.contact_id)
    except bookings.Refused as r:
        return {**refused, "reason": r.reason,
                "alternatives": [_slot(_local(ctx, s)) for s in r.alternatives]}
    except CalendarUnavailable:
        return _unreachable(refused)
    return {"booked": True, "appointment_id": booking.id, "date": day.isoformat(),
            "weekday": _WEEKDAY_NAMES[day.weekday()], "time": at.strftime("%H:%M"),
            "name": name, "phone": phone}


async def find_appointments(ctx: ToolContext, *,
                            now: datetime | None = None) -> dict[str, Any]:
    """The caller's own upcoming appointments, matched by the number they call from."""
    try:
        phone = normalize_phone(ctx.caller_phone)
    except ToolError:
        raise ToolError("the caller's number is withheld or unknown, so their bookings cannot"
                        " be looked up on this call") from None
    found = await appointments.upcoming_for_phone(ctx.pool, ctx.client.id, phone,
                                                  now or datetime.now(UTC))
    return {"appointments": [{"appointment_id": a.id, **_when(ctx, a.starts_at), "name": a.name}
                             for a in found]}


async def _own_booking(ctx: ToolContext, appointment_id: int) -> appointments.Appointment | None:
    booking = await appointments.get(ctx.pool, ctx.client.id, appointment_id)
    if booking is None or booking.status != "booked" or not _belongs_to_caller(ctx, booking):
        return None  # someone else's booking looks exactly like a missing one
    return booking


async def cancel_appointment(ctx: ToolContext, appointment_id: int, *,
                             now: datetime | None = None) -> dict[str, Any]:
    """Cancel one of this caller's own upcoming appointments with this client."""
    now = now or datetime.now(UTC)
    refused = {"cancelled": False, "appointment_id": appointment_id}
    booking = await _own_booking(ctx, appointment_id)
    if booking is None:
        return {**refused, "reason": "not_found"}
    if booking.starts_at <= now:
        return {**refused, "reason": "in_past"}
    try:
        async with open_calendar(ctx.pool, ctx.settings, ctx.client) as calendar:
            await bookings.cancel(ctx.pool, calendar, ctx.client, booking, by=_actor(ctx),
                                  reason="cancelled by the caller")
    except bookings.Refused as r:
        return {**refused, "reason": r.reason}
    except CalendarUnavailable:
        return _unreachable(refused)
    return {"cancelled": True, "appointment_id": appointment_id,
            **_slot(_local(ctx, booking.starts_at))}


async def reschedule_appointment(ctx: ToolContext, appointment_id: int, date: str, time: str,
                                 *, now: datetime | None = None) -> dict[str, Any]:
    """Move one of this caller's own upcoming appointments to another free slot."""
    day, at = parse_date(date), parse_time(time)
    now = now or datetime.now(UTC)
    starts = datetime.combine(day, at, tzinfo=ZoneInfo(ctx.client.timezone))
    refused = {"rescheduled": False, "appointment_id": appointment_id,
               "date": day.isoformat(), "time": at.strftime("%H:%M")}
    booking = await _own_booking(ctx, appointment_id)
    if booking is None:
        return {**refused, "reason": "not_found"}
    try:
        async with open_calendar(ctx.pool, ctx.settings, ctx.client) as calendar:
            moved = await bookings.change(ctx.pool, calendar, ctx.client, booking,
                                          by=_actor(ctx), now=now, starts=starts)
    except bookings.Refused as r:
        return {**refused, "reason": r.reason,
                "alternatives": [_slot(_local(ctx, s)) for s in r.alternatives]}
    except CalendarUnavailable:
        return _unreachable(refused)
    return {"rescheduled": True, "appointment_id": moved.id, **_when(ctx, moved.starts_at),
            "previous": _slot(_local(ctx, booking.starts_at))}


def _belongs_to_caller(ctx: ToolContext, booking: appointments.Appointment) -> bool:
    if ctx.conversation_id is not None and booking.conversation_id == ctx.conversation_id:
        return True
    if ctx.contact_id is not None and booking.contact_id == ctx.contact_id:
        return True
    try:
        return booking.phone == normalize_phone(ctx.caller_phone)
    except ToolError:
        return False
