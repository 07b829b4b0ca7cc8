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
)
SELECT debited, balance_after FROM upd
"""
LOW_FRACTION = 0.10   # under this share of the last grant, the owners are warned (once)
# The last grant: the latest credit that was not a call giving back unused talk time.
_LAST_GRANT = """
SELECT id, -seconds AS granted, (SELECT name FROM clients WHERE id = $1) AS name
FROM usage_ledger WHERE client_id = $1 AND seconds < 0 AND reason <> 'call_refund'
ORDER BY id DESC LIMIT 1
"""


# A tick of a live call: the same, only while the conversation is active. Locking the
# conversation first (as its finalization does) means a tick that races the end of its call
# is either in the bill the finalization settles or not taken at all.
_PREPAY = """
WITH live AS (
    SELECT id FROM conversations WHERE id = $2 AND client_id = $1 AND status = 'active'
    FOR UPDATE
), before AS (
    SELECT c.id, c.balance_seconds FROM clients c WHERE c.id = $1
    AND EXISTS (SELECT 1 FROM live) FOR UPDATE
), upd AS (
    UPDATE clients c SET balance_seconds = c.balance_seconds - least($3, b.balance_seconds)
    FROM before b WHERE c.id = b.id
    RETURNING c.balance_seconds AS balance_after, b.balance_seconds - c.balance_seconds AS debited
), conv AS (
    UPDATE conversations SET billed_seconds = billed_seconds + (SELECT debited FROM upd)
    WHERE id = (SELECT id FROM live)
), ledger AS (
    INSERT INTO usage_ledger (client_id, conversation_id, seconds, balance_after, reason)
    SELECT $1, $2, debited, balance_after, 'call_tick' FROM upd WHERE debited > 0
)
SELECT debited, balance_after FROM upd
"""

# The unused part of a call's prepaid talk time, back to the balance with its own row.
_REFUND = """
WITH conv AS (
    UPDATE conversations SET billed_seconds = billed_seconds - $3
    WHERE id = $2 AND client_id = $1 AND billed_seconds >= $3 RETURNING id
), upd AS (
    UPDATE clients SET balance_seconds = balance_seconds + $3
    WHERE id = $1 AND EXISTS (SELECT 1 FROM conv) RETURNING balance_seconds
)
INSERT INTO usage_ledger (client_id, conversation_id, seconds, balance_after, reason)
SELECT $1, $2, -$3, balance_seconds, 'call_refund' FROM upd RETURNING balance_after
"""


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
    taken = Debit(row["debited"], row["balance_after"])
    await _warn_if_low(db, client_id, taken)
    return taken


async def _warn_if_low(db: Executor, client_id: int, taken: Debit) -> None:
    """Record ``balance.low`` (once per grant) when ``taken`` crossed 10 % of the last grant;
    called in the debit's transaction, after the client's row was locked by it."""
    if taken.seconds <= 0:
        return
    grant = await db.fetchrow(_LAST_GRANT, client_id)
    if grant is None:
        return
    threshold = grant["granted"] * LOW_FRACTION
    if taken.balance_after + taken.seconds >= threshold > taken.balance_after:
        await outbox.record(db, "balance.low", {
            "client_name": grant["name"], "balance_seconds": taken.balance_after,
            "grant_seconds": grant["granted"]}, client_id=client_id,
            key=f"balance.low:{grant['id']}")


async def prepay(db: Executor, *, client_id: int, conversation_id: int, seconds: int) -> Debit:
    """Debit the next tick of a live call before it is talked (at most what is left);
    Debit(0, 0) once the call has ended."""
    if seconds <= 0:
        raise ValueError("seconds must be > 0")
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            return await prepay(conn, client_id=client_id, conversation_id=conversation_id,
                                seconds=seconds)
    row = await db.fetchrow(_PREPAY, client_id, conversation_id, seconds)
    if row is None:
        return Debit(0, 0)
    taken = Debit(row["debited"], row["balance_after"])
    await _warn_if_low(db, client_id, taken)
    return taken


async def refund(db: Executor, *, client_id: int, conversation_id: int,
                 seconds: int) -> int | None:
    """Give back prepaid seconds a call did not talk; the new balance (None: nothing done)."""
    if seconds <= 0:
        raise ValueError("seconds must be > 0")
    return await db.fetchval(_REFUND, client_id, conversation_id, seconds)


MAX_CREDIT_SECONDS = 10_000_000  # one grant; bounds the admin API and the CLI alike

_CREDIT = """
WITH upd AS (
    UPDATE clients SET balance_seconds = balance_seconds + $2 WHERE id = $1
    RETURNING balance_seconds
)
INSERT INTO usage_ledger (client_id, seconds, balance_after, reason, note)
SELECT $1, -$2, balance_seconds, $3, $4 FROM upd RETURNING balance_after
"""


async def credit(db: Executor, *, client_id: int, seconds: int, reason: str = "topup",
                 note: str | None = None) -> int | None:
    """Add seconds (a top-up); returns the new balance, None if there is no such client.
    The admin API and ``frontdesk admin top-up`` both come through here."""
    if not 0 < seconds <= MAX_CREDIT_SECONDS:
        raise ValueError(f"seconds must be between 1 and {MAX_CREDIT_SECONDS}")
    return await db.fetchval(_CREDIT, client_id, seconds, reason, note)


# The trial: claim the organisation's one grant (trial_granted_at still NULL, no other
# client of it yet) and credit this client, in one statement. Concurrent first clients of
# one organisation queue on its row; the later one re-checks trial_granted_at and gets
# nothing. Organisations that had clients before trials existed are not given one.
_TRIAL = """
WITH org AS (
    UPDATE organizations o SET trial_granted_at = now(), updated_at = now()
    FROM clients c
    WHERE c.id = $1 AND o.id = c.organization_id AND o.trial_granted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM clients other
                      WHERE other.organization_id = o.id AND other.id <> $1)
    RETURNING o.id
), upd AS (
    UPDATE clients SET balance_seconds = balance_seconds + $2
    WHERE id = $1 AND EXISTS (SELECT 1 FROM org) RETURNING balance_seconds
)
INSERT INTO usage_ledger (client_id, seconds, balance_after, reason)
SELECT $1, -$2, balance_seconds, 'trial' FROM upd RETURNING balance_after
"""


async def grant_trial(db: Executor, *, client_id: int, seconds: int) -> int | None:
    """Credit the trial to the new client if its organisation has never had one; the new
    balance, or None when nothing was granted. Call it in the transaction that inserted
    the client, so a client never exists without the trial it was due."""
    if seconds <= 0:
        return None
    return await db.fetchval(_TRIAL, client_id, seconds)


async def ledger(db: Executor, client_id: int, *, limit: int = 20) -> list[dict]:
    """The client's latest ledger rows, oldest first."""
    rows = await db.fetch(
        "SELECT * FROM (SELECT id, conversation_id, seconds, balance_after, reason, note,"
        " created_at FROM usage_ledger WHERE client_id = $1 ORDER BY id DESC LIMIT $2) t"
        " ORDER BY id", client_id, limit)
    return [dict(r) for r in rows]


async def ledger_count(db: Executor, client_id: int) -> int:
    return await db.fetchval("SELECT count(*) FROM usage_ledger WHERE client_id = $1",
                             client_id)


async def for_conversation(db: Executor, conversation_id: int) -> list[dict]:
    rows = await db.fetch(
        "SELECT seconds, balance_after, reason, created_at FROM usage_ledger"
        " WHERE conversation_id = $1 ORDER BY id", conversation_id)
    return [dict(r) for r in rows]
