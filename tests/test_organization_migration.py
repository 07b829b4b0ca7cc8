"""0027_organization_scope.sql on a database with data: what users owned (webhook
endpoints, API keys, Twilio credentials, events) moves to their organisation."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import asyncpg

from db.migrate import MIGRATIONS, migrate

SCOPE = "0027_organization_scope.sql"


async def test_what_users_owned_moves_to_their_organisation(pg_server_url, tmp_path: Path):
    before = tmp_path / "before"
    before.mkdir()
    for path in MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"):
        if path.name < SCOPE:
            shutil.copy(path, before / path.name)
    name = f"frontdesk_orgscope_{os.getpid()}"
    admin = await asyncpg.connect(pg_server_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    base, _, query = pg_server_url.partition("?")
    url = base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn, before)
            users = [await conn.fetchval("INSERT INTO users (email) VALUES ($1) RETURNING id",
                                         f"u{n}@example.com") for n in (1, 2)]
            client = await conn.fetchval(
                "INSERT INTO clients (owner_id, name, phone_number) VALUES ($1, 'C',"
                " '+15557770001') RETURNING id", users[1])
            for user in users:
                await conn.execute(
                    "INSERT INTO webhook_endpoints (owner_id, url, events, secret_ciphertext)"
                    " VALUES ($1, 'https://example.com', '{call.ended}', '\\x00')", user)
                await conn.execute(
                    "INSERT INTO api_keys (user_id, name, prefix, key_hash, scopes)"
                    " VALUES ($1, 'k', $2, 'h', '{read:clients}')", user, f"fd_{user:08d}")
                await conn.execute("INSERT INTO twilio_accounts (owner_id, account_sid,"
                                   " ciphertext) VALUES ($1, 'AC1', '\\x00')", user)
            await conn.execute("INSERT INTO events (owner_id, client_id, type, data) VALUES"
                               " ($1, $2, 'call.ended', '{}'), ($3, NULL, 'balance.low', '{}')",
                               users[1], client, users[0])
            assert (await migrate(conn))[0] == SCOPE   # then any later migrations

            org_of = {r["user_id"]: r["organization_id"] for r in await conn.fetch(
                "SELECT user_id, organization_id FROM memberships WHERE role = 'owner'")}
            assert len(set(org_of.values())) == 2
            for table, column in (("webhook_endpoints", "owner_id"), ("api_keys", "user_id"),
                                  ("twilio_accounts", "owner_id"), ("events", "owner_id")):
                rows = await conn.fetch(f"SELECT {column} AS who, organization_id FROM {table}")
                assert sorted((r["who"], r["organization_id"]) for r in rows) == sorted(
                    (u, org_of[u]) for u in users), table
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
