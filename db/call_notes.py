"""call_notes: transcript notes other systems append to a call (a CRM's summary, a human
agent's follow-up), kept apart from the turns the call itself wrote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class Note:
    id: int
    conversation_id: int
    user_id: int | None
    source: str
    text: str
    created_at: datetime


_COLUMNS = ", ".join(Note.__dataclass_fields__)


async def insert(db: Executor, *, conversation_id: int, user_id: int | None, source: str,
                 text: str) -> Note:
    row = await db.fetchrow(
        "INSERT INTO call_notes (conversation_id, user_id, source, text)"
        f" VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}",
        conversation_id, user_id, source, text)
    return Note(**row)


async def for_conversation(db: Executor, conversation_id: int) -> list[Note]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM call_notes WHERE conversation_id = $1"
                          " ORDER BY id", conversation_id)
    return [Note(**r) for r in rows]
