"""The demo client a newcomer can call on the embedded database's first run."""

from __future__ import annotations

import logging

import asyncpg

from db import clients, users

log = logging.getLogger("frontdesk")

DEMO_EMAIL = "demo@frontdesk.local"
DEMO_PHONE = "+15555550100"


async def ensure_demo(pool: asyncpg.Pool) -> clients.Client | None:
    """Create the demo owner and client when the database has no client at all."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE clients IN SHARE ROW EXCLUSIVE MODE")
        if await clients.count(conn):
            return await clients.get_by_phone(conn, DEMO_PHONE)
        owner = await users.get_by_email(conn, DEMO_EMAIL) or await users.insert(
            conn, email=DEMO_EMAIL, full_name="Demo Owner")
        client = await clients.insert(
            conn, owner_id=owner.id, name="Demo Dental", phone_number=DEMO_PHONE,
            balance_seconds=3600, timezone="America/New_York",
            initial_greeting="Thanks for calling Demo Dental. How can I help you today?")
    log.info("created the demo client %s (%s) with 3600 s of balance", client.name, DEMO_PHONE)
    return client
