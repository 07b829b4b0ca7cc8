"""The outbox's write side: record an event and enqueue its job in the caller's transaction.

Call it with the asyncpg connection whose transaction records the fact itself (the booking,
the ended call): a rollback takes the event and its job with it, a commit wakes the workers
(pgqueuer's NOTIFY fires on commit). Consumers live in ``events/``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import asyncpg
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.queries import Queries

from db.pool import Executor

# The job that turns one event into its webhook deliveries, texts and e-mails.
FANOUT = "event.fanout"


async def record(conn: asyncpg.Connection, type: str, data: dict[str, Any], *,
                 client_id: int | None = None, owner_id: int | None = None,
                 key: str | None = None) -> int | None:
    """Record event ``type`` with ``data`` (JSON) for a client (or an owner) and queue it.

    ``key`` makes it idempotent: a second event with the same key is not recorded and
    None is returned. Returns the event id.
    """
    if client_id is None and owner_id is None:
        raise ValueError("an event belongs to a client or an owner")
    event_id = await conn.fetchval(
        "INSERT INTO events (owner_id, client_id, type, data, idempotency_key, organization_id)"
        " SELECT coalesce($1, (SELECT owner_id FROM clients WHERE id = $2)), $2, $3, $4, $5,"
        " coalesce((SELECT organization_id FROM clients WHERE id = $2),"
        " (SELECT organization_id FROM memberships WHERE user_id = $1))"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        owner_id, client_id, type, data, key)
    if event_id is not None:
        await enqueue(conn, FANOUT, {"event_id": event_id}, key=f"event:{event_id}")
    return event_id


class _CodecDriver(AsyncpgDriver):
    """pgqueuer's asyncpg driver for our connections, which encode jsonb themselves
    (db.pool): pgqueuer hands the job headers over already JSON-encoded, so they are decoded
    first, or they would be stored as JSON strings."""

    async def fetch(self, query: str, *args: object) -> list[dict[str, object]]:
        if "$6::jsonb[]" in query and isinstance(args[5], list):
            args = (*args[:5], [None if h is None else json.loads(h) for h in args[5]],
                    *args[6:])
        return await super().fetch(query, *args)


async def enqueue(conn: asyncpg.Connection | asyncpg.Pool, entrypoint: str,
                  payload: dict[str, Any], *, key: str | None = None,
                  after: timedelta | None = None) -> int | None:
    """Queue one job (JSON payload) on ``conn``; a key already queued or running is skipped."""
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as c:
            return await enqueue(c, entrypoint, payload, key=key, after=after)
    queries = Queries(_CodecDriver(conn))  # type: ignore[arg-type]
    ids = await queries.enqueue(entrypoint, json.dumps(payload).encode(), execute_after=after,
                                dedupe_key=key, on_conflict="skip")
    return ids[0]


async def queue_depth(db: Executor) -> list[tuple[str, str, int]]:
    """Jobs waiting or running, by entrypoint and status (for /metrics)."""
    rows = await db.fetch("SELECT entrypoint, status::text AS status, count(*) AS n"
                          " FROM pgqueuer GROUP BY entrypoint, status")
    return [(r["entrypoint"], r["status"], r["n"]) for r in rows]
