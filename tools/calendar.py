"""Calendar tools: free slots and bookings on the client's own calendar, in its time zone.

Dates and times the LLM sends and receives are the client's local wall-clock time;
the database stores UTC instants. ``now`` is a parameter so tests can freeze it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from datetime import date as Date
from datetime import time as Time
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from db import appointments, contacts, outbox
from db.clients import Client
from db.pool import Executor
from tools.context import ToolContext

_WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_LOOKAHEAD_DAYS = 14  # how far "next open day" alternatives search
_MAX_ALTERNATIVES = 3
_MAX_NAME = 100


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


# --- slots -----------------------------------------------------------------------------------

def _minutes(hhmm: str) -> int:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    total = hours * 60 + minutes
    if not (0 <= minutes < 60 and 0 <= total <= 24 * 60):
        raise ValueError(hhmm)
    return total


def opening_hours(client: Client, day: Date) -> tuple[int, int] | None:
    """(open, close) in minutes after local midnight, or None when closed that day."""
    hours = (client.business_hours or {}).get(_WEEKDAY_KEYS[day.weekday()])
    try:
        opens, closes = (_minutes(h) for h in hours)
    except (TypeError, ValueError):
        return None  # a missing or malformed entry means closed, not a crashed call
    return (opens, closes) if opens < closes else None


def day_slots(client: Client, day: Date) -> list[datetime]:
    """Every slot start on `day`, booked or not, as aware datetimes in the client's zone."""
    hours = opening_hours(client, day)
    if hours is None:
        return []
    tz = ZoneInfo(client.timezone)
    slots = []
    for minute in range(hours[0], hours[1] - client.slot_minutes + 1, client.slot_minutes):
        local = datetime.combine(day, Time(minute // 60, minute % 60), tzinfo=tz)
        # A spring-forward gap removes some wall-clock times; they do not round-trip.
        if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
            slots.append(local)
    return slots


async def free_slots(db: Executor, client: Client, day: Date, now: datetime) -> list[datetime]:
    """Slot starts on `day` that are in the future and overlap no booked appointment."""
    slots = [s for s in day_slots(client, day) if s > now]
    if not slots:
        return []
    length = timedelta(minutes=client.slot_minutes)
    booked = await appointments.booked_between(db, client.id, slots[0], slots[-1] + length)
    # Overlap rather than equality, so bookings made under another slot length still block.
    return [s for s in slots
            if not any(b.starts_at < s + length and s < b.ends_at for b in booked)]


def _slot(local: datetime) -> dict[str, str]:
    return {"date": local.date().isoformat(), "time": local.strftime("%H:%M")}


async def _next_open(ctx: ToolContext, after: Date, now: datetime) -> list[dict[str, str]]:
    """The first free slots of the next day that has any, within the look-ahead."""
    today = now.astimezone(ZoneInfo(ctx.client.timezone)).date()
    day = max(after + timedelta(days=1), today)
    for _ in range(_LOOKAHEAD_DAYS):
        free = await free_slots(ctx.pool, ctx.client, day, now)
        if free:
            return [_slot(s) for s in free[:_MAX_ALTERNATIVES]]
        day += timedelta(days=1)
    return []


async def _alternatives(ctx: ToolContext, day: Date, wanted: datetime,
                        now: datetime) -> list[dict[str, str]]:
    """Up to three free slots nearest `wanted` that day, else the next open day's first ones."""
    free = await free_slots(ctx.pool, ctx.client, day, now)
    if not free:
        return await _next_open(ctx, day, now)
    nearest = sorted(free, key=lambda s: (abs(s - wanted), s))[:_MAX_ALTERNATIVES]
    return [_slot(s) for s in sorted(nearest)]


# --- tools -----------------------------------------------------------------------------------

async def get_available_slots(ctx: ToolContext, date: str, *,
                              now: datetime | None = None) -> dict[str, Any]:
    """Free slots on one day (YYYY-MM-DD, client's local date) as HH:MM local times."""
    day = parse_date(date)
    now = now or datetime.now(UTC)
    result: dict[str, Any] = {"date": day.isoformat(), "weekday": _WEEKDAY_NAMES[day.weekday()],
                              "timezone": ctx.client.timezone}
    if opening_hours(ctx.client, day) is None:
        result.update(slots=[], closed=True)
    else:
        free = await free_slots(ctx.pool, ctx.client, day, now)
        result["slots"] = [s.strftime("%H:%M") for s in free]
    if not result["slots"]:
        result["next_available"] = await _next_open(ctx, day, now)
    return result


async def book_appointment(ctx: ToolContext, date: str, time: str, name: str,
                           phone: str | None = None, *,
                           now: datetime | None = None) -> dict[str, Any]:
    """Book one slot for the caller; a refusal carries a reason and alternatives."""
    day, at = parse_date(date), parse_time(time)
    name = _clean_name(name)
    phone = normalize_phone(phone) if phone else _caller_phone(ctx)
    now = now or datetime.now(UTC)
    client = ctx.client
    starts = datetime.combine(day, at, tzinfo=ZoneInfo(client.timezone))
    refused = {"booked": False, "date": day.isoformat(), "time": at.strftime("%H:%M")}

    if starts <= now:
        return {**refused, "reason": "in_past",
                "alternatives": await _alternatives(ctx, day, starts, now)}
    if opening_hours(client, day) is None:
        return {**refused, "reason": "closed", "alternatives": await _next_open(ctx, day, now)}
    if starts not in day_slots(client, day):  # misaligned or outside opening hours
        return {**refused, "reason": "outside_hours",
                "alternatives": await _alternatives(ctx, day, starts, now)}

    try:
        async with ctx.pool.acquire() as conn, conn.transaction():
            booking = await appointments.insert(
                conn, client_id=client.id, conversation_id=ctx.conversation_id,
                contact_id=ctx.contact_id, name=name, phone=phone, starts_at=starts,
                ends_at=starts + timedelta(minutes=client.slot_minutes))
            if ctx.contact_id is not None:
                await contacts.set_name_if_missing(conn, ctx.contact_id, name)
            await outbox.record(conn, "appointment.booked", booked_event(client, booking),
                                client_id=client.id, key=f"appointment.booked:{booking.id}")
    except appointments.SlotTaken:
        # No read-then-write check before the insert: the unique index is the only arbiter,
        # so two calls racing for one slot cannot both win.
        return {**refused, "reason": "slot_taken",
                "alternatives": await _alternatives(ctx, day, starts, now)}
    return {"booked": True, "appointment_id": booking.id, "date": day.isoformat(),
            "weekday": _WEEKDAY_NAMES[day.weekday()], "time": at.strftime("%H:%M"),
            "name": name, "phone": phone}


async def cancel_appointment(ctx: ToolContext, appointment_id: int, *,
                             now: datetime | None = None) -> dict[str, Any]:
    """Cancel one of this caller's own upcoming appointments with this client."""
    now = now or datetime.now(UTC)
    booking = await appointments.get(ctx.pool, ctx.client.id, appointment_id)
    if booking is None or booking.status != "booked" or not _belongs_to_caller(ctx, booking):
        # Someone else's booking looks exactly like a missing one.
        return {"cancelled": False, "reason": "not_found", "appointment_id": appointment_id}
    if booking.starts_at <= now:
        return {"cancelled": False, "reason": "in_past", "appointment_id": appointment_id}
    if await appointments.cancel(ctx.pool, ctx.client.id, appointment_id) is None:
        return {"cancelled": False, "reason": "not_found", "appointment_id": appointment_id}
    local = booking.starts_at.astimezone(ZoneInfo(ctx.client.timezone))
    return {"cancelled": True, "appointment_id": appointment_id, **_slot(local)}


def booked_event(client: Client, booking: appointments.Appointment) -> dict[str, Any]:
    """The data of appointment.booked (and the other appointment events)."""
    local = booking.starts_at.astimezone(ZoneInfo(client.timezone))
    return {"appointment_id": booking.id, "conversation_id": booking.conversation_id,
            "contact_id": booking.contact_id, "name": booking.name, "phone": booking.phone,
            "starts_at": booking.starts_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "ends_at": booking.ends_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "local_start": local.replace(tzinfo=None).isoformat(timespec="minutes"),
            "timezone": client.timezone, "status": booking.status,
            "when": f"{local:%a %b} {local.day} at {local:%H:%M}"}


def _belongs_to_caller(ctx: ToolContext, booking: appointments.Appointment) -> bool:
    if ctx.conversation_id is not None and booking.conversation_id == ctx.conversation_id:
        return True
    if ctx.contact_id is not None and booking.contact_id == ctx.contact_id:
        return True
    try:
        return booking.phone == normalize_phone(ctx.caller_phone)
    except ToolError:
        return False
