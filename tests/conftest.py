"""Shared fixtures: a throwaway PostgreSQL database per test run, migrated once.

Uses the PostgreSQL on 127.0.0.1:5432 when one answers, else an embedded one.
Each pytest process gets its own database, so parallel runs never share rows.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest

from db.migrate import migrate
from db.pool import create_pool

if TYPE_CHECKING:
    from tests.live import LiveServer
    from tests.test_api_support import User

_TABLES = (
    "tool_executions, usage_ledger, active_calls, server_processes, conversations, contacts,"
    " clients, users"
)


def _local_postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a server database from which per-run databases are created."""
    if os.environ.get("FRONTDESK_TEST_DATABASE_URL"):
        yield os.environ["FRONTDESK_TEST_DATABASE_URL"]
    elif _local_postgres_answers():
        yield "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        from db.embedded import EmbeddedPostgres

        server = EmbeddedPostgres(Path(tmp_path_factory.mktemp("pg")))
        yield server.url
        server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, migrated database for this pytest process."""
    name = f"frontdesk_test_{os.getpid()}"

    async def create() -> str:
        conn = await asyncpg.connect(pg_server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        base, _, query = pg_server_url.partition("?")
        url = base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        return url

    async def drop() -> None:
        conn = await asyncpg.connect(pg_server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    url = asyncio.run(create())
    yield url
    asyncio.run(drop())


@pytest.fixture
async def pool(pg_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test database; every table is emptied before the test."""
    pool = await create_pool(pg_url, min_size=1, max_size=5)
    tables = [r["tablename"] for r in await pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename <> 'schema_migrations'")]
    if tables:
        await pool.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="module")
async def server(pg_url: str) -> AsyncIterator[LiveServer]:
    """An API server with default settings, one per test module (a module that needs other
    settings, or a call server, defines its own ``server``)."""
    from tests.test_api_support import api_server

    async with api_server(pg_url) as srv:
        yield srv


@pytest.fixture
async def owner(server: LiveServer, pool: asyncpg.Pool) -> AsyncIterator[User]:
    """A newly registered owner, signed in, on ``server``."""
    from tests.test_api_support import register

    async with httpx.AsyncClient(base_url=server.url) as http:
        yield await register(http)


@pytest.fixture(autouse=True)
def _fresh_breakers() -> Iterator[None]:
    """The process's circuit breakers start closed in every test: one test process stands
    in for many deployments, whose outages must not leak into each other."""
    from tools.breaker import shared

    yield
    shared.reset()


def pytest_configure(config: pytest.Config) -> None:
    from frontdesk import logs

    logs.configure("INFO")  # and Pipecat's loguru output at WARNING


@pytest.fixture(scope="session")
def local_models():
    """Whisper tiny.en and the Piper voice, loaded once for the whole test run."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("piper")
    from pipelines.local.models import LocalModels

    models = LocalModels.load(stt_threads=2, stt_workers=1)
    yield models
    models.close()
