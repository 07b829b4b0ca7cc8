"""The demo client a newcomer can call on the embedded database's first run."""

from __future__ import annotations

import logging

import asyncpg

from api.passwords import hash_password, verify
from db import clients, secrets, users

log = logging.getLogger("frontdesk")

# A reserved domain (RFC 2606): nobody's address, and one the sign-in form accepts.
DEMO_EMAIL = "demo@example.com"
_OLD_DEMO_EMAIL = "demo@frontdesk.local"   # refused at sign-in (a special-use name)
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


async def demo_password(pool: asyncpg.Pool) -> str | None:
    """The demo owner's console password (made on first ask, kept in the database), so a
    newcomer can sign in and watch the demo client's calls; None once they chose another."""
    user = await users.get_by_email(pool, DEMO_EMAIL)
    if user is None:
        old = await users.get_by_email(pool, _OLD_DEMO_EMAIL)
        if old is not None:   # a demo made before owners could sign in to the console
            await users.set_email(pool, old.id, DEMO_EMAIL)
            user = old
    creds = await users.credentials(pool, user.id) if user is not None else None
    if creds is None:
        return None
    password = (await secrets.get_or_create(pool, "demo_password"))[:16]
    if creds.password_hash is None:
        await users.set_password(pool, creds.id, await hash_password(password))
        return password
    return password if await verify(creds.password_hash, password) else None
