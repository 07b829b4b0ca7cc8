import asyncio
import os

import asyncpg

from db import clients, organizations, users
from db.migrate import MIGRATIONS, migrate


async def test_two_processes_migrating_a_fresh_database_apply_each_file_once(pg_server_url):
    name = f"frontdesk_migrate_{os.getpid()}"
    admin = await asyncpg.connect(pg_server_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    base, _, query = pg_server_url.partition("?")
    url = base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
    try:
        a, b = await asyncpg.connect(url), await asyncpg.connect(url)
        try:
            results = await asyncio.gather(migrate(a), migrate(b))
            expected = sorted(p.name for p in MIGRATIONS.glob("[0-9][0-9][0-9][0-9]_*.sql"))
            assert sorted(results, key=len) == [[], expected]
            assert await a.fetchval("SELECT count(*) FROM schema_migrations") == len(expected)
            assert await migrate(a) == []  # idempotent
        finally:
            await a.close()
            await b.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_client_round_trip(pool):
    owner = await users.insert(pool, email="Owner@Example.com")
    client = await clients.insert(pool, owner_id=owner.id, name="Dental",
                                  phone_number="+15555550123", balance_seconds=60)
    assert owner.email == "owner@example.com"
    assert (await clients.get_by_phone(pool, "+15555550123")).id == client.id
    assert client.business_hours["mon"] == ["09:00", "17:00"]


async def test_a_new_user_owns_an_organisation_that_holds_their_clients(pool):
    owner = await users.insert(pool, email="founder@example.com", full_name="Ada Founder")
    client = await clients.insert(pool, owner_id=owner.id, name="Dental",
                                  phone_number="+15555550124")
    member = await organizations.membership(pool, owner.id)
    assert member is not None and member.role == "owner"
    org = await organizations.get(pool, member.organization_id)
    assert (org.name, org.plan, org.trial_granted_at) == ("Ada Founder", "free", None)
    assert await pool.fetchval("SELECT organization_id FROM clients WHERE id = $1",
                               client.id) == org.id
