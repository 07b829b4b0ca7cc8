"""/api/calls: every call across the owner's clients, and operator actions on live ones.

The same rows as /api/clients/{id}/conversations, at the seeds' paths (Vami's ``/api/calls``
with ``page``/``per_page``; CallWaitingAI's ``/api/v1/calls``), plus what an operator does
to a call: end it (the agent says goodbye first), transfer it, rate it, annotate it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api import recordings
from api.auth import Principal, require
from api.clients import load as load_client
from api.conversations import ConversationOut, ConversationSummary, utc
from api.errors import ApiError, responses
from api.sentiment import of_transcript
from api.validation import CleanStr, Id, Phone
from db import (
    active_calls,
    appointments,
    call_feedback,
    call_notes,
    conversations,
    messages,
    outbound_calls,
)
from db.conversations import Conversation, ConversationFilter
from voice import call_control
from voice.twilio_rest import CallNotPlaced

router = APIRouter(prefix="/calls", tags=["calls"])

Read = Annotated[Principal, Depends(require("read:conversations"))]
Write = Annotated[Principal, Depends(require("write:calls"))]

# Sentiment is scored on request (api/sentiment.py), so a sentiment filter scores the newest
# calls that pass the other filters and pages through those that match.
SENTIMENT_SCAN = 1000
SentimentLabel = Literal["positive", "neutral", "negative", "none"]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: int = Field(ge=1, le=5, examples=[4])
    comment: CleanStr | None = Field(None, max_length=2000,
                                     examples=["Booked the right slot; a little slow."])


class FeedbackOut(BaseModel):
    id: int = Field(examples=[1])
    user_id: int | None = Field(examples=[3])
    rating: int = Field(examples=[4])
    comment: str | None
    created_at: datetime


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: CleanStr = Field(min_length=1, max_length=10_000,
                           examples=["Called back; patient confirmed the new time."])
    source: CleanStr = Field("api", min_length=1, max_length=64, examples=["crm"])


class NoteOut(BaseModel):
    id: int = Field(examples=[1])
    user_id: int | None = Field(examples=[3])
    source: str = Field(examples=["crm"])
    text: str
    created_at: datetime


class CallOut(ConversationOut):
    summary: str | None = Field(None, description="Written after the call ends")
    outcome: str | None = Field(None, examples=["booked"])
    live: bool = Field(description="A server process is carrying the call now")
    sentiment: SentimentLabel = Field(description="From the caller's turns (VADER)")
    recording_url: str | None = Field(None, description="Both sides as a stereo WAV, for"
                                      " recorded calls once they end; the link expires")
    feedback: list[FeedbackOut] = Field(default_factory=list)
    notes: list[NoteOut] = Field(default_factory=list,
                                 description="Transcript notes appended through the API")


class CallSummary(ConversationSummary):
    sentiment: SentimentLabel = Field(description="From the caller's turns (VADER); none when"
                                      " the caller said nothing")

    @classmethod
    def of(cls, c: Conversation) -> CallSummary:
        return cls(**ConversationSummary.of(c).model_dump(),
                   sentiment=of_transcript(c.transcript).label)


class CallList(BaseModel):
    items: list[CallSummary]
    total: int = Field(examples=[1])
    page: int = Field(examples=[1])
    per_page: int = Field(examples=[20])
    pages: int = Field(examples=[1])


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Phone = Field(examples=["+14155550199"])


class PlaceCallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client_id: int = Field(ge=1, le=2**63 - 1, examples=[1])
    to: Phone = Field(examples=["+14155550123"])
    greeting: CleanStr | None = Field(
        None, min_length=1, max_length=300,
        examples=["Hi, this is Bright Smile Dental calling about your appointment."],
        description="What the agent says when a person answers (default: the client's"
                    " outbound_greeting setting, else its greeting)")
    on_machine: Literal["voicemail", "hang_up"] | None = Field(
        None, description="When an answering machine picks up (default: voicemail when the"
                          " client has a voicemail_message, else hang_up)")


class PlacedCallOut(BaseModel):
    outbound_id: int = Field(examples=[5])
    call_sid: str = Field(examples=["CA0123456789abcdef0123456789abcdef"])
    client_id: int = Field(examples=[1])
    to: str = Field(examples=["+14155550123"])
    status: Literal["queued"] = Field(description="Twilio rings the number; once a person"
                                      " answers, the call appears in GET /api/calls")


class ActionOut(BaseModel):
    id: int = Field(examples=[42])
    call_sid: str = Field(examples=["CA0123456789abcdef0123456789abcdef"])
    action: Literal["end", "transfer"]
    status: Literal["requested"] = Field(
        description="The process carrying the call acts on it; the call's row shows the end")


async def _load(request: Request, principal: Principal, call_id: int) -> Conversation:
    """The owner's call, or 404: another tenant's call does not exist for them."""
    conv = await conversations.get_for_org(request.state.api.pool, principal.organization_id,
                                          call_id)
    if conv is None:
        raise ApiError(404, "call not found")
    return conv


@router.get("", response_model=CallList,
            summary="List calls across your clients, newest first (scope read:conversations)",
            responses=responses(401, 403, 422, 429))
async def list_calls(
    request: Request, principal: Read,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    status: Annotated[Literal["pending", "active", "ended"] | None, Query()] = None,
    client_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    date_from: Annotated[datetime | None, Query(
        description="Calls created at or after (ISO-8601; UTC when no offset)")] = None,
    date_to: Annotated[datetime | None, Query(description="Calls created before")] = None,
    sentiment: Annotated[SentimentLabel | None, Query(
        description=f"Only calls of this sentiment, among the {SENTIMENT_SCAN} newest that"
                    " match the other filters")] = None,
) -> CallList:
    since, until = utc(date_from), utc(date_to)
    if since is not None and until is not None and until <= since:
        raise ApiError(422, [{"field": "date_to", "message": "must be after date_from"}])
    if client_id is not None:
        await load_client(request, principal, client_id)
    found = ConversationFilter(since=since, until=until, status=status)
    offset = (page - 1) * per_page
    if sentiment is None:
        rows, total = await conversations.list_for_org(
            request.state.api.pool, principal.organization_id, found, client_id=client_id,
            limit=per_page, offset=offset)
        items = [CallSummary.of(c) for c in rows]
    else:
        rows, _ = await conversations.list_for_org(
            request.state.api.pool, principal.organization_id, found, client_id=client_id,
            limit=SENTIMENT_SCAN, offset=0)
        matching = [i for i in map(CallSummary.of, rows) if i.sentiment == sentiment]
        items, total = matching[offset:offset + per_page], len(matching)
    return CallList(items=items, total=total, page=page, per_page=per_page,
                    pages=math.ceil(total / per_page))


@router.post("", status_code=201, response_model=PlacedCallOut,
             summary="Place an outbound call: the agent talks to whoever answers, a machine"
                     " gets the voicemail or a hang-up (scope write:calls)",
             responses=responses(401, 403, 404, 409, 422, 429, 502, 503))
async def place_call(body: PlaceCallIn, request: Request, principal: Write) -> PlacedCallOut:
    state = request.state.api
    client = await load_client(request, principal, body.client_id)
    if not client.is_active:
        raise ApiError(409, "the client is not active", "client_inactive")
    if client.balance_seconds <= 0:
        raise ApiError(409, "the client has no talk time left; top it up first", "no_balance")
    voicemail = client.settings.get("voicemail_message")
    voicemail = voicemail if isinstance(voicemail, str) and voicemail.strip() else None
    on_machine = body.on_machine or ("voicemail" if voicemail else "hang_up")
    if on_machine == "voicemail" and voicemail is None:
        raise ApiError(422, [{"field": "on_machine", "message": "the client has no"
                              " voicemail_message setting to leave"}])
    greeting = body.greeting or client.settings.get("outbound_greeting") or None
    placed = await outbound_calls.insert(
        state.pool, client_id=client.id, to_number=body.to, greeting=greeting,
        on_machine=on_machine, voicemail=voicemail, requested_by=principal.user_id)
    base = state.settings.public_url.rstrip("/")
    form = {"To": body.to, "From": client.phone_number,
            "Url": f"{base}/voice/outbound?id={placed.id}",
            "Method": "POST", "StatusCallback": f"{base}/voice/status",
            "StatusCallbackEvent": "completed",
            # Waiting for the greeting's end lets a voicemail start after the beep.
            "MachineDetection": "DetectMessageEnd" if on_machine == "voicemail" else "Enable"}
    try:
        call_sid = await request.state.voice.twilio.place_call(form)
    except CallNotPlaced as exc:
        await outbound_calls.delete(state.pool, placed.id)
        raise ApiError(exc.status, exc.reason,
                       "twilio_not_configured" if exc.status == 503 else "call_not_placed"
                       ) from None
    await outbound_calls.set_call_sid(state.pool, placed.id, call_sid)
    return PlacedCallOut(outbound_id=placed.id, call_sid=call_sid, client_id=client.id,
                         to=body.to, status="queued")


@router.get("/{call_id}", response_model=CallOut,
            summary="One call: transcript, what it did, feedback and notes"
                    " (scope read:conversations)",
            responses=responses(401, 403, 404, 429))
async def get_call(call_id: Id, request: Request, principal: Read) -> CallOut:
    state = request.state.api
    conv = await _load(request, principal, call_id)
    base = ConversationOut.of(conv, await appointments.changes_in_conversation(state.pool, conv.id),
                              await messages.for_conversation(state.pool, conv.client_id, conv.id))
    live = conv.status == "active" and await active_calls.is_live(
        state.pool, conv.id, stale_after_seconds=state.settings.stale_after_seconds)
    return CallOut(**base.model_dump(), summary=conv.summary, outcome=conv.outcome, live=live,
                   sentiment=of_transcript(conv.transcript).label,
                   recording_url=getattr(recordings.link(state, conv), "url", None),
                   feedback=[FeedbackOut(**vars(f)) for f in
                             await call_feedback.for_conversation(state.pool, conv.id)],
                   notes=[NoteOut(**vars(n)) for n in
                          await call_notes.for_conversation(state.pool, conv.id)])


@router.get("/{call_id}/recording", response_model=recordings.RecordingLink,
            summary="A link to the call's recording, both sides, that expires"
                    " (scope read:conversations)",
            responses=responses(401, 403, 404, 409, 429))
async def get_recording(call_id: Id, request: Request, principal: Read
                        ) -> recordings.RecordingLink:
    conv = await _load(request, principal, call_id)
    if conv.recording_path is None:
        raise ApiError(404, "this call was not recorded (the client's recording setting)",
                       "not_recorded")
    found = recordings.link(request.state.api, conv)
    if found is None:
        raise ApiError(409, "the call is still in progress", "call_in_progress")
    return found


async def _request_action(request: Request, principal: Principal, call_id: int,
                          action: Literal["end", "transfer"], **args: str) -> ActionOut:
    state = request.state.api
    conv = await _load(request, principal, call_id)
    if conv.status != "active" or not await active_calls.is_live(
            state.pool, conv.id, stale_after_seconds=state.settings.stale_after_seconds):
        raise ApiError(409, "the call is not in progress", "call_not_active")
    await call_control.publish(state.pool, conv.call_sid, action, **args)
    return ActionOut(id=conv.id, call_sid=conv.call_sid, action=action, status="requested")


@router.post("/{call_id}/end", status_code=202, response_model=ActionOut,
             summary="End a live call; the agent says goodbye first (scope write:calls)",
             responses=responses(401, 403, 404, 409, 429))
async def end_call(call_id: Id, request: Request, principal: Write) -> ActionOut:
    return await _request_action(request, principal, call_id, "end")


@router.post("/{call_id}/transfer", status_code=202, response_model=ActionOut,
             summary="Transfer a live call to a number; the agent tells the caller first"
                     " (scope write:calls)",
             responses=responses(401, 403, 404, 409, 422, 429))
async def transfer_call(call_id: Id, body: TransferIn, request: Request,
                        principal: Write) -> ActionOut:
    return await _request_action(request, principal, call_id, "transfer", to=body.to)


@router.post("/{call_id}/feedback", status_code=201, response_model=FeedbackOut,
             summary="Rate a call 1-5, with an optional comment (scope write:calls)",
             responses=responses(401, 403, 404, 422, 429))
async def add_feedback(call_id: Id, body: FeedbackIn, request: Request,
                       principal: Write) -> FeedbackOut:
    conv = await _load(request, principal, call_id)
    row = await call_feedback.insert(request.state.api.pool, conversation_id=conv.id,
                                     user_id=principal.user_id, rating=body.rating,
                                     comment=body.comment)
    return FeedbackOut(**vars(row))


@router.post("/{call_id}/transcript", status_code=201, response_model=NoteOut,
             summary="Append a note to a call's transcript (scope write:calls)",
             responses=responses(401, 403, 404, 422, 429))
async def add_note(call_id: Id, body: NoteIn, request: Request, principal: Write) -> NoteOut:
    conv = await _load(request, principal, call_id)
    row = await call_notes.insert(request.state.api.pool, conversation_id=conv.id,
                                  user_id=principal.user_id, source=body.source, text=body.text)
    return NoteOut(**vars(row))
