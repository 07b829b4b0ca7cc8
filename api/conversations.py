"""/api/clients/{id}/conversations: calls with their transcripts; CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api.auth import Principal, require
from api.clients import load as load_client
from api.errors import ApiError, responses
from api.validation import CleanStr, Id
from db import appointments, conversations, messages
from db.conversations import Conversation, ConversationFilter
from db.messages import Message
from voice.recorder import remove_recording

router = APIRouter(prefix="/clients/{client_id}/conversations", tags=["conversations"])

Read = Annotated[Principal, Depends(require("read:conversations"))]
Write = Annotated[Principal, Depends(require("write:conversations"))]

EXPORT_MAX_ROWS = 10_000
_EXPORT_PAGE = 500


class Turn(BaseModel):
    role: str = Field(examples=["user"])
    content: str = Field(examples=["I'd like to book a cleaning on Thursday."])
    timestamp: str | None = Field(None, examples=["2026-11-25T17:05:03.120000+00:00"])
    interrupted: bool | None = Field(None, examples=[False])


class ConversationSummary(BaseModel):
    id: int = Field(examples=[42])
    call_sid: str = Field(examples=["CA0123456789abcdef0123456789abcdef"])
    client_id: int = Field(examples=[1])
    contact_id: int | None = Field(examples=[7])
    caller_phone: str = Field(examples=["+14155550123"])
    status: str = Field(examples=["ended"])
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None = Field(examples=[73.4])
    billed_seconds: int = Field(examples=[74])
    end_reason: str | None = Field(examples=["caller_hangup"])
    direction: Literal["inbound", "outbound"] = Field(
        "inbound", description="outbound: placed through POST /api/calls; caller_phone is"
        " then the number called")
    turns: int = Field(examples=[6])

    @classmethod
    def of(cls, c: Conversation) -> ConversationSummary:
        fields = {n: getattr(c, n) for n in cls.model_fields if n != "turns"}
        return cls(**fields, turns=len(c.transcript))


class AppointmentChangeOut(BaseModel):
    """What the call did to an appointment."""
    appointment_id: int = Field(examples=[12])
    action: str = Field(examples=["booked"], description="booked, rescheduled or cancelled")
    starts_at: datetime | None = Field(description="The time booked or moved to")
    previous_starts_at: datetime | None = Field(description="The time moved from, or cancelled")
    at: datetime


class MessageOut(BaseModel):
    """A message the agent took on the call for the business to follow up."""

    id: int = Field(examples=[3])
    contact_id: int | None = Field(examples=[7])
    name: str | None = Field(examples=["Maria Garcia"])
    callback_phone: str | None = Field(examples=["+14155550123"])
    message: str = Field(examples=["Please call me back about my test results."])
    reason: str = Field(examples=["requested"],
                        json_schema_extra={"enum": ["requested", "not_understood",
                                                     "calendar_unreachable"]})
    created_at: datetime

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(id=m.id, contact_id=m.contact_id, name=m.name,
                   callback_phone=m.callback_phone, message=m.body, reason=m.reason,
                   created_at=m.created_at)


class ConversationOut(ConversationSummary):
    transcript: list[Turn]
    providers: dict[str, Any] = Field(examples=[{"stt": "local/whisper-tiny.en",
                                                 "llm": "builtin/receptionist"}])
    provider_fallbacks: list[dict[str, Any]]
    transferred_to: str | None = Field(None, examples=["+14155550199"])
    turn_metrics: list[dict[str, Any]] = Field(
        default_factory=list, description="Per agent turn: latency from the caller's last word"
        " to the agent's first audio, and its breakdown by stage (ms)")
    appointments: list[AppointmentChangeOut] = Field(
        default_factory=list, description="Appointments this call booked, moved or cancelled")
    messages: list[MessageOut] = Field(default_factory=list,
                                       description="Messages the agent took on this call")

    @classmethod
    def of(cls, c: Conversation,  # type: ignore[override]
           changes: list[appointments.Change] | None = None,
           taken: list[Message] | None = None) -> ConversationOut:
        base = ConversationSummary.of(c).model_dump()
        turns = [Turn(role=str(t.get("role", "")), content=str(t.get("content", "")),
                      timestamp=None if t.get("timestamp") is None else str(t["timestamp"]),
                      interrupted=None if t.get("interrupted") is None
                      else bool(t["interrupted"]))
                 for t in c.transcript if isinstance(t, dict)]
        done = [AppointmentChangeOut(appointment_id=ch.appointment_id, action=ch.action,
                                     starts_at=ch.new_starts_at,
                                     previous_starts_at=ch.old_starts_at, at=ch.created_at)
                for ch in changes or []]
        return cls(**base, transcript=turns, providers=c.providers,
                   provider_fallbacks=c.provider_fallbacks, transferred_to=c.transferred_to,
                   turn_metrics=[m for m in c.turn_metrics if isinstance(m, dict)],
                   appointments=done, messages=[MessageOut.of(m) for m in taken or []])


class ConversationList(BaseModel):
    items: list[ConversationSummary]
    total: int = Field(examples=[1])
    limit: int = Field(examples=[20])
    offset: int = Field(examples=[0])


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Filters:
    """Query filters shared by the list and the export."""

    def __init__(
        self,
        since: Annotated[datetime | None, Query(
            description="Calls created at or after (UTC ISO-8601)")] = None,
        until: Annotated[datetime | None, Query(description="Calls created before")] = None,
        end_reason: Annotated[CleanStr | None, Query(max_length=64, examples=["caller_hangup"])
                              ] = None,
        status: Annotated[Literal["pending", "active", "ended"] | None, Query()] = None,
    ) -> None:
        self.value = ConversationFilter(since=utc(since), until=utc(until),
                                        end_reason=end_reason, status=status)


@router.get("", response_model=ConversationList,
            summary="List a client's calls, newest first (scope read:conversations)",
            responses=responses(401, 403, 404, 422, 429))
async def list_conversations(client_id: Id, request: Request, principal: Read,
                             filters: Annotated[Filters, Depends()],
                             limit: Annotated[int, Query(ge=1, le=100)] = 20,
                             offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                             ) -> ConversationList:
    await load_client(request, principal, client_id)
    items, total = await conversations.list_for_client(
        request.state.api.pool, client_id, filters.value, limit=limit, offset=offset)
    return ConversationList(items=[ConversationSummary.of(c) for c in items], total=total,
                            limit=limit, offset=offset)


_CSV_COLUMNS = ["id", "call_sid", "caller_phone", "contact_id", "status", "created_at",
                "started_at", "ended_at", "duration_seconds", "billed_seconds", "end_reason",
                "turns", "transcript"]


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection); the
# full-width forms count in some locales. A leading quote makes such a cell plain text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _cell(value: Any) -> str:
    text = "" if value is None else value.isoformat() if isinstance(value, datetime) \
        else str(value)
    return "'" + text if text.lstrip(" ").startswith(_FORMULA_START) else text


def _csv_row(c: Conversation) -> list[str]:
    transcript = "\n".join(f"{t.get('role', '')}: {t.get('content', '')}"
                           for t in c.transcript if isinstance(t, dict))
    # Every cell through the guard: stored values came from callers and webhooks.
    return [_cell(v) for v in (
        c.id, c.call_sid, c.caller_phone, c.contact_id, c.status, c.created_at, c.started_at,
        c.ended_at, c.duration_seconds, c.billed_seconds, c.end_reason, len(c.transcript),
        transcript)]


@router.get("/export", response_class=StreamingResponse,
            summary=f"The filtered calls as CSV, newest first, at most {EXPORT_MAX_ROWS}"
                    " (scope read:conversations)",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "CSV with a header row"},
                       **responses(401, 403, 404, 422, 429)})
async def export_conversations(client_id: Id, request: Request, principal: Read,
                               filters: Annotated[Filters, Depends()]) -> StreamingResponse:
    await load_client(request, principal, client_id)
    pool = request.state.api.pool

    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(_CSV_COLUMNS)
        for offset in range(0, EXPORT_MAX_ROWS, _EXPORT_PAGE):
            page, _ = await conversations.list_for_client(pool, client_id, filters.value,
                                                          limit=_EXPORT_PAGE, offset=offset)
            writer.writerows(_csv_row(c) for c in page)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(page) < _EXPORT_PAGE:
                break

    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="conversations-{client_id}-{stamp}.csv"'})


@router.get("/{conversation_id}", response_model=ConversationOut,
            summary="One call with its transcript (scope read:conversations)",
            responses=responses(401, 403, 404, 429))
async def get_conversation(client_id: Id, conversation_id: Id, request: Request,
                           principal: Read) -> ConversationOut:
    await load_client(request, principal, client_id)
    pool = request.state.api.pool
    conv = await conversations.get_for_client(pool, client_id, conversation_id)
    if conv is None:
        raise ApiError(404, "conversation not found")
    changes = await appointments.changes_in_conversation(pool, conv.id)
    return ConversationOut.of(conv, changes,
                              await messages.for_conversation(pool, client_id, conv.id))


@router.delete("/{conversation_id}", status_code=204, response_class=Response,
               summary="Delete a finished call and its transcript (scope write:conversations)",
               responses=responses(401, 403, 404, 409, 429))
async def delete_conversation(client_id: Id, conversation_id: Id, request: Request,
                              principal: Write) -> Response:
    pool = request.state.api.pool
    await load_client(request, principal, client_id)
    conv = await conversations.get_for_client(pool, client_id, conversation_id)
    if conv is None:
        raise ApiError(404, "conversation not found")
    deleted = await conversations.delete_ended_for_client(pool, client_id, conversation_id)
    if deleted is None:
        raise ApiError(409, "the call is still in progress", "call_in_progress")
    await remove_recording(deleted.recording_path)
    return Response(status_code=204)
