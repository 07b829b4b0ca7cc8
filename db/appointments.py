"""appointments: slots booked on a client's calendar (times are UTC instants).

Each change of an appointment (booked, rescheduled, updated, cancelled) is one function
here, one SQL statement that also writes its appointment_changes row, taking the caller's
connection so that whatever else the change causes can join its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db import clients
from db.pool import Executor, assignments

_SLOT_CONSTRAINT = "appointments_one_booking_per_slot"


class SlotTaken(Exception):
    """The client already has a booked appointment starting at that instant."""


@dataclass(frozen=True)
class Actor:
    """Who changes an appointment: the agent (in a call), a member of staff (the API), or the
    caller themselves (a text)."""
    kind: str                           # agent | staff | caller (by text)
    conversation_id: int | None = None
    user_id: int | None = None
    api_key_id: int | None = None


@dataclass(frozen=True)
class Appointment:
    id: int
    client_id: int
    conversation_id: int | None
    contact_id: int | None
    name: str
    phone: str
    starts_at: datetime
    ends_at: datetime
    status: str
    notes: str
    created_at: datetime
    cancelled_at: datetime | None
    calendar_provider: str = "builtin"
    external_event_id: str | None = None
    booked_by: str = "agent"
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Change:
    id: int
    appointment_id: int
    conversation_id: int | None
    user_id: int | None
    actor: str
    action: str
    old_starts_at: datetime | None
    new_starts_at: datetime | None
    reason: str | None
    created_at: datetime


_COLUMNS = ", ".join(Appointment.__dataclass_fields__)
_CHANGE_COLUMNS = ", ".join(Change.__dataclass_fields__)
# The change row of a statement whose CTE "a" returned the changed appointment.
_RECORD = ("INSERT INTO appointment_changes (appointment_id, client_id, conversation_id,"
           " user_id, api_key_id, actor, action, old_starts_at, new_starts_at, reason)"
           " SELECT id, client_id, {conv}, {user}, {key}, {actor}, '{action}', {old}, {new},"
           " {reason} FROM a")
DETAIL_FIELDS = frozenset({"name", "phone", "notes", "contact_id"})


def _agent(conversation_id: int | None) -> Actor:
    return Actor("agent", conversation_id=conversation_id)


def _slot_taken(e: asyncpg.UniqueViolationError, starts_at: datetime) -> Exception:
    if e.constraint_name == _SLOT_CONSTRAINT:
        return SlotTaken(f"slot at {starts_at.isoformat()} is already booked")
    return e


async def insert(db: Executor, *, client_id: int, starts_at: datetime, ends_at: datetime,
                 name: str, phone: str, conversation_id: int | None = None,
                 contact_id: int | None = None, notes: str = "", by: Actor | None = None,
                 calendar_provider: str = "builtin") -> Appointment:
    """Book a slot; raises SlotTaken when the unique index refuses it (also under a race)."""
    by = by or _agent(conversation_id)
    record = _RECORD.format(conv="$11", user="$12", key="$13", actor="$9", action="booked",
                            old="NULL::timestamptz", new="starts_at", reason="NULL")
    try:
        row = await db.fetchrow(
            "WITH a AS (INSERT INTO appointments (client_id, conversation_id, contact_id, name,"
            " phone, starts_at, ends_at, notes, booked_by, calendar_provider)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *),"
            f" c AS ({record}) SELECT {_COLUMNS} FROM a",
            client_id, conversation_id, contact_id, name, phone, starts_at, ends_at, notes,
            by.kind, calendar_provider, by.conversation_id, by.user_id, by.api_key_id)
    except asyncpg.UniqueViolationError as e:
        raise _slot_taken(e, starts_at) from None
    return Appointment(**row)


async def set_external_event(db: Executor, appointment_id: int, event_id: str,
                             provider: str) -> None:
    """The event that holds the booking in the client's calendar of record."""
    await db.execute("UPDATE appointments SET external_event_id = $2, calendar_provider = $3"
                     " WHERE id = $1", appointment_id, event_id, provider)


async def reschedule(db: Executor, client_id: int, appointment_id: int, *,
                     from_starts_at: datetime, starts_at: datetime, ends_at: datetime,
                     by: Actor) -> Appointment | None:
    """Move a booked appointment in one statement: the old slot is freed only if the new one
    is taken (SlotTaken otherwise, nothing changed). None when it is no longer booked at
    ``from_starts_at`` (cancelled or moved meanwhile)."""
    record = _RECORD.format(conv="$6", user="$7", key="$8", actor="$9", action="rescheduled",
                            old="$3::timestamptz", new="starts_at", reason="NULL")
    try:
        row = await db.fetchrow(
            "WITH a AS (UPDATE appointments SET starts_at = $4, ends_at = $5, updated_at = now()"
            " WHERE id = $2 AND client_id = $1 AND status = 'booked' AND starts_at = $3"
            f" RETURNING *), c AS ({record}) SELECT {_COLUMNS} FROM a",
            client_id, appointment_id, from_starts_at, starts_at, ends_at,
            by.conversation_id, by.user_id, by.api_key_id, by.kind)
    except asyncpg.UniqueViolationError as e:
        raise _slot_taken(e, starts_at) from None
    return Appointment(**row) if row else None


async def update_details(db: Executor, client_id: int, appointment_id: int, *, by: Actor,
                         **changes: Any) -> Appointment | None:
    """Change the name, phone, notes or contact of a booked appointment."""
    unknown = set(changes) - DETAIL_FIELDS
    if unknown:
        raise TypeError(f"not changeable: {sorted(unknown)}")
    if not changes:
        return await get(db, client_id, appointment_id)
    sets = assignments(changes, first_param=7)
    record = _RECORD.format(conv="$3", user="$4", key="$5", actor="$6", action="updated",
                            old="NULL::timestamptz", new="NULL::timestamptz", reason="NULL")
    row = await db.fetchrow(
        f"WITH a AS (UPDATE appointments SET {sets}, updated_at = now()"
        " WHERE id = $2 AND client_id = $1 AND status = 'booked' RETURNING *),"
        f" c AS ({record}) SELECT {_COLUMNS} FROM a",
        client_id, appointment_id, by.conversation_id, by.user_id, by.api_key_id, by.kind,
        *changes.values())
    return Appointment(**row) if row else None


async def cancel(db: Executor, client_id: int, appointment_id: int, *,
                 by: Actor | None = None, reason: str | None = None) -> Appointment | None:
    """Cancel a booked appointment; None when there is no such booked appointment."""
    by = by or _agent(None)
    record = _RECORD.format(conv="$3", user="$4", key="$5", actor="$6", action="cancelled",
                            old="starts_at", new="NULL::timestamptz", reason="$8")
    row = await db.fetchrow(
        "WITH a AS (UPDATE appointments SET status = 'cancelled', cancelled_at = now(),"
        " cancelled_by = $7, cancel_reason = $8, updated_at = now()"
        " WHERE id = $2 AND client_id = $1 AND status = 'booked' RETURNING *),"
        f" c AS ({record}) SELECT {_COLUMNS} FROM a",
        client_id, appointment_id, by.conversation_id, by.user_id, by.api_key_id, by.kind,
        "staff" if by.kind == "staff" else "caller", reason)
    return Appointment(**row) if row else None


# --- reads -----------------------------------------------------------------------------------

async def booked_between(db: Executor, client_id: int, start: datetime,
                         end: datetime) -> list[Appointment]:
    """Booked appointments overlapping [start, end), earliest first."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM appointments WHERE client_id = $1 AND status = 'booked'"
        " AND starts_at < $3 AND ends_at > $2 ORDER BY starts_at",
        client_id, start, end)
    return [Appointment(**r) for r in rows]


async def next_booked(db: Executor, client_id: int, phone: str) -> Appointment | None:
    """The earliest upcoming booked appointment of ``phone`` with this client."""
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM appointments WHERE client_id = $1 AND phone = $2"
        " AND status = 'booked' AND starts_at > now() ORDER BY starts_at LIMIT 1",
        client_id, phone)
    return Appointment(**row) if row else None


async def get(db: Executor, client_id: int, appointment_id: int) -> Appointment | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM appointments WHERE id = $2 AND client_id = $1",
        client_id, appointment_id)
    return Appointment(**row) if row else None


async def for_conversation(db: Executor, conversation_id: int) -> list[Appointment]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM appointments WHERE conversation_id = $1 ORDER BY id",
        conversation_id)
    return [Appointment(**r) for r in rows]


async def upcoming_for_phone(db: Executor, client_id: int, phone: str, after: datetime,
                             *, limit: int = 10) -> list[Appointment]:
    """A caller's booked appointments that have not started yet, earliest first."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM appointments WHERE client_id = $1 AND phone = $2"
        " AND status = 'booked' AND starts_at > $3 ORDER BY starts_at LIMIT $4",
        client_id, phone, after, limit)
    return [Appointment(**r) for r in rows]


async def changes_of(db: Executor, appointment_id: int) -> list[Change]:
    rows = await db.fetch(f"SELECT {_CHANGE_COLUMNS} FROM appointment_changes"
                          " WHERE appointment_id = $1 ORDER BY id", appointment_id)
    return [Change(**r) for r in rows]


async def changes_in_conversation(db: Executor, conversation_id: int) -> list[Change]:
    """What one call did to appointments (booked, moved, cancelled), in order."""
    rows = await db.fetch(f"SELECT {_CHANGE_COLUMNS} FROM appointment_changes"
                          " WHERE conversation_id = $1 ORDER BY id", conversation_id)
    return [Change(**r) for r in rows]


# --- the management API ----------------------------------------------------------------------

@dataclass(frozen=True)
class AppointmentFilter:
    since: datetime | None = None       # starts_at >= since
    until: datetime | None = None       # starts_at < until
    status: str | None = None
    contact_id: int | None = None
    phone: str | None = None
    client_id: int | None = None        # across the owner's clients: one of them


_FILTER = ("($2::timestamptz IS NULL OR a.starts_at >= $2)"
           " AND ($3::timestamptz IS NULL OR a.starts_at < $3)"
           " AND ($4::text IS NULL OR a.status = $4)"
           " AND ($5::bigint IS NULL OR a.contact_id = $5)"
           " AND ($6::text IS NULL OR a.phone = $6)"
           " AND ($7::bigint IS NULL OR a.client_id = $7)")
_A_COLUMNS = ", ".join(f"a.{c}" for c in Appointment.__dataclass_fields__)


async def _page(db: Executor, scope: str, first: Any, f: AppointmentFilter, limit: int,
                offset: int) -> tuple[list[Appointment], int]:
    where = f"{scope} AND {_FILTER}"
    args = (first, f.since, f.until, f.status, f.contact_id, f.phone, f.client_id)
    rows = await db.fetch(
        f"SELECT {_A_COLUMNS} FROM appointments a JOIN clients ON clients.id = a.client_id"
        f" WHERE {where} ORDER BY a.starts_at, a.id LIMIT $8 OFFSET $9", *args, limit, offset)
    total = await db.fetchval(
        "SELECT count(*) FROM appointments a JOIN clients ON clients.id = a.client_id"
        f" WHERE {where}", *args)
    return [Appointment(**r) for r in rows], total


async def list_for_client(db: Executor, client_id: int, f: AppointmentFilter, *, limit: int,
                          offset: int) -> tuple[list[Appointment], int]:
    """Callers check that the client belongs to the organisation first."""
    return await _page(db, "a.client_id = $1", client_id, f, limit, offset)


async def list_for_org(db: Executor, organization_id: int, f: AppointmentFilter, *,
                       limit: int, offset: int) -> tuple[list[Appointment], int]:
    """Across every client of the organisation."""
    return await _page(db, clients.in_organization(1), organization_id, f, limit, offset)


async def get_for_org(db: Executor, organization_id: int,
                      appointment_id: int) -> Appointment | None:
    row = await db.fetchrow(
        f"SELECT {_A_COLUMNS} FROM appointments a JOIN clients ON clients.id = a.client_id"
        f" WHERE a.id = $2 AND {clients.in_organization(1)}", organization_id, appointment_id)
    return Appointment(**row) if row else None
