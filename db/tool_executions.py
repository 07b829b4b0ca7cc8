"""tool_executions: the audit row of every tool the agent ran."""

from __future__ import annotations

from typing import Any

from db.pool import Executor


async def insert(db: Executor, *, client_id: int, conversation_id: int | None, tool_name: str,
                 input: dict[str, Any], output: Any, status: str, error_message: str | None,
                 execution_time_ms: int) -> int:
    return await db.fetchval(
        "INSERT INTO tool_executions (client_id, conversation_id, tool_name, input, output,"
        " status, error_message, execution_time_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " RETURNING id",
        client_id, conversation_id, tool_name, input, output, status, error_message,
        execution_time_ms)


async def for_conversation(db: Executor, conversation_id: int) -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT * FROM tool_executions WHERE conversation_id = $1 ORDER BY id",
                          conversation_id)
    return [dict(r) for r in rows]
