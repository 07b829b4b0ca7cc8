"""calendar_credentials: one per client; the secret part arrives and leaves encrypted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

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
    provider: str = "google"     # google | microsoft
    last_used_at: datetime | None = None
    # Set when the provider refused a token refresh: the owner must connect again.
    reauthorization_required_at: datetime | None = None
    last_error: str | None = None

    @property
    def needs_reauthorization(self) -> bool:
        return self.reauthorization_required_at is not None


_COLUMNS = ", ".join(CalendarCredential.__dataclass_fields__)


async def upsert(db: Executor, *, client_id: int, kind: str, account_email: str | None,
                 scopes: list[str], ciphertext: bytes,
                 provider: str = "google") -> CalendarCredential:
    """Connect (or connect again): a new credential starts healthy."""
    row = await db.fetchrow(
        "INSERT INTO calendar_credentials (client_id, kind, account_email, scopes, ciphertext,"
        " provider) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_id) DO UPDATE SET"
        " kind = EXCLUDED.kind, account_email = EXCLUDED.account_email,"
        " scopes = EXCLUDED.scopes, ciphertext = EXCLUDED.ciphertext,"
        " provider = EXCLUDED.provider, created_at = CASE WHEN calendar_credentials.provider"
        " = EXCLUDED.provider THEN calendar_credentials.created_at ELSE now() END,"
        " updated_at = now(), reauthorization_required_at = NULL, last_error = NULL"
        f" RETURNING {_COLUMNS}", client_id, kind, account_email, scopes, ciphertext, provider)
    return CalendarCredential(**row)


async def get(db: Executor, client_id: int) -> CalendarCredential | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM calendar_credentials WHERE client_id = $1",
                            client_id)
    return CalendarCredential(**row) if row else None


async def lock(conn: asyncpg.Connection, client_id: int) -> CalendarCredential | None:
    """The credential, row-locked until the caller's transaction ends (one refresh at a time
    across every process)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM calendar_credentials WHERE client_id = $1 FOR UPDATE",
        client_id)
    return CalendarCredential(**row) if row else None


async def store_secret(db: Executor, client_id: int, ciphertext: bytes) -> None:
    """Refreshed tokens, sealed by the caller."""
    await db.execute("UPDATE calendar_credentials SET ciphertext = $2, updated_at = now()"
                     " WHERE client_id = $1", client_id, ciphertext)


async def mark_used(db: Executor, client_id: int) -> None:
    await db.execute("UPDATE calendar_credentials SET last_used_at = now(), last_error = NULL"
                     " WHERE client_id = $1", client_id)


async def require_reauthorization(db: Executor, client_id: int, error: str) -> None:
    await db.execute(
        "UPDATE calendar_credentials SET reauthorization_required_at = coalesce("
        "reauthorization_required_at, now()), last_error = $2 WHERE client_id = $1",
        client_id, error[:300])


async def delete(db: Executor, client_id: int) -> CalendarCredential | None:
    row = await db.fetchrow(
        f"DELETE FROM calendar_credentials WHERE client_id = $1 RETURNING {_COLUMNS}", client_id)
    return CalendarCredential(**row) if row else None
