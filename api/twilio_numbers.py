"""/api/twilio: the organisation's Twilio account (its own credentials, sealed, else the
server's), its numbers with the client each is assigned to, and assigning one to a client,
which points the number's voice and SMS webhooks at this server."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from api import clients as client_routes  # a module: it imports check_owned from here
from api.auth import Principal, require
from api.errors import ApiError, responses
from api.validation import CleanStr, Input
from db import clients, twilio_accounts
from tools.twilio_api import TwilioAccount, TwilioClient, TwilioError

router = APIRouter(prefix="/twilio", tags=["twilio"])

Read = Annotated[Principal, Depends(require("read:twilio"))]
Write = Annotated[Principal, Depends(require("write:twilio"))]


class CredentialsIn(Input):
    account_sid: CleanStr = Field(pattern=r"^AC[0-9a-fA-F]{32}$",
                                  examples=["AC0123456789abcdef0123456789abcdef"])
    auth_token: CleanStr = Field(min_length=16, max_length=128, repr=False,
                                 examples=["0123456789abcdef0123456789abcdef"])


class CredentialsOut(BaseModel):
    source: str = Field(description="organisation, server or none", examples=["organisation"])
    account_sid: str | None = Field(examples=["AC0123456789abcdef0123456789abcdef"])


class NumberOut(BaseModel):
    sid: str = Field(examples=["PN0123456789abcdef0123456789abcdef"])
    phone_number: str = Field(examples=["+14155552671"])
    friendly_name: str | None = Field(examples=["(415) 555-2671"])
    voice_url: str | None = Field(examples=["https://voice.example.com/voice"])
    sms_url: str | None = Field(examples=["https://voice.example.com/sms"])
    capabilities: dict[str, Any] = Field(examples=[{"voice": True, "sms": True}])
    client_id: int | None = Field(description="The client this number answers for",
                                  examples=[1])


class NumberList(BaseModel):
    source: str = Field(examples=["organisation"])
    items: list[NumberOut]


class AssignIn(Input):
    client_id: int = Field(ge=1, examples=[1])


async def account_for(request: Request, principal: Principal) -> TwilioAccount | None:
    deps = request.state.events
    return await deps.twilio(principal.organization_id)


async def _client(request: Request, principal: Principal) -> TwilioClient:
    account = await account_for(request, principal)
    if account is None:
        raise ApiError(503, "no Twilio credentials: add your account's with PUT"
                            " /api/twilio/credentials", "twilio_not_configured")
    return TwilioClient(request.state.events.http, account, request.state.events.breakers)


def _upstream(exc: TwilioError) -> ApiError:
    if exc.status in (401, 403):
        return ApiError(502, "Twilio refused the credentials", "twilio_auth_failed")
    return ApiError(502, f"Twilio: {exc}", "upstream_error")


async def account_numbers(request: Request, principal: Principal) -> list[dict[str, Any]]:
    try:
        return await (await _client(request, principal)).list_numbers()
    except TwilioError as exc:
        raise _upstream(exc) from None


async def check_owned(request: Request, principal: Principal, phone_number: str) -> None:
    """With the organisation's own Twilio account, a client's number must be one of its."""
    if await twilio_accounts.get(request.state.api.pool, principal.organization_id) is None:
        return
    numbers = {n.get("phone_number") for n in await account_numbers(request, principal)}
    if phone_number not in numbers:
        raise ApiError(422, [{"field": "phone_number",
                              "message": "not a number of your Twilio account"}],
                       "number_not_in_account")


@router.get("/credentials", response_model=CredentialsOut,
            summary="Which Twilio account is used (scope read:twilio)",
            responses=responses(401, 403, 429))
async def get_credentials(request: Request, principal: Read) -> CredentialsOut:
    account = await account_for(request, principal)
    if account is None:
        return CredentialsOut(source="none", account_sid=None)
    return CredentialsOut(source="organisation" if account.own else "server",
                          account_sid=account.account_sid)


@router.put("/credentials", response_model=CredentialsOut,
            summary="Use your own Twilio account (token encrypted at rest; scope write:twilio)",
            responses=responses(401, 403, 422, 429))
async def put_credentials(body: CredentialsIn, request: Request,
                          principal: Write) -> CredentialsOut:
    state = request.state.api
    sealer = await state.sealer()
    await twilio_accounts.put(state.pool, principal.organization_id, body.account_sid,
                              sealer.seal({"auth_token": body.auth_token}),
                              set_by=principal.user_id)
    return CredentialsOut(source="organisation", account_sid=body.account_sid)


@router.delete("/credentials", status_code=204, response_class=Response,
               summary="Forget your Twilio account (scope write:twilio)",
               responses=responses(401, 403, 404, 429))
async def delete_credentials(request: Request, principal: Write) -> Response:
    if not await twilio_accounts.delete(request.state.api.pool, principal.organization_id):
        raise ApiError(404, "no Twilio credentials stored")
    return Response(status_code=204)


@router.get("/numbers", response_model=NumberList,
            summary="Your Twilio account's numbers and their clients (scope read:twilio)",
            responses=responses(401, 403, 429, 502, 503))
async def list_numbers(request: Request, principal: Read) -> NumberList:
    account = await account_for(request, principal)
    numbers = await account_numbers(request, principal)
    mine = {c.phone_number: c.id for c in await clients.list_for_org(
        request.state.api.pool, principal.organization_id, limit=10_000)}
    items = [NumberOut(sid=n.get("sid", ""), phone_number=n.get("phone_number", ""),
                       friendly_name=n.get("friendly_name"), voice_url=n.get("voice_url"),
                       sms_url=n.get("sms_url"), capabilities=n.get("capabilities") or {},
                       client_id=mine.get(n.get("phone_number", ""))) for n in numbers]
    return NumberList(source="organisation" if account and account.own else "server",
                      items=items)


@router.post("/numbers/{number_sid}/assign", response_model=NumberOut,
             summary="Give a number to a client and point its webhooks here"
                     " (scope write:twilio)",
             responses=responses(401, 403, 404, 409, 422, 429, 502, 503))
async def assign_number(number_sid: str, body: AssignIn, request: Request,
                        principal: Write) -> NumberOut:
    state = request.state.api
    client = await client_routes.load(request, principal, body.client_id)
    twilio = await _client(request, principal)
    try:
        number = next((n for n in await twilio.list_numbers() if n.get("sid") == number_sid),
                      None)
        if number is None:
            raise ApiError(404, "no such number in the Twilio account")
        base = state.settings.public_url
        configured = await twilio.configure_number(
            number_sid, voice_url=f"{base}/voice", status_callback=f"{base}/voice/status",
            sms_url=f"{base}/sms")
    except TwilioError as exc:
        raise _upstream(exc) from None
    try:
        await clients.update_for_org(state.pool, principal.organization_id, client.id,
                                     phone_number=number["phone_number"])
    except asyncpg.UniqueViolationError:
        raise ApiError(409, "this number already belongs to another client",
                       "phone_number_taken") from None
    return NumberOut(sid=number_sid, phone_number=number["phone_number"],
                     friendly_name=configured.get("friendly_name", number.get("friendly_name")),
                     voice_url=configured.get("voice_url", f"{base}/voice"),
                     sms_url=configured.get("sms_url", f"{base}/sms"),
                     capabilities=number.get("capabilities") or {}, client_id=client.id)
