"""contacts: callers a client has heard from, one per client and phone number."""

from __future__ import annotations

from db.pool import Executor


async def upsert_by_phone(db: Executor, *, client_id: int, phone_number: str) -> int:
    """Return the contact id for this caller, creating the contact on first call."""
    return await db.fetchval(
        "INSERT INTO contacts (client_id, phone_number) VALUES ($1, $2)"
        " ON CONFLICT (client_id, phone_number) DO UPDATE SET updated_at = now()"
        " RETURNING id", client_id, phone_number)


async def set_name_if_missing(db: Executor, contact_id: int, name: str) -> None:
    await db.execute("UPDATE contacts SET name = $2, updated_at = now()"
                     " WHERE id = $1 AND (name IS NULL OR name = '')", contact_id, name)
