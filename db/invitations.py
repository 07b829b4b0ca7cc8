"""invitations: single-use, expiring invitations to join an organisation (token hashes only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class Invitation:
    id: int
    organization_id: int
    email: str
    role: str
    invited_by: int | None
    created_at: datetime
    sent_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    accepted_by: int | None
    revoked_at: datetime | None
    expired: bool

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expired else "pending"


_COLUMNS = ("id, organization_id, email, role, invited_by, created_at, sent_at, expires_at,"
            " accepted_at, accepted_by, revoked_at, expires_at <= now() AS expired")
_OPEN = "accepted_at IS NULL AND revoked_at IS NULL"


async def insert(db: Executor, *, organization_id: int, email: str, role: str,
                 token_hash: str, invited_by: int, ttl_seconds: int) -> Invitation:
    """A new invitation; an open one to the same address in the organisation is revoked
    (run both in one transaction)."""
    await db.execute(f"UPDATE invitations SET revoked_at = now() WHERE organization_id = $1"
                     f" AND lower(email) = lower($2) AND {_OPEN}", organization_id, email)
    row = await db.fetchrow(
        "INSERT INTO invitations (organization_id, email, role, token_hash, invited_by,"
        " expires_at) VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))"
        f" RETURNING {_COLUMNS}",
        organization_id, email.lower(), role, token_hash, invited_by, float(ttl_seconds))
    return Invitation(**row)


async def list_for_org(db: Executor, organization_id: int) -> list[Invitation]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM invitations WHERE organization_id = $1"
                          " ORDER BY id DESC", organization_id)
    return [Invitation(**r) for r in rows]


async def get_for_org(db: Executor, organization_id: int, invitation_id: int
                      ) -> Invitation | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM invitations WHERE id = $1"
                            " AND organization_id = $2", invitation_id, organization_id)
    return Invitation(**row) if row else None


async def renew(db: Executor, organization_id: int, invitation_id: int, *, token_hash: str,
                ttl_seconds: int) -> Invitation | None:
    """Resend: a new token (the old one stops working) and a new expiry; open ones only."""
    row = await db.fetchrow(
        "UPDATE invitations SET token_hash = $3, sent_at = now(),"
        " expires_at = now() + make_interval(secs => $4)"
        f" WHERE id = $1 AND organization_id = $2 AND {_OPEN} RETURNING {_COLUMNS}",
        invitation_id, organization_id, token_hash, float(ttl_seconds))
    return Invitation(**row) if row else None


async def revoke(db: Executor, organization_id: int, invitation_id: int) -> Invitation | None:
    """Revoke an open invitation (a revoked one stays revoked); None if not found."""
    row = await db.fetchrow(
        "UPDATE invitations SET revoked_at = coalesce(revoked_at, now())"
        " WHERE id = $1 AND organization_id = $2 AND accepted_at IS NULL"
        f" RETURNING {_COLUMNS}", invitation_id, organization_id)
    return Invitation(**row) if row else None


async def by_token(db: Executor, token_hash: str) -> Invitation | None:
    """The invitation of a token, whatever its state, locked until the transaction ends."""
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM invitations WHERE token_hash = $1"
                            " FOR UPDATE", token_hash)
    return Invitation(**row) if row else None


async def mark_accepted(db: Executor, invitation_id: int, user_id: int) -> bool:
    """Use the invitation, once: False when it was used, revoked or expired meanwhile."""
    result = await db.execute(
        "UPDATE invitations SET accepted_at = now(), accepted_by = $2"
        f" WHERE id = $1 AND {_OPEN} AND expires_at > now()", invitation_id, user_id)
    return result.endswith(" 1")
