"""Where the database is: DATABASE_URL, or an embedded PostgreSQL under FRONTDESK_HOME."""

from __future__ import annotations

import asyncio

from frontdesk.settings import Settings


async def resolve_url(settings: Settings) -> tuple[str, bool]:
    """Return (dsn, embedded)."""
    if settings.database_url:
        return settings.database_url, False
    from db.embedded import embedded_url

    # Starting PostgreSQL takes a second or two; keep it off the event loop.
    return await asyncio.to_thread(embedded_url, settings.frontdesk_home / "pgdata"), True
