"""email_messages: e-mails to owners (and the agent's), queued and sent by the job queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class Email:
    id: int
    owner_id: int | None
    client_id: int | None
    kind: str
    to_address: str
    subject: str
    body: str
    status: str
    backend: str | None
    error: str | None
    idempotency_key: str | None
    created_at: datetime
    sent_at: datetime | None


_COLUMNS = ", ".join(Email.__dataclass_fields__)


async def insert(db: Executor, *, kind: str, to_address: str, subject: str, body: str,
                 owner_id: int | None = None, client_id: int | None = None,
                 key: str | None = None) -> Email | None:
    """Queue one e-mail; None when one with this idempotency key exists already."""
    row = await db.fetchrow(
        "INSERT INTO email_messages (owner_id, client_id, kind, to_address, subject, body,"
        " idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        f" ON CONFLICT (idempotency_key) DO NOTHING RETURNING {_COLUMNS}",
        owner_id, client_id, kind, to_address, subject, body, key)
    return Email(**row) if row else None


async def get(db: Executor, email_id: int) -> Email | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM email_messages WHERE id = $1", email_id)
    return Email(**row) if row else None


async def mark(db: Executor, email_id: int, status: str, *, backend: str | None,
               error: str | None = None) -> None:
    await db.execute(
        "UPDATE email_messages SET status = $2, backend = $3, error = $4,"
        " sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END WHERE id = $1",
        email_id, status, backend, error)


async def owner_addresses(db: Executor, *, client_id: int | None = None,
                          organization_id: int | None = None) -> list[tuple[int, str]]:
    """(user id, address) of the people told about a client's (or an organisation's)
    business: the organisation's owners."""
    rows = await db.fetch(
        "SELECT u.id, u.email FROM users u JOIN memberships m ON m.user_id = u.id"
        " WHERE u.is_active AND m.role = 'owner' AND m.organization_id ="
        " coalesce($2, (SELECT organization_id FROM clients WHERE id = $1)) ORDER BY u.id",
        client_id, organization_id)
    return [(r["id"], r["email"]) for r in rows]
