"""messages: what callers asked the agent to pass on to the business."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class Message:
    id: int
    client_id: int
    conversation_id: int | None
    contact_id: int | None
    name: str | None
    callback_phone: str | None
    body: str
    reason: str
    created_at: datetime


_COLUMNS = ", ".join(Message.__dataclass_fields__)


async def insert(db: Executor, *, client_id: int, conversation_id: int | None,
                 contact_id: int | None, name: str | None, callback_phone: str | None,
                 body: str, reason: str = "requested") -> Message:
    row = await db.fetchrow(
        "INSERT INTO messages (client_id, conversation_id, contact_id, name, callback_phone,"
        f" body, reason) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}",
        client_id, conversation_id, contact_id, name, callback_phone, body, reason)
    return Message(**row)


async def for_conversation(db: Executor, client_id: int, conversation_id: int) -> list[Message]:
    """A call's messages, oldest first; scoped to the client like every API query."""
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM messages WHERE conversation_id = $1"
                          " AND client_id = $2 ORDER BY id", conversation_id, client_id)
    return [Message(**r) for r in rows]
