"""call_feedback: staff ratings of a call (1-5, with an optional comment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class Feedback:
    id: int
    conversation_id: int
    user_id: int | None
    rating: int
    comment: str | None
    created_at: datetime


_COLUMNS = ", ".join(Feedback.__dataclass_fields__)


async def insert(db: Executor, *, conversation_id: int, user_id: int | None, rating: int,
                 comment: str | None) -> Feedback:
    row = await db.fetchrow(
        "INSERT INTO call_feedback (conversation_id, user_id, rating, comment)"
        f" VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}",
        conversation_id, user_id, rating, comment)
    return Feedback(**row)


async def for_conversation(db: Executor, conversation_id: int) -> list[Feedback]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM call_feedback WHERE conversation_id = $1"
                          " ORDER BY id", conversation_id)
    return [Feedback(**r) for r in rows]
