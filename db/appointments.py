"""appointments: slots booked on a client's calendar (times are UTC instants)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.pool import Executor

_SLOT_CONSTRAINT = "appointments_one_booking_per_slot"


class SlotTaken(Exception):
    """The client already has a booked appointment starting at that instant."""


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


_COLUMNS = ", ".join(Appointment.__dataclass_fields__)


async def insert(db: Executor, *, client_id: int, starts_at: datetime, ends_at: datetime,
                 name: str, phone: str, conversation_id: int | None = None,
                 contact_id: int | None = None, notes: str = "") -> Appointment:
    """Book a slot; raises SlotTaken when the unique index refuses it (also under a race)."""
    try:
        row = await db.fetchrow(
            "INSERT INTO appointments (client_id, conversation_id, contact_id, name, phone,"
            " starts_at, ends_at, notes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            f" RETURNING {_COLUMNS}",
            client_id, conversation_id, contact_id, name, phone, starts_at, ends_at, notes)
    except asyncpg.UniqueViolationError as e:
        if e.constraint_name == _SLOT_CONSTRAINT:
            raise SlotTaken(f"slot at {starts_at.isoformat()} is already booked") from None
        raise
    return Appointment(**row)


async def booked_between(db: Executor, client_id: int, start: datetime,
                         end: datetime) -> list[Appointment]:
    """Booked appointments overlapping [start, end), earliest first."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM appointments WHERE client_id = $1 AND status = 'booked'"
        " AND starts_at < $3 AND ends_at > $2 ORDER BY starts_at",
        client_id, start, end)
    return [Appointment(**r) for r in rows]


async def get(db: Executor, client_id: int, appointment_id: int) -> Appointment | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM appointments WHERE id = $2 AND client_id = $1",
        client_id, appointment_id)
    return Appointment(**row) if row else None


async def cancel(db: Executor, client_id: int, appointment_id: int) -> Appointment | None:
    """Cancel a booked appointment; None when there is no such booked appointment."""
    row = await db.fetchrow(
        "UPDATE appointments SET status = 'cancelled', cancelled_at = now()"
        " WHERE id = $2 AND client_id = $1 AND status = 'booked'"
        f" RETURNING {_COLUMNS}", client_id, appointment_id)
    return Appointment(**row) if row else None


async def for_conversation(db: Executor, conversation_id: int) -> list[Appointment]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM appointments WHERE conversation_id = $1 ORDER BY id",
        conversation_id)
    return [Appointment(**r) for r in rows]
