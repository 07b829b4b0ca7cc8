"""/api/clients: the owner's receptionists, one per business phone number."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AfterValidator, BaseModel, Field

from api import validation as v
from api.agent_settings import defaults as default_settings
from api.auth import Principal, require
from api.errors import ApiError, responses
from api.twilio_numbers import check_owned
from api.validation import Id, Input, Phone
from db import clients, usage
from db.clients import Client
from frontdesk.settings import Settings
from tools.registry import KNOWN_TOOLS

router = APIRouter(prefix="/clients", tags=["clients"])

Read = Annotated[Principal, Depends(require("read:clients"))]
Write = Annotated[Principal, Depends(require("write:clients"))]

SttModel = Annotated[str, Field(max_length=120, examples=["local/whisper-tiny.en"]),
                     AfterValidator(v.stt_model)]
LlmModel = Annotated[str, Field(max_length=120, examples=["builtin/receptionist"]),
                     AfterValidator(v.llm_model)]
TtsProvider = Annotated[str, Field(max_length=40, examples=["local"],
                                   json_schema_extra={"enum": sorted(v.TTS_PROVIDERS)}),
                        AfterValidator(v.tts_provider)]
Tools = Annotated[list[Annotated[str, Field(max_length=100, json_schema_extra={
                      "enum": sorted(KNOWN_TOOLS)})]],
                  Field(max_length=50, examples=[["get_available_slots", "book_appointment",
                                                  "end_call"]]),
                  AfterValidator(v.enabled_tools)]
TimeZone = Annotated[str, Field(max_length=64, examples=["America/New_York"]),
                     AfterValidator(v.timezone)]
Hours = Annotated[dict[str, list[Annotated[str, Field(max_length=5)]]],
                  Field(examples=[{"mon": ["09:00", "17:00"], "tue": ["09:00", "17:00"]}]),
                  AfterValidator(v.business_hours)]
_HOURS_EXAMPLE = {d: ["09:00", "17:00"] for d in v.WEEKDAYS[:5]}


class ClientUpdate(Input):
    """Fields an owner may change; each is optional. balance_seconds is not among them."""
    name: str | None = Field(None, min_length=1, max_length=200, examples=["Bright Smile Dental"])
    phone_number: Phone | None = Field(None, examples=["+14155552671"])
    calendar_id: str | None = Field(None, max_length=300, examples=["primary"])
    system_prompt: str | None = Field(None, max_length=20_000,
                                      examples=["You book cleanings and check-ups."])
    initial_greeting: str | None = Field(None, min_length=1, max_length=200,
                                         examples=["Hello, Bright Smile Dental, how can I help?"])
    llm_model: LlmModel | None = None
    stt_model: SttModel | None = None
    tts_provider: TtsProvider | None = None
    tts_voice_id: str | None = Field(None, min_length=1, max_length=200,
                                     examples=["en_US-joe-medium"])
    enabled_tools: Tools | None = None
    is_active: bool | None = Field(None, examples=[True])
    timezone: TimeZone | None = None
    business_hours: Hours | None = None
    slot_minutes: int | None = Field(None, ge=5, le=480, examples=[30])


class ClientCreate(ClientUpdate):
    """A new receptionist. Providers default to the local models unless the server has
    cloud credentials configured."""
    name: str = Field(min_length=1, max_length=200, examples=["Bright Smile Dental"])
    phone_number: Phone = Field(examples=["+14155552671"])


class ClientOut(BaseModel):
    id: int = Field(examples=[1])
    name: str = Field(examples=["Bright Smile Dental"])
    phone_number: str = Field(examples=["+14155552671"])
    calendar_id: str | None = Field(examples=["primary"])
    system_prompt: str = Field(examples=["You book cleanings and check-ups."])
    initial_greeting: str = Field(examples=["Hello, Bright Smile Dental, how can I help?"])
    llm_model: str = Field(examples=["builtin/receptionist"])
    stt_model: str = Field(examples=["local/whisper-tiny.en"])
    tts_provider: str = Field(examples=["local"])
    tts_voice_id: str = Field(examples=["en_US-joe-medium"])
    enabled_tools: list[str] = Field(examples=[["get_available_slots", "book_appointment"]])
    balance_seconds: int = Field(description="Talk time left; the organisation's first client"
                                             " starts with the trial, top-ups add more",
                                 examples=[3600])
    is_active: bool = Field(examples=[True])
    timezone: str = Field(examples=["America/New_York"])
    business_hours: dict[str, list[str]] = Field(examples=[_HOURS_EXAMPLE])
    slot_minutes: int = Field(examples=[30])
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, c: Client) -> ClientOut:
        return cls(**{name: getattr(c, name) for name in cls.model_fields})


class ClientList(BaseModel):
    items: list[ClientOut]
    total: int = Field(examples=[1])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])


async def load(request: Request, principal: Principal, client_id: int) -> Client:
    """The caller's client, or 404: another tenant's client does not exist for them."""
    client = await clients.get_for_org(request.state.api.pool, principal.organization_id, client_id)
    if client is None:
        raise ApiError(404, "client not found")
    return client


def default_providers(s: Settings) -> dict[str, Any]:
    # Cloud only where this server holds the credential; otherwise the offline models.
    return {"stt_model": "deepgram/nova-3" if s.deepgram_api_key else "local/whisper-tiny.en",
            "llm_model": "openai/gpt-4o-mini" if s.openai_api_key else v.BUILTIN_LLM,
            "tts_provider": "local", "tts_voice_id": v.LOCAL_TTS_VOICE}


def _phone_taken() -> ApiError:
    return ApiError(409, "this phone number already belongs to a client", "phone_number_taken")


@router.get("", response_model=ClientList, summary="List your clients (scope read:clients)",
            responses=responses(401, 403, 422, 429))
async def list_clients(request: Request, principal: Read,
                       limit: Annotated[int, Query(ge=1, le=100)] = 50,
                       offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> ClientList:
    pool = request.state.api.pool
    items = await clients.list_for_org(pool, principal.organization_id, limit=limit, offset=offset)
    total = await clients.count_for_org(pool, principal.organization_id)
    return ClientList(items=[ClientOut.of(c) for c in items], total=total, limit=limit,
                      offset=offset)


@router.post("", status_code=201, response_model=ClientOut,
             summary="Create a client (scope write:clients); an organisation's first client"
                     " starts with the trial talk time",
             responses=responses(401, 403, 409, 422, 429))
async def create_client(body: ClientCreate, request: Request, principal: Write) -> ClientOut:
    state = request.state.api
    await check_owned(request, principal, body.phone_number)
    values = default_providers(state.settings) | body.model_dump(exclude_none=True)
    values["settings"] = default_settings()
    try:
        # One transaction: a client is never seen without the trial it was due.
        async with state.pool.acquire() as conn, conn.transaction():
            client = await clients.insert(conn, owner_id=principal.user_id,
                                          organization_id=principal.organization_id,
                                          **values)
            balance = await usage.grant_trial(conn, client_id=client.id,
                                              seconds=state.settings.trial_seconds)
    except asyncpg.UniqueViolationError:
        raise _phone_taken() from None
    if balance is not None:
        client = replace(client, balance_seconds=balance)
    return ClientOut.of(client)


@router.get("/{client_id}", response_model=ClientOut,
            summary="One client (scope read:clients)", responses=responses(401, 403, 404, 429))
async def get_client(client_id: Id, request: Request, principal: Read) -> ClientOut:
    return ClientOut.of(await load(request, principal, client_id))


@router.patch("/{client_id}", response_model=ClientOut,
              summary="Change a client (scope write:clients)",
              responses=responses(401, 403, 404, 409, 422, 429))
async def update_client(client_id: Id, body: ClientUpdate, request: Request,
                        principal: Write) -> ClientOut:
    changes = body.model_dump(exclude_unset=True)
    nulls = sorted(k for k, val in changes.items() if val is None and k != "calendar_id")
    if nulls:
        raise ApiError(422, [{"field": k, "message": "may not be null"} for k in nulls])
    if changes.get("phone_number"):
        await check_owned(request, principal, changes["phone_number"])
    try:
        client = await clients.update_for_org(request.state.api.pool, principal.organization_id,
                                                client_id, **changes)
    except asyncpg.UniqueViolationError:
        raise _phone_taken() from None
    if client is None:
        raise ApiError(404, "client not found")
    return ClientOut.of(client)


# The FrontDesk API documents PUT for the same partial update.
router.add_api_route("/{client_id}", update_client, methods=["PUT"], response_model=ClientOut,
                     name="replace_client",
                     summary="Change a client, as PATCH (scope write:clients)",
                     responses=responses(401, 403, 404, 409, 422, 429))


@router.delete("/{client_id}", status_code=204, response_class=Response,
               summary="Delete a client with its contacts and conversations"
                       " (scope write:clients)",
               responses=responses(401, 403, 404, 409, 429))
async def delete_client(client_id: Id, request: Request, principal: Write) -> Response:
    pool = request.state.api.pool
    await load(request, principal, client_id)
    if await clients.has_live_call(pool, client_id):
        raise ApiError(409, "a call is in progress on this client", "call_in_progress")
    if not await clients.delete_for_org(pool, principal.organization_id, client_id):
        raise ApiError(404, "client not found")
    return Response(status_code=204)
