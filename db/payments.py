"""payments: links the agent made for a caller to pay a deposit or a fee (Stripe Checkout)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class Payment:
    id: int
    client_id: int
    conversation_id: int | None
    amount_cents: int
    currency: str
    description: str
    caller_phone: str
    stripe_session_id: str
    url: str
    texted: bool
    status: str
    created_at: datetime
    paid_at: datetime | None


_COLUMNS = ", ".join(Payment.__dataclass_fields__)


async def insert(db: Executor, *, client_id: int, conversation_id: int | None,
                 amount_cents: int, currency: str, description: str, caller_phone: str,
                 stripe_session_id: str, url: str, texted: bool) -> Payment:
    row = await db.fetchrow(
        "INSERT INTO payments (client_id, conversation_id, amount_cents, currency, description,"
        " caller_phone, stripe_session_id, url, texted)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_COLUMNS}",
        client_id, conversation_id, amount_cents, currency, description, caller_phone,
        stripe_session_id, url, texted)
    return Payment(**row)


async def count_for_conversation(db: Executor, conversation_id: int | None) -> int:
    if conversation_id is None:
        return 0
    return await db.fetchval("SELECT count(*) FROM payments WHERE conversation_id = $1",
                             conversation_id)


async def mark_paid(db: Executor, stripe_session_id: str) -> Payment | None:
    """The session was paid; None if it is not one of ours or was marked before."""
    row = await db.fetchrow(
        "UPDATE payments SET status = 'paid', paid_at = now()"
        f" WHERE stripe_session_id = $1 AND status = 'open' RETURNING {_COLUMNS}",
        stripe_session_id)
    return Payment(**row) if row else None


async def for_conversation(db: Executor, conversation_id: int) -> list[Payment]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM payments WHERE conversation_id = $1"
                          " ORDER BY id", conversation_id)
    return [Payment(**r) for r in rows]
