"""outbound_calls: calls the API asked Twilio to place, until Twilio says who answered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class OutboundCall:
    id: int
    client_id: int
    call_sid: str | None
    to_number: str
    greeting: str | None
    on_machine: str             # voicemail | hang_up
    voicemail: str | None
    requested_by: int | None
    answered_by: str | None
    created_at: datetime


_COLUMNS = ", ".join(OutboundCall.__dataclass_fields__)


async def insert(db: Executor, *, client_id: int, to_number: str, greeting: str | None,
                 on_machine: str, voicemail: str | None, requested_by: int | None
                 ) -> OutboundCall:
    row = await db.fetchrow(
        "INSERT INTO outbound_calls (client_id, to_number, greeting, on_machine, voicemail,"
        f" requested_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}",
        client_id, to_number, greeting, on_machine, voicemail, requested_by)
    return OutboundCall(**row)


async def set_call_sid(db: Executor, outbound_id: int, call_sid: str) -> None:
    await db.execute("UPDATE outbound_calls SET call_sid = $2 WHERE id = $1",
                     outbound_id, call_sid)


async def delete(db: Executor, outbound_id: int) -> None:
    await db.execute("DELETE FROM outbound_calls WHERE id = $1", outbound_id)


async def answered(db: Executor, outbound_id: int, *, call_sid: str,
                   answered_by: str) -> OutboundCall | None:
    """Twilio's answer for the request: None when the id is unknown or belongs to another
    call (a forged or replayed webhook cannot adopt someone else's request)."""
    row = await db.fetchrow(
        f"UPDATE outbound_calls SET answered_by = $3, call_sid = COALESCE(call_sid, $2)"
        f" WHERE id = $1 AND (call_sid IS NULL OR call_sid = $2) RETURNING {_COLUMNS}",
        outbound_id, call_sid, answered_by)
    return OutboundCall(**row) if row else None


async def by_call_sid(db: Executor, call_sid: str) -> OutboundCall | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM outbound_calls WHERE call_sid = $1",
                            call_sid)
    return OutboundCall(**row) if row else None
