"""contacts: callers a client has heard from, one per client and phone number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.pool import Executor, assignments


async def upsert_by_phone(db: Executor, *, client_id: int, phone_number: str) -> int:
    """Return the contact id for this caller, creating the contact on first call."""
    return await db.fetchval(
        "INSERT INTO contacts (client_id, phone_number) VALUES ($1, $2)"
        " ON CONFLICT (client_id, phone_number) DO UPDATE SET updated_at = now()"
        " RETURNING id", client_id, phone_number)


async def ensure_by_phone(db: Executor, *, client_id: int, phone_number: str) -> tuple[int, bool]:
    """(contact id, created now) for this caller."""
    row = await db.fetchrow(
        "INSERT INTO contacts (client_id, phone_number) VALUES ($1, $2)"
        " ON CONFLICT (client_id, phone_number) DO UPDATE SET updated_at = now()"
        " RETURNING id, xmax = 0 AS created", client_id, phone_number)
    return row["id"], row["created"]


async def set_name_if_missing(db: Executor, contact_id: int, name: str) -> None:
    await db.execute("UPDATE contacts SET name = $2, updated_at = now()"
                     " WHERE id = $1 AND (name IS NULL OR name = '')", contact_id, name)


# --- the management API ----------------------------------------------------------------------
# Callers check that the client belongs to the user first; every query here is then
# scoped to that client.

@dataclass(frozen=True)
class Contact:
    id: int
    client_id: int
    phone_number: str
    name: str | None
    email: str | None
    notes: str
    created_at: datetime
    updated_at: datetime


_COLUMNS = ", ".join(Contact.__dataclass_fields__)
WRITABLE = frozenset({"phone_number", "name", "email", "notes"})


async def list_for_client(db: Executor, client_id: int, *, limit: int, offset: int,
                          search: str | None = None) -> tuple[list[Contact], int]:
    pattern = f"%{search}%" if search else None
    where = ("client_id = $1 AND ($2::text IS NULL OR name ILIKE $2 OR phone_number LIKE $2"
             " OR email ILIKE $2)")
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM contacts WHERE {where}"
                          " ORDER BY id LIMIT $3 OFFSET $4", client_id, pattern, limit, offset)
    total = await db.fetchval(f"SELECT count(*) FROM contacts WHERE {where}", client_id,
                              pattern)
    return [Contact(**r) for r in rows], total


async def get_for_client(db: Executor, client_id: int, contact_id: int) -> Contact | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM contacts WHERE id = $1 AND client_id = $2",
                            contact_id, client_id)
    return Contact(**row) if row else None


async def insert(db: Executor, *, client_id: int, phone_number: str, name: str | None = None,
                 email: str | None = None, notes: str = "") -> Contact:
    row = await db.fetchrow(
        "INSERT INTO contacts (client_id, phone_number, name, email, notes)"
        f" VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
        client_id, phone_number, name, email, notes)
    return Contact(**row)


async def update_for_client(db: Executor, client_id: int, contact_id: int,
                            **values: Any) -> Contact | None:
    unknown = set(values) - WRITABLE
    if unknown:
        raise TypeError(f"unknown contact fields: {sorted(unknown)}")
    if not values:
        return await get_for_client(db, client_id, contact_id)
    sets = assignments(values, first_param=3)
    row = await db.fetchrow(
        f"UPDATE contacts SET {sets}, updated_at = now() WHERE id = $1 AND client_id = $2"
        f" RETURNING {_COLUMNS}", contact_id, client_id, *values.values())
    return Contact(**row) if row else None


async def delete_for_client(db: Executor, client_id: int, contact_id: int) -> bool:
    result = await db.execute("DELETE FROM contacts WHERE id = $1 AND client_id = $2",
                              contact_id, client_id)
    return result.endswith(" 1")
