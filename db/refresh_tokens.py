"""refresh_tokens: long-lived sign-in sessions, rotated on every use (hashes only)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from db.pool import Executor


@dataclass(frozen=True)
class Rotation:
    user_id: int
    family_id: uuid.UUID


async def insert(db: Executor, *, user_id: int, token_hash: str, ttl_seconds: int,
                 family_id: uuid.UUID | None = None) -> None:
    await db.execute(
        "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)"
        " VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        user_id, family_id or uuid.uuid4(), token_hash, float(ttl_seconds))


async def consume(db: Executor, token_hash: str) -> Rotation | None:
    """Revoke a live token and return its family, once. A token that was already used is
    a replay: its whole family is revoked and None is returned, as for an unknown token."""
    row = await db.fetchrow(
        "UPDATE refresh_tokens SET revoked_at = now()"
        " WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()"
        " RETURNING user_id, family_id", token_hash)
    if row is not None:
        return Rotation(row["user_id"], row["family_id"])
    await revoke_family(db, token_hash)
    return None


# The session a token belongs to ends: its refresh tokens are revoked and its access tokens
# refused from now on (ended_sessions).
_END_FAMILY = """
WITH family AS (
    SELECT family_id FROM refresh_tokens WHERE token_hash = $1
    AND ($2::bigint IS NULL OR user_id = $2)
), ended AS (
    INSERT INTO ended_sessions (family_id) SELECT family_id FROM family
    ON CONFLICT (family_id) DO NOTHING
)
UPDATE refresh_tokens SET revoked_at = now()
WHERE revoked_at IS NULL AND family_id = (SELECT family_id FROM family)
"""


async def revoke_family(db: Executor, token_hash: str, *, user_id: int | None = None) -> int:
    """Log out: end the session this token belongs to, access tokens included."""
    result = await db.execute(_END_FAMILY, token_hash, user_id)
    return int(result.split()[-1])


async def session_ended(db: Executor, family_id: uuid.UUID) -> bool:
    """Whether this session was logged out (one primary-key lookup, made per request)."""
    return await db.fetchval("SELECT EXISTS (SELECT 1 FROM ended_sessions WHERE family_id = $1)",
                             family_id)


async def revoke_all(db: Executor, user_id: int) -> None:
    await db.execute("UPDATE refresh_tokens SET revoked_at = now()"
                     " WHERE user_id = $1 AND revoked_at IS NULL", user_id)


async def prune(db: Executor) -> None:
    """Forget tokens that can no longer be used (a day's grace keeps replay detection)."""
    await db.execute("DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'"
                     " OR revoked_at < now() - interval '1 day'")
    # An ended session matters while its last access token lives (minutes).
    await db.execute("DELETE FROM ended_sessions WHERE ended_at < now() - interval '1 day'")
