"""clients: one receptionist per business phone number."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from db.pool import Executor


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
