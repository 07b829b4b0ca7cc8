import asyncio

from db import clients, users
from db.migrate import migrate


async def test_migrations_are_idempotent_and_safe_in_parallel(pool):
    async def run() -> list[str]:
        async with pool.acquire() as conn:
            return await migrate(conn)

    results = await asyncio.gather(run(), run())
    assert results == [[], []]  # already applied by the session fixture; nothing twice


async def test_client_round_trip(pool):
    owner = await users.insert(pool, email="Owner@Example.com")
    client = await clients.insert(pool, owner_id=owner.id, name="Dental",
                                  phone_number="+15555550123", balance_seconds=60)
    assert owner.email == "owner@example.com"
    assert (await clients.get_by_phone(pool, "+15555550123")).id == client.id
    assert client.business_hours["mon"] == ["09:00", "17:00"]
