"""Numbered, forward-only .sql migrations, tracked in the database.

Safe when several processes start at once: the whole run holds a transaction-level
advisory lock, so a second process waits and then finds nothing pending.
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

log = logging.getLogger("frontdesk.db")

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x66726F6E74  # "front": any constant shared by every frontdesk process


def _read_migrations(folder: Path) -> list[tuple[str, str]]:
    return [(p.name, p.read_text()) for p in sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.sql"))]


async def migrate(conn: asyncpg.Connection, folder: Path = MIGRATIONS) -> list[str]:
    """Apply pending migrations in name order; return the names applied."""
    files = _read_migrations(folder)  # a few small files, read before taking the lock
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        pending = [(name, sql) for name, sql in files if name not in done]
        for name, sql in pending:
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            log.info("migration applied: %s", name)
    return [name for name, _ in pending]
