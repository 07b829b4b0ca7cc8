"""Reading the tool audit (tool_executions): lists, one row, per-tool stats, a summary.

The caller has checked the client belongs to the organisation; the summary scopes by it itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.pool import Executor


@dataclass(frozen=True)
class Execution:
    id: int
    client_id: int
    conversation_id: int | None
    tool_name: str
    input: dict[str, Any]
    output: Any
    status: str
    error_message: str | None
    execution_time_ms: int
    created_at: datetime


@dataclass(frozen=True)
class ToolStats:
    tool_name: str
    count: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None


_COLUMNS = ", ".join(Execution.__dataclass_fields__)


async def list_for_client(db: Executor, client_id: int, *, tool_name: str | None,
                          status: str | None, limit: int, offset: int,
                          ) -> tuple[list[Execution], int]:
    where = ("client_id = $1 AND ($2::text IS NULL OR tool_name = $2)"
             " AND ($3::text IS NULL OR status = $3)")
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM tool_executions WHERE {where}"
                          " ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5",
                          client_id, tool_name, status, limit, offset)
    total = await db.fetchval(f"SELECT count(*) FROM tool_executions WHERE {where}",
                              client_id, tool_name, status)
    return [Execution(**r) for r in rows], total


async def for_conversation(db: Executor, client_id: int,
                           conversation_id: int) -> list[Execution]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM tool_executions"
                          " WHERE client_id = $1 AND conversation_id = $2 ORDER BY id",
                          client_id, conversation_id)
    return [Execution(**r) for r in rows]


async def get_for_client(db: Executor, client_id: int, execution_id: int) -> Execution | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM tool_executions"
                            " WHERE id = $1 AND client_id = $2", execution_id, client_id)
    return Execution(**row) if row else None


_STATS = ("SELECT tool_name, count(*) AS count, count(*) FILTER (WHERE status = 'error')"
          " AS errors,"
          " percentile_cont(0.5) WITHIN GROUP (ORDER BY execution_time_ms) AS p50_ms,"
          " percentile_cont(0.95) WITHIN GROUP (ORDER BY execution_time_ms) AS p95_ms"
          " FROM tool_executions t JOIN clients cl ON cl.id = t.client_id"
          " WHERE cl.organization_id = $1 AND ($2::bigint IS NULL OR t.client_id = $2)"
          " AND t.created_at >= $3")


async def stats(db: Executor, organization_id: int, client_id: int | None,
                since: datetime) -> list[ToolStats]:
    """Per tool, most used first."""
    rows = await db.fetch(_STATS + " GROUP BY tool_name ORDER BY count DESC, tool_name",
                          organization_id, client_id, since)
    return [ToolStats(**r) for r in rows]


async def per_client(db: Executor, organization_id: int, since: datetime) -> list[dict[str, Any]]:
    """Per client of the organisation that ran any tool: runs and errors."""
    rows = await db.fetch(
        "SELECT t.client_id, cl.name, count(*) AS count,"
        " count(*) FILTER (WHERE t.status = 'error') AS errors"
        " FROM tool_executions t JOIN clients cl ON cl.id = t.client_id"
        " WHERE cl.organization_id = $1 AND t.created_at >= $2"
        " GROUP BY t.client_id, cl.name ORDER BY count DESC, t.client_id",
        organization_id, since)
    return [dict(r) for r in rows]
