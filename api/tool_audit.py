"""The tool audit: every tool the agent ran on a call, with its input, output and timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api.auth import Principal, require
from api.clients import load as load_client
from api.errors import ApiError, responses
from api.validation import CleanStr, Id
from db import conversations, tool_audit
from db.tool_audit import Execution, ToolStats

router = APIRouter(tags=["tool audit"])

Read = Annotated[Principal, Depends(require("read:tool_audit"))]
Days = Annotated[int, Query(ge=1, le=365, description="The last this many days")]
_CLIENT = "/clients/{client_id}"


class ExecutionOut(BaseModel):
    id: int = Field(examples=[7])
    client_id: int = Field(examples=[1])
    conversation_id: int | None = Field(examples=[42])
    tool_name: str = Field(examples=["book_appointment"])
    input: dict[str, Any] = Field(examples=[{"date": "2026-12-08", "time": "10:00"}])
    output: Any = Field(examples=[{"booked": True}])
    status: str = Field(examples=["success"], json_schema_extra={"enum": ["success", "error"]})
    error_message: str | None = Field(examples=[None])
    execution_time_ms: int = Field(examples=[38])
    created_at: datetime

    @classmethod
    def of(cls, e: Execution) -> ExecutionOut:
        return cls(**e.__dict__)


class ExecutionList(BaseModel):
    items: list[ExecutionOut]
    total: int
    limit: int
    offset: int


class ToolStatsOut(BaseModel):
    tool_name: str = Field(examples=["get_available_slots"])
    count: int = Field(examples=[120])
    errors: int = Field(examples=[3])
    error_rate: float = Field(examples=[0.025])
    p50_ms: float | None = Field(examples=[41.0])
    p95_ms: float | None = Field(examples=[180.5])

    @classmethod
    def of(cls, s: ToolStats) -> ToolStatsOut:
        return cls(tool_name=s.tool_name, count=s.count, errors=s.errors,
                   error_rate=round(s.errors / s.count, 4) if s.count else 0.0,
                   p50_ms=_ms(s.p50_ms), p95_ms=_ms(s.p95_ms))


def _ms(value: float | None) -> float | None:
    # percentile_cont interpolates in floating point (87.99999…); tenths are plenty
    return None if value is None else round(value, 1)


class StatsOut(BaseModel):
    days: int
    tools: list[ToolStatsOut] = Field(description="Most used first")


class ClientRuns(BaseModel):
    client_id: int
    name: str
    count: int
    errors: int


class SummaryOut(StatsOut):
    count: int
    errors: int
    error_rate: float
    clients: list[ClientRuns] = Field(description="Clients that ran tools, busiest first")


def _since(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@router.get(_CLIENT + "/tool-executions", response_model=ExecutionList,
            summary="A client's tool runs, newest first (scope read:tool_audit)",
            responses=responses(401, 403, 404, 422, 429))
async def list_executions(client_id: Id, request: Request, principal: Read,
                          tool_name: Annotated[CleanStr | None, Query(max_length=64)] = None,
                          status: Annotated[Literal["success", "error"] | None, Query()] = None,
                          limit: Annotated[int, Query(ge=1, le=100)] = 20,
                          offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                          ) -> ExecutionList:
    await load_client(request, principal, client_id)
    items, total = await tool_audit.list_for_client(
        request.state.api.pool, client_id, tool_name=tool_name, status=status, limit=limit,
        offset=offset)
    return ExecutionList(items=[ExecutionOut.of(e) for e in items], total=total, limit=limit,
                         offset=offset)


@router.get(_CLIENT + "/tool-executions/stats", response_model=StatsOut,
            summary="Per tool: runs, error rate, p50 and p95 time (scope read:tool_audit)",
            responses=responses(401, 403, 404, 422, 429))
async def client_stats(client_id: Id, request: Request, principal: Read,
                       days: Days = 30) -> StatsOut:
    await load_client(request, principal, client_id)
    rows = await tool_audit.stats(request.state.api.pool, principal.organization_id, client_id,
                                  _since(days))
    return StatsOut(days=days, tools=[ToolStatsOut.of(s) for s in rows])


@router.get(_CLIENT + "/tool-executions/{execution_id}", response_model=ExecutionOut,
            summary="One tool run (scope read:tool_audit)",
            responses=responses(401, 403, 404, 429))
async def get_execution(client_id: Id, execution_id: Id, request: Request,
                        principal: Read) -> ExecutionOut:
    await load_client(request, principal, client_id)
    row = await tool_audit.get_for_client(request.state.api.pool, client_id, execution_id)
    if row is None:
        raise ApiError(404, "tool execution not found")
    return ExecutionOut.of(row)


@router.get(_CLIENT + "/conversations/{conversation_id}/tool-executions",
            response_model=list[ExecutionOut],
            summary="The tools one call ran, in order (scope read:tool_audit)",
            responses=responses(401, 403, 404, 429))
async def call_executions(client_id: Id, conversation_id: Id, request: Request,
                          principal: Read) -> list[ExecutionOut]:
    await load_client(request, principal, client_id)
    pool = request.state.api.pool
    if await conversations.get_for_client(pool, client_id, conversation_id) is None:
        raise ApiError(404, "conversation not found")
    return [ExecutionOut.of(e)
            for e in await tool_audit.for_conversation(pool, client_id, conversation_id)]


@router.get("/tool-executions/summary", response_model=SummaryOut,
            summary="Tool runs across all your clients (scope read:tool_audit)",
            responses=responses(401, 403, 422, 429))
async def summary(request: Request, principal: Read, days: Days = 30) -> SummaryOut:
    pool = request.state.api.pool
    since = _since(days)
    tools = await tool_audit.stats(pool, principal.organization_id, None, since)
    per_client = await tool_audit.per_client(pool, principal.organization_id, since)
    count, errors = sum(t.count for t in tools), sum(t.errors for t in tools)
    return SummaryOut(days=days, tools=[ToolStatsOut.of(t) for t in tools], count=count,
                      errors=errors, error_rate=round(errors / count, 4) if count else 0.0,
                      clients=[ClientRuns(**c) for c in per_client])
