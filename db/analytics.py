"""Call analytics: aggregates over conversations, appointments and messages.

Every query is scoped to an organisation's clients (``clients.organization_id``), and optionally
to one of them; the caller has already checked that the client belongs to the organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from db.pool import Executor

# $1 organisation, $2 client or NULL, $3 since, $4 until
_CALLS = ("conversations c JOIN clients cl ON cl.id = c.client_id"
          " WHERE cl.organization_id = $1 AND ($2::bigint IS NULL OR c.client_id = $2)"
          " AND c.created_at >= $3 AND c.created_at < $4")

# Per call: did it book, how many messages; joined once so each aggregate reads one row per call.
_PER_CALL = (
    "SELECT c.id, c.client_id, c.created_at, c.status, c.duration_seconds, c.billed_seconds,"
    " c.transferred_to IS NOT NULL AS transferred,"
    " (SELECT count(*) FROM appointments a WHERE a.conversation_id = c.id) AS bookings,"
    " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS messages"
    f" FROM {_CALLS}")


@dataclass(frozen=True)
class Stats:
    calls: int
    ended_calls: int
    bookings: int
    calls_with_booking: int
    transfers: int
    messages: int
    avg_duration_seconds: float | None
    billed_seconds: int


@dataclass(frozen=True)
class Day:
    day: date
    calls: int
    bookings: int
    transfers: int
    messages: int
    billed_seconds: int
    avg_duration_seconds: float | None


_TOTALS = (
    "count(*) AS calls, count(*) FILTER (WHERE status = 'ended') AS ended_calls,"
    " coalesce(sum(bookings), 0)::int AS bookings,"
    " count(*) FILTER (WHERE bookings > 0) AS calls_with_booking,"
    " count(*) FILTER (WHERE transferred) AS transfers,"
    " coalesce(sum(messages), 0)::int AS messages,"
    # a call that never connected (0 s) would drag the average of real conversations down
    " avg(duration_seconds) FILTER (WHERE status = 'ended' AND duration_seconds > 0)"
    " AS avg_duration_seconds, coalesce(sum(billed_seconds), 0)::int AS billed_seconds")


async def stats(db: Executor, organization_id: int, client_id: int | None, since: datetime,
                until: datetime) -> Stats:
    row = await db.fetchrow(f"SELECT {_TOTALS} FROM ({_PER_CALL}) p",
                            organization_id, client_id, since, until)
    return Stats(**row)


async def busiest_hours(db: Executor, organization_id: int, client_id: int | None,
                        since: datetime, until: datetime, tz: str) -> list[tuple[int, int]]:
    """(hour of day in ``tz``, calls), busiest first; hours without calls are left out."""
    rows = await db.fetch(
        "SELECT extract(hour FROM c.created_at AT TIME ZONE $5)::int AS hour, count(*) AS calls"
        f" FROM {_CALLS} GROUP BY 1 ORDER BY 2 DESC, 1", organization_id, client_id, since,
        until, tz)
    return [(r["hour"], r["calls"]) for r in rows]


async def daily(db: Executor, organization_id: int, client_id: int | None, since: datetime,
                until: datetime, tz: str) -> list[Day]:
    """One row per local day in [since, until), days without calls included as zeros (so a
    chart has no gaps)."""
    rows = await db.fetch(
        "WITH p AS (" + _PER_CALL + "),"
        " d AS (SELECT generate_series(($3 AT TIME ZONE $5)::date,"
        "                              (($4 - interval '1 microsecond') AT TIME ZONE $5)::date,"
        "                              interval '1 day')::date AS day)"
        " SELECT d.day, count(p.id) AS calls, coalesce(sum(p.bookings), 0)::int AS bookings,"
        " count(p.id) FILTER (WHERE p.transferred) AS transfers,"
        " coalesce(sum(p.messages), 0)::int AS messages,"
        " coalesce(sum(p.billed_seconds), 0)::int AS billed_seconds,"
        " avg(p.duration_seconds) FILTER (WHERE p.status = 'ended' AND p.duration_seconds > 0)"
        " AS avg_duration_seconds"
        " FROM d LEFT JOIN p ON (p.created_at AT TIME ZONE $5)::date = d.day"
        " GROUP BY d.day ORDER BY d.day", organization_id, client_id, since, until, tz)
    return [Day(**r) for r in rows]


@dataclass(frozen=True)
class CallRow:
    id: int
    client_id: int
    call_sid: str
    caller_phone: str
    status: str
    created_at: datetime
    duration_seconds: float | None
    billed_seconds: int
    end_reason: str | None
    transferred: bool
    bookings: int
    messages: int
    transcript: list[dict[str, Any]]


async def calls(db: Executor, organization_id: int, client_id: int | None, since: datetime,
                until: datetime, *, limit: int, offset: int = 0) -> list[CallRow]:
    """Calls in the range, newest first, with what each one achieved."""
    rows = await db.fetch(
        "SELECT c.id, c.client_id, c.call_sid, c.caller_phone, c.status, c.created_at,"
        " c.duration_seconds, c.billed_seconds, c.end_reason,"
        " c.transferred_to IS NOT NULL AS transferred,"
        " (SELECT count(*) FROM appointments a WHERE a.conversation_id = c.id)::int AS bookings,"
        " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)::int AS messages,"
        f" c.transcript FROM {_CALLS} ORDER BY c.created_at DESC, c.id DESC LIMIT $5 OFFSET $6",
        organization_id, client_id, since, until, limit, offset)
    return [CallRow(**r) for r in rows]
