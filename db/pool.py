"""The asyncpg pool: JSON codecs on every connection, migrations before first use."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from db.migrate import migrate

Executor = asyncpg.Pool | asyncpg.Connection


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30
    )


@asynccontextmanager
async def open_pool(dsn: str, *, max_size: int = 10, run_migrations: bool = True
                    ) -> AsyncIterator[asyncpg.Pool]:
    """Open a pool, apply pending migrations, close it on exit."""
    pool = await create_pool(dsn, max_size=max_size)
    try:
        if run_migrations:
            async with pool.acquire() as conn:
                await migrate(conn)
        yield pool
    finally:
        await pool.close()


def row_dict(row: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(row) if row is not None else None


def assignments(names: Iterable[str], *, first_param: int) -> str:
    """``a = $3, b = $4`` for an UPDATE whose first value is parameter ``first_param``.
    Names come from a fixed whitelist of columns, never from a request."""
    return ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=first_param))
