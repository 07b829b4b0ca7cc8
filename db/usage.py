"""The balance and its ledger. balance_seconds changes only through these statements."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from db import outbox
from db.pool import Executor


@dataclass(frozen=True)
class Debit:
    seconds: int          # what was actually taken (≤ what was asked)
    balance_after: int


# One statement: lock the row, take at most what is left, write the ledger row and the
# call's running total. Two calls of one client can never take more than the balance.
_DEBIT = """
WITH before AS (
    SELECT id, balance_seconds FROM clients WHERE id = $1 FOR UPDATE
), upd AS (
    UPDATE clients c SET balance_seconds = c.balance_seconds - least($3, b.balance_seconds)
    FROM before b WHERE c.id = b.id
    RETURNING c.balance_seconds AS balance_after, b.balance_seconds - c.balance_seconds AS debited
), conv AS (
    UPDATE conversations SET billed_seconds = billed_seconds + (SELECT debited FROM upd)
    WHERE id = $2
), ledger AS (
    INSERT INTO usage_ledger (client_id, conversation_id, seconds, balance_after, reason)
    SELECT $1, $2, debited, balance_after, $4 FROM upd WHERE debited > 0
), last_grant AS (
    SELECT id, -seconds AS granted FROM usage_ledger
    WHERE client_id = $1 AND seconds < 0 ORDER BY id DESC LIMIT 1
)
SELECT debited, balance_after, g.id AS grant_id, g.granted,
       b.balance_seconds AS balance_before, (SELECT name FROM clients WHERE id = $1) AS name
FROM upd CROSS JOIN before b LEFT JOIN last_grant g ON true
"""
LOW_FRACTION = 0.10   # under this share of the last grant, the owners are warned (once)


async def debit(db: Executor, *, client_id: int, conversation_id: int | None, seconds: int,
                reason: str) -> Debit:
    """Take at most ``seconds``. The debit that takes the balance under 10 % of the last
    grant records ``balance.low`` in its transaction (once per grant)."""
    if seconds < 0:
        raise ValueError("seconds must be >= 0")
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            return await debit(conn, client_id=client_id, conversation_id=conversation_id,
                               seconds=seconds, reason=reason)
    row = await db.fetchrow(_DEBIT, client_id, conversation_id, seconds, reason)
    if row is None:
        return Debit(0, 0)  # client deleted mid-call
    granted = row["granted"] or 0
    threshold = granted * LOW_FRACTION
    if row["debited"] > 0 and row["balance_before"] >= threshold > row["balance_after"]:
        await outbox.record(db, "balance.low", {
            "client_name": row["name"], "balance_seconds": row["balance_after"],
            "grant_seconds": granted}, client_id=client_id, key=f"balance.low:{row['grant_id']}")
    return Debit(row["debited"], row["balance_after"])


async def credit(db: Executor, *, client_id: int, seconds: int, reason: str = "topup") -> int:
    """Add seconds (a top-up); returns the new balance."""
    if seconds <= 0:
        raise ValueError("seconds must be > 0")
    return await db.fetchval(
        "WITH upd AS (UPDATE clients SET balance_seconds = balance_seconds + $2 WHERE id = $1"
        " RETURNING balance_seconds)"
        " INSERT INTO usage_ledger (client_id, seconds, balance_after, reason)"
        " SELECT $1, -$2, balance_seconds, $3 FROM upd RETURNING balance_after",
        client_id, seconds, reason)


async def for_conversation(db: Executor, conversation_id: int) -> list[dict]:
    rows = await db.fetch(
        "SELECT seconds, balance_after, reason, created_at FROM usage_ledger"
        " WHERE conversation_id = $1 ORDER BY id", conversation_id)
    return [dict(r) for r in rows]
