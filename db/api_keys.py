"""api_keys: integrator credentials with scopes; only a hash and a visible prefix are kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class ApiKey:
    id: int
    user_id: int
    name: str
    prefix: str
    key_hash: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    organization_id: int = 0  # the key acts in this organisation, as its creator (user_id)


_COLUMNS = ", ".join(ApiKey.__dataclass_fields__)


async def insert(db: Executor, *, user_id: int, name: str, prefix: str, key_hash: str,
                 scopes: list[str], organization_id: int | None = None) -> ApiKey:
    """``user_id`` creates it; it belongs to ``organization_id`` (by default theirs)."""
    row = await db.fetchrow(
        "INSERT INTO api_keys (user_id, name, prefix, key_hash, scopes, organization_id)"
        " VALUES ($1, $2, $3, $4, $5, coalesce($6,"
        f" (SELECT organization_id FROM memberships WHERE user_id = $1))) RETURNING {_COLUMNS}",
        user_id, name, prefix, key_hash, scopes, organization_id)
    return ApiKey(**row)


async def by_prefix(db: Executor, prefix: str) -> ApiKey | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM api_keys WHERE prefix = $1", prefix)
    return ApiKey(**row) if row else None


async def for_org(db: Executor, organization_id: int, *, include_revoked: bool = False
                  ) -> list[ApiKey]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM api_keys WHERE organization_id = $1"
        " AND ($2 OR revoked_at IS NULL) ORDER BY id", organization_id, include_revoked)
    return [ApiKey(**r) for r in rows]


async def get_for_org(db: Executor, organization_id: int, key_id: int) -> ApiKey | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM api_keys WHERE id = $1 AND organization_id = $2",
        key_id, organization_id)
    return ApiKey(**row) if row else None


async def revoke(db: Executor, organization_id: int, key_id: int) -> ApiKey | None:
    row = await db.fetchrow(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
        f" WHERE id = $1 AND organization_id = $2 RETURNING {_COLUMNS}",
        key_id, organization_id)
    return ApiKey(**row) if row else None


async def revoke_created_by(db: Executor, organization_id: int, user_id: int) -> None:
    """A member leaves: the keys they made in the organisation stop working."""
    await db.execute("UPDATE api_keys SET revoked_at = now() WHERE organization_id = $1"
                     " AND user_id = $2 AND revoked_at IS NULL", organization_id, user_id)


async def touch(db: Executor, key_id: int) -> None:
    # At most one write a minute per key: last_used_at is for humans, not for audit.
    await db.execute(
        "UPDATE api_keys SET last_used_at = now() WHERE id = $1"
        " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')", key_id)
