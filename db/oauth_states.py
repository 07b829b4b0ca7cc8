"""oauth_states: one OAuth round trip each, single use, bound to who started it."""

from __future__ import annotations

from dataclasses import dataclass

from db.pool import Executor


@dataclass(frozen=True)
class OAuthState:
    purpose: str
    user_id: int | None
    client_id: int | None
    code_verifier: str


async def insert(db: Executor, *, state_hash: str, purpose: str, code_verifier: str,
                 ttl_seconds: int, user_id: int | None = None,
                 client_id: int | None = None) -> None:
    await db.execute(
        "INSERT INTO oauth_states (state_hash, purpose, user_id, client_id, code_verifier,"
        " expires_at) VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
        state_hash, purpose, user_id, client_id, code_verifier, float(ttl_seconds))


async def consume(db: Executor, state_hash: str, purpose: str) -> OAuthState | None:
    row = await db.fetchrow(
        "UPDATE oauth_states SET used_at = now() WHERE state_hash = $1 AND purpose = $2"
        " AND used_at IS NULL AND expires_at > now()"
        " RETURNING purpose, user_id, client_id, code_verifier", state_hash, purpose)
    return OAuthState(**row) if row else None


async def prune(db: Executor) -> None:
    await db.execute("DELETE FROM oauth_states WHERE expires_at < now() - interval '1 day'")
