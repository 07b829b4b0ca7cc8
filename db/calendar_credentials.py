"""calendar_credentials: one per client; the secret part arrives and leaves encrypted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class CalendarCredential:
    client_id: int
    kind: str                    # oauth | service_account
    account_email: str | None
    scopes: list[str]
    ciphertext: bytes
    created_at: datetime
    updated_at: datetime


_COLUMNS = "client_id, kind, account_email, scopes, ciphertext, created_at, updated_at"


async def upsert(db: Executor, *, client_id: int, kind: str, account_email: str | None,
                 scopes: list[str], ciphertext: bytes) -> CalendarCredential:
    row = await db.fetchrow(
        "INSERT INTO calendar_credentials (client_id, kind, account_email, scopes, ciphertext)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id) DO UPDATE SET"
        " kind = EXCLUDED.kind, account_email = EXCLUDED.account_email,"
        " scopes = EXCLUDED.scopes, ciphertext = EXCLUDED.ciphertext, updated_at = now()"
        f" RETURNING {_COLUMNS}", client_id, kind, account_email, scopes, ciphertext)
    return CalendarCredential(**row)


async def get(db: Executor, client_id: int) -> CalendarCredential | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM calendar_credentials WHERE client_id = $1",
                            client_id)
    return CalendarCredential(**row) if row else None


async def delete(db: Executor, client_id: int) -> CalendarCredential | None:
    row = await db.fetchrow(
        f"DELETE FROM calendar_credentials WHERE client_id = $1 RETURNING {_COLUMNS}", client_id)
    return CalendarCredential(**row) if row else None
