"""Where the database is: DATABASE_URL, or an embedded PostgreSQL under FRONTDESK_HOME."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from frontdesk.settings import Settings


@dataclass(frozen=True)
class Database:
    url: str
    embedded: bool


@contextmanager
def opened(settings: Settings) -> Iterator[Database]:
    """The database for the life of a process that owns it (``frontdesk serve``): an
    embedded PostgreSQL is started here and let go on every way out, so a stopped server
    leaves no PostgreSQL running (unless another frontdesk process still uses it)."""
    if settings.database_url:
        yield Database(settings.database_url, embedded=False)
        return
    from db.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(settings.frontdesk_home / "pgdata")
    try:
        yield Database(server.url, embedded=True)
    finally:
        server.stop()


async def resolve_url(settings: Settings) -> tuple[str, bool]:
    """Return (dsn, embedded), for a command that borrows the database while it runs."""
    if settings.database_url:
        return settings.database_url, False
    from db.embedded import embedded_url

    # Starting PostgreSQL takes a second or two; keep it off the event loop.
    return await asyncio.to_thread(embedded_url, settings.frontdesk_home / "pgdata"), True
