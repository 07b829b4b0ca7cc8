"""clients: one receptionist per business phone number."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from db.pool import Executor, assignments


@dataclass(frozen=True)
class Client:
    id: int
    owner_id: int
    name: str
    phone_number: str
    calendar_id: str | None
    system_prompt: str
    initial_greeting: str
    llm_model: str
    stt_model: str
    tts_provider: str
    tts_voice_id: str
    enabled_tools: list[str]
    balance_seconds: int
    is_active: bool
    timezone: str
    business_hours: dict[str, list[str]]
    slot_minutes: int
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    organization_id: int | None = None  # filled from the owner's membership on insert


_COLUMNS = ", ".join(Client.__dataclass_fields__)

# Columns a caller may set on insert (everything but id and the timestamps).
_WRITABLE = [c for c in Client.__dataclass_fields__ if c not in ("id", "created_at", "updated_at")]


async def insert(db: Executor, *, owner_id: int, name: str, phone_number: str,
                 **values: Any) -> Client:
    unknown = set(values) - set(_WRITABLE)
    if unknown:
        raise TypeError(f"unknown client fields: {sorted(unknown)}")
    values = {"owner_id": owner_id, "name": name, "phone_number": phone_number, **values}
    names = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    row = await db.fetchrow(
        f"INSERT INTO clients ({', '.join(names)}) VALUES ({placeholders}) RETURNING {_COLUMNS}",
        *values.values())
    return Client(**row)


async def get(db: Executor, client_id: int) -> Client | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM clients WHERE id = $1", client_id)
    return Client(**row) if row else None


async def get_by_phone(db: Executor, phone_number: str) -> Client | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM clients WHERE phone_number = $1",
                            phone_number)
    return Client(**row) if row else None


async def balance(db: Executor, client_id: int) -> int | None:
    return await db.fetchval("SELECT balance_seconds FROM clients WHERE id = $1", client_id)


async def count(db: Executor) -> int:
    return await db.fetchval("SELECT count(*) FROM clients")


# --- organisation-scoped access (the management API) -----------------------------------------
# Every function takes the organisation: another organisation's client is simply not found.

def in_organization(param: int, table: str = "clients") -> str:
    """The condition "``table`` (a clients row) belongs to the organisation in parameter
    ``param``", for queries that join clients to reach rows across all of its clients."""
    return f"{table}.organization_id = ${param}"


# Columns the API may change; balance_seconds, owner_id and organization_id are absent.
OWNER_WRITABLE = frozenset(_WRITABLE) - {"owner_id", "organization_id", "balance_seconds",
                                         "settings"}


async def list_for_org(db: Executor, organization_id: int, *, limit: int = 100,
                       offset: int = 0) -> list[Client]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM clients WHERE organization_id = $1 ORDER BY id"
        " LIMIT $2 OFFSET $3", organization_id, limit, offset)
    return [Client(**r) for r in rows]


async def count_for_org(db: Executor, organization_id: int) -> int:
    return await db.fetchval("SELECT count(*) FROM clients WHERE organization_id = $1",
                             organization_id)


async def get_for_org(db: Executor, organization_id: int, client_id: int) -> Client | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM clients WHERE id = $1 AND organization_id = $2",
        client_id, organization_id)
    return Client(**row) if row else None


async def update_for_org(db: Executor, organization_id: int, client_id: int,
                         **values: Any) -> Client | None:
    unknown = set(values) - OWNER_WRITABLE
    if unknown:
        raise TypeError(f"not owner-writable: {sorted(unknown)}")
    if not values:
        return await get_for_org(db, organization_id, client_id)
    sets = assignments(values, first_param=3)
    row = await db.fetchrow(
        f"UPDATE clients SET {sets}, updated_at = now() WHERE id = $1 AND organization_id = $2"
        f" RETURNING {_COLUMNS}", client_id, organization_id, *values.values())
    return Client(**row) if row else None


async def delete_for_org(db: Executor, organization_id: int, client_id: int) -> bool:
    result = await db.execute("DELETE FROM clients WHERE id = $1 AND organization_id = $2",
                              client_id, organization_id)
    return result.endswith(" 1")


async def set_setting(db: Executor, organization_id: int, client_id: int, key: str,
                      value: Any) -> Client | None:
    """Set one key of clients.settings in place (concurrent puts of other keys survive)."""
    row = await db.fetchrow(
        "UPDATE clients SET settings = settings || jsonb_build_object($3::text, $4::jsonb),"
        " updated_at = now() WHERE id = $1 AND organization_id = $2"
        f" RETURNING {_COLUMNS}", client_id, organization_id, key, value)
    return Client(**row) if row else None


async def remove_setting(db: Executor, organization_id: int, client_id: int,
                         key: str) -> Client | None:
    row = await db.fetchrow(
        "UPDATE clients SET settings = settings - $3::text, updated_at = now()"
        f" WHERE id = $1 AND organization_id = $2 RETURNING {_COLUMNS}",
        client_id, organization_id, key)
    return Client(**row) if row else None


async def has_live_call(db: Executor, client_id: int) -> bool:
    return await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM conversations WHERE client_id = $1"
        " AND status = 'active')", client_id)
