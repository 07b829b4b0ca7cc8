"""rate_limits: request counters shared by every server process."""

from __future__ import annotations

from dataclasses import dataclass

from db.pool import Executor


@dataclass(frozen=True)
class Hit:
    count: int           # requests in the current window, this one included
    reset_at: int        # Unix time the window ends
    seconds_left: float  # until then


# One statement per request. A window starts with the bucket's first request after the
# previous window ended, so counts never depend on wall-clock alignment.
_HIT = """
INSERT INTO rate_limits AS r (bucket, window_start, hits) VALUES ($1, now(), 1)
ON CONFLICT (bucket) DO UPDATE SET
    window_start = CASE WHEN r.window_start <= now() - make_interval(secs => $2)
                        THEN now() ELSE r.window_start END,
    hits = CASE WHEN r.window_start <= now() - make_interval(secs => $2)
                THEN 1 ELSE r.hits + 1 END
RETURNING hits,
    ceil(extract(epoch FROM window_start + make_interval(secs => $2)))::bigint AS reset_at,
    extract(epoch FROM window_start + make_interval(secs => $2) - clock_timestamp())::float8
        AS seconds_left
"""


async def hit(db: Executor, bucket: str, *, window_seconds: int) -> Hit:
    row = await db.fetchrow(_HIT, bucket, float(window_seconds))
    return Hit(row["hits"], row["reset_at"], row["seconds_left"])


async def prune(db: Executor, *, older_than_seconds: int) -> None:
    await db.execute("DELETE FROM rate_limits WHERE window_start"
                     " < now() - make_interval(secs => $1)", float(older_than_seconds))


async def plan_of(db: Executor, organization_id: int) -> str | None:
    """The organisation's plan (api.plans)."""
    return await db.fetchval("SELECT plan FROM organizations WHERE id = $1", organization_id)
