"""server_secrets: keys generated once and shared by every process through the database."""

from __future__ import annotations

import secrets

from db.pool import Executor


async def get_or_create(db: Executor, name: str) -> str:
    """The secret called ``name``; the first process to ask generates it."""
    await db.execute(
        "INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        name, secrets.token_urlsafe(48))
    return await db.fetchval("SELECT value FROM server_secrets WHERE name = $1", name)
