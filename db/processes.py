"""server_processes: who is alive, so calls of a dead process can be finalized."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from db.pool import Executor


async def register(db: Executor, *, process_id: uuid.UUID, hostname: str, pid: int) -> None:
    await db.execute(
        "INSERT INTO server_processes (id, hostname, pid) VALUES ($1, $2, $3)",
        process_id, hostname, pid)


async def heartbeat(db: Executor, process_id: uuid.UUID) -> None:
    """Mark this process and each of its calls alive (one round trip)."""
    await db.execute(
        "WITH p AS (UPDATE server_processes SET heartbeat_at = now() WHERE id = $1)"
        " UPDATE active_calls SET heartbeat_at = now() WHERE process_id = $1", process_id)


async def dead(db: Executor, *, me: uuid.UUID, hostname: str, stale_after_seconds: float,
               pid_alive: Callable[[int], bool]) -> list[uuid.UUID]:
    """Processes that are certainly gone: same host with no such pid, or silent too long."""
    rows = await db.fetch(
        "SELECT id, hostname, pid, heartbeat_at < now() - make_interval(secs => $2) AS stale"
        " FROM server_processes WHERE id <> $1", me, stale_after_seconds)
    return [r["id"] for r in rows
            if r["stale"] or (r["hostname"] == hostname and not pid_alive(r["pid"]))]


async def remove(db: Executor, process_id: uuid.UUID) -> None:
    await db.execute("DELETE FROM server_processes WHERE id = $1", process_id)
