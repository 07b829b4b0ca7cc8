"""password_resets: single-use, expiring reset tokens (hashes only)."""

from __future__ import annotations

from db.pool import Executor


async def insert(db: Executor, *, user_id: int, token_hash: str, ttl_seconds: int) -> None:
    await db.execute(
        "INSERT INTO password_resets (user_id, token_hash, expires_at)"
        " VALUES ($1, $2, now() + make_interval(secs => $3))",
        user_id, token_hash, float(ttl_seconds))


async def consume(db: Executor, token_hash: str) -> int | None:
    """Mark the token used and return its user, once; None if unknown, used or expired."""
    return await db.fetchval(
        "UPDATE password_resets SET used_at = now()"
        " WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
        token_hash)


async def invalidate_for_user(db: Executor, user_id: int) -> None:
    await db.execute("UPDATE password_resets SET used_at = now()"
                     " WHERE user_id = $1 AND used_at IS NULL", user_id)


async def prune(db: Executor) -> None:
    await db.execute("DELETE FROM password_resets WHERE expires_at < now() - interval '1 day'")
