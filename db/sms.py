"""sms_messages and sms_opt_outs: texts to and from callers, and who asked us to stop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor

# Twilio's final states: a late or repeated callback never moves a row out of one.
TERMINAL = frozenset({"delivered", "undelivered", "failed", "canceled", "read", "skipped",
                      "received"})


@dataclass(frozen=True)
class Sms:
    id: int
    client_id: int
    appointment_id: int | None
    direction: str
    kind: str
    from_number: str
    to_number: str
    body: str
    status: str
    send_at: datetime | None
    for_starts_at: datetime | None
    twilio_sid: str | None
    error_code: int | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


_COLUMNS = ", ".join(Sms.__dataclass_fields__)


async def insert_outbound(db: Executor, *, client_id: int, kind: str, from_number: str,
                          to_number: str, body: str, appointment_id: int | None = None,
                          send_at: datetime | None = None,
                          for_starts_at: datetime | None = None) -> Sms | None:
    """A text to send; None when this confirmation or reminder already exists."""
    row = await db.fetchrow(
        "INSERT INTO sms_messages (client_id, appointment_id, direction, kind, from_number,"
        " to_number, body, status, send_at, for_starts_at)"
        " VALUES ($1, $2, 'outbound', $3, $4, $5, $6, $7, $8, $9)"
        f" ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
        client_id, appointment_id, kind, from_number, to_number, body,
        "scheduled" if send_at else "queued", send_at, for_starts_at)
    return Sms(**row) if row else None


async def insert_inbound(db: Executor, *, client_id: int, from_number: str, to_number: str,
                         body: str, twilio_sid: str) -> Sms | None:
    """An inbound text; None when Twilio repeated a webhook we already stored."""
    row = await db.fetchrow(
        "INSERT INTO sms_messages (client_id, direction, kind, from_number, to_number, body,"
        " status, twilio_sid) VALUES ($1, 'inbound', 'inbound', $2, $3, $4, 'received', $5)"
        f" ON CONFLICT (twilio_sid) DO NOTHING RETURNING {_COLUMNS}",
        client_id, from_number, to_number, body, twilio_sid)
    return Sms(**row) if row else None


async def get(db: Executor, sms_id: int) -> Sms | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM sms_messages WHERE id = $1", sms_id)
    return Sms(**row) if row else None


async def mark_sent(db: Executor, sms_id: int, *, twilio_sid: str | None, status: str) -> None:
    await db.execute(
        "UPDATE sms_messages SET twilio_sid = $2, status = $3, updated_at = now()"
        " WHERE id = $1", sms_id, twilio_sid, status)


async def mark(db: Executor, sms_id: int, status: str, *, error_code: int | None = None,
               error_message: str | None = None) -> None:
    await db.execute(
        "UPDATE sms_messages SET status = $2, error_code = $3, error_message = $4,"
        " updated_at = now() WHERE id = $1", sms_id, status, error_code, error_message)


async def apply_status(db: Executor, twilio_sid: str, status: str,
                       error_code: int | None) -> bool:
    """A status callback; a terminal state is never left. False when the SID is unknown."""
    result = await db.execute(
        "UPDATE sms_messages SET status = CASE WHEN status = ANY($4::text[]) THEN status"
        " ELSE $2 END, error_code = coalesce($3, error_code), updated_at = now()"
        " WHERE twilio_sid = $1", twilio_sid, status, error_code, sorted(TERMINAL))
    return result.endswith(" 1")


async def for_client(db: Executor, client_id: int, *, limit: int = 100) -> list[Sms]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM sms_messages WHERE client_id = $1"
                          " ORDER BY id DESC LIMIT $2", client_id, limit)
    return [Sms(**r) for r in rows]


async def for_appointment(db: Executor, appointment_id: int) -> list[Sms]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM sms_messages WHERE appointment_id = $1"
                          " ORDER BY id", appointment_id)
    return [Sms(**r) for r in rows]


# --- opt-outs --------------------------------------------------------------------------------

async def opt_out(db: Executor, client_id: int, phone_number: str, keyword: str) -> None:
    await db.execute(
        "INSERT INTO sms_opt_outs (client_id, phone_number, keyword) VALUES ($1, $2, $3)"
        " ON CONFLICT (client_id, phone_number) DO NOTHING", client_id, phone_number, keyword)


async def opt_in(db: Executor, client_id: int, phone_number: str) -> None:
    await db.execute("DELETE FROM sms_opt_outs WHERE client_id = $1 AND phone_number = $2",
                     client_id, phone_number)


async def opted_out(db: Executor, client_id: int, phone_number: str) -> bool:
    return await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM sms_opt_outs WHERE client_id = $1 AND phone_number = $2)",
        client_id, phone_number)
