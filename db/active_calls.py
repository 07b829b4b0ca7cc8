"""active_calls: calls in progress, shared by every server process."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class ActiveCall:
    call_sid: str
    conversation_id: int
    client_id: int
    client_name: str
    owner_id: int
    caller_phone: str
    started_at: datetime
    process_id: uuid.UUID
    heartbeat_at: datetime


async def insert(db: Executor, *, call_sid: str, conversation_id: int, client_id: int,
                 owner_id: int, caller_phone: str, process_id: uuid.UUID) -> None:
    await db.execute(
        "INSERT INTO active_calls (call_sid, conversation_id, client_id, owner_id, caller_phone,"
        " process_id) VALUES ($1, $2, $3, $4, $5, $6)",
        call_sid, conversation_id, client_id, owner_id, caller_phone, process_id)


async def delete(db: Executor, call_sid: str) -> None:
    await db.execute("DELETE FROM active_calls WHERE call_sid = $1", call_sid)


_SELECT = (
    "SELECT a.call_sid, a.conversation_id, a.client_id, c.name AS client_name, a.owner_id,"
    " a.caller_phone, a.started_at, a.process_id, a.heartbeat_at"
    " FROM active_calls a JOIN clients c ON c.id = a.client_id"
)


async def for_org(db: Executor, organization_id: int, *, stale_after_seconds: float
                  ) -> list[ActiveCall]:
    """The organisation's live calls; rows whose process stopped beating are left out."""
    rows = await db.fetch(
        f"{_SELECT} WHERE c.organization_id = $1"
        " AND a.heartbeat_at >= now() - make_interval(secs => $2) ORDER BY a.started_at",
        organization_id, stale_after_seconds)
    return [ActiveCall(**r) for r in rows]


async def of_processes(db: Executor, process_ids: list[uuid.UUID]) -> list[ActiveCall]:
    rows = await db.fetch(f"{_SELECT} WHERE a.process_id = ANY($1::uuid[])", process_ids)
    return [ActiveCall(**r) for r in rows]


async def is_live(db: Executor, conversation_id: int, *, stale_after_seconds: float) -> bool:
    """Whether a process that still beats holds this call."""
    return bool(await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM active_calls WHERE conversation_id = $1"
        " AND heartbeat_at >= now() - make_interval(secs => $2))",
        conversation_id, stale_after_seconds))
