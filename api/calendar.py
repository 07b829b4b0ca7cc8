"""Calendar credentials per client: status, Google OAuth, service-account upload, revoke.

Secrets are sealed (api.crypto) before they reach the database and never leave the API.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from api import google
from api.auth import Principal, require
from api.clients import load as load_client
from api.errors import ApiError, responses
from api.google_login import AuthorizationOut
from api.middleware import origins
from api.state import ApiState
from api.validation import CleanStr, Id, clean_json, clean_text, scrub
from db import calendar_credentials, clients, organizations
from db.calendar_credentials import CalendarCredential
from db.clients import Client
from db.oauth_states import OAuthState

router = APIRouter(tags=["calendar"])

Read = Annotated[Principal, Depends(require("read:calendar"))]
Write = Annotated[Principal, Depends(require("write:calendar"))]


class CalendarStatus(BaseModel):
    connected: bool = Field(examples=[True])
    provider: Literal["google", "microsoft"] | None = Field(None, examples=["google"])
    kind: Literal["oauth", "service_account"] | None = Field(None, examples=["oauth"])
    account_email: str | None = Field(None, examples=["owner@example.com"])
    scopes: list[str] = Field(default_factory=list,
                              examples=[["https://www.googleapis.com/auth/calendar"]])
    calendar_id: str | None = Field(None, examples=["primary"],
                                    description="The client's calendar_id (default primary)")
    calendar_of_record: Literal["builtin", "google", "microsoft"] = Field(
        examples=["google"], description="Where the agent reads free/busy and writes bookings")
    connected_at: datetime | None = None
    updated_at: datetime | None = None
    last_used_at: datetime | None = Field(None, description="Last successful call to it")
    needs_reauthorization: bool = Field(
        False, examples=[False], description="The provider refused a token refresh: connect"
                                             " the calendar again")
    reauthorization_required_at: datetime | None = None
    last_error: str | None = Field(None, examples=[None])
    fallback_available: bool = Field(
        examples=[False], description="True when bookings are taken without an external "
        "calendar (the built-in one is the calendar of record). With Google or Microsoft "
        "connected it is false: when that calendar cannot be reached the agent books nothing"
        " and offers to take a message.")

    @classmethod
    def of(cls, cred: CalendarCredential | None, client: Client) -> CalendarStatus:
        if cred is None:
            return cls(connected=False, calendar_of_record="builtin", fallback_available=True,
                       calendar_id=client.calendar_id)
        return cls(connected=True, provider=cred.provider, kind=cred.kind,
                   account_email=cred.account_email, scopes=cred.scopes,
                   calendar_id=client.calendar_id, calendar_of_record=cred.provider,
                   connected_at=cred.created_at, updated_at=cred.updated_at,
                   last_used_at=cred.last_used_at,
                   needs_reauthorization=cred.needs_reauthorization,
                   reauthorization_required_at=cred.reauthorization_required_at,
                   last_error=cred.last_error, fallback_available=False)


class ServiceAccountIn(BaseModel):
    """The JSON key file Google Cloud gives for a service account, as uploaded."""
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "type": "service_account", "project_id": "my-project",
        "private_key_id": "1a2b3c", "private_key": "-----BEGIN PRIVATE KEY-----\n...",
        "client_email": "frontdesk@my-project.iam.gserviceaccount.com",
        "client_id": "1234567890", "token_uri": "https://oauth2.googleapis.com/token"}]})

    type: Literal["service_account"]
    project_id: str = Field(min_length=1, max_length=200)
    private_key_id: str = Field(min_length=1, max_length=200)
    private_key: str = Field(min_length=1, max_length=10_000)
    client_email: EmailStr
    client_id: str = Field(min_length=1, max_length=200)
    token_uri: str = Field(min_length=1, max_length=500)

    @field_validator("private_key")
    @classmethod
    def _pem(cls, value: str) -> str:
        clean_text(value)
        try:
            key = serialization.load_pem_private_key(value.encode(), password=None)
        except (ValueError, TypeError):
            raise ValueError("not an unencrypted PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("a Google service-account key is an RSA key")
        return value

    @field_validator("token_uri")
    @classmethod
    def _https(cls, value: str) -> str:
        if urlsplit(clean_text(value)).scheme != "https":
            raise ValueError("must be an https URL")
        return value


@router.get("/clients/{client_id}/calendar", response_model=CalendarStatus,
            summary="Is a calendar connected, and is it healthy? (scope read:calendar)",
            responses=responses(401, 403, 404, 429))
@router.get("/clients/{client_id}/calendar/status", response_model=CalendarStatus,
            summary="Is a calendar connected, and is it healthy? (scope read:calendar)",
            responses=responses(401, 403, 404, 429))
async def calendar_status(client_id: Id, request: Request, principal: Read) -> CalendarStatus:
    client = await load_client(request, principal, client_id)
    return CalendarStatus.of(await calendar_credentials.get(request.state.api.pool, client_id),
                             client)


@router.post("/clients/{client_id}/calendar/oauth/initiate", response_model=AuthorizationOut,
             summary="Start Google Calendar consent for this client; open authorization_url"
                     " in a pop-up (scope write:calendar)",
             responses=responses(401, 403, 404, 429, 503))
async def calendar_oauth_initiate(client_id: Id, request: Request,
                                  principal: Write) -> AuthorizationOut:
    await load_client(request, principal, client_id)
    url, state = await google.start(request.state.api, purpose="calendar",
                                    callback_path=google.CALENDAR_CALLBACK,
                                    scopes=google.CALENDAR_SCOPES, user_id=principal.user_id,
                                    client_id=client_id, offline=True)
    return AuthorizationOut(authorization_url=url, state=state)


QueryText = Annotated[CleanStr | None, Query(max_length=2000)]


@router.get("/calendar/oauth/callback", response_class=HTMLResponse,
            summary="Google redirects here; stores the tokens and tells the opener",
            responses={200: {"content": {"text/html": {}}},
                       400: {"content": {"text/html": {}}, "description": "not connected"}})
async def calendar_oauth_callback(request: Request, state: QueryText = None,
                                  code: QueryText = None, error: QueryText = None
                                  ) -> HTMLResponse:
    api: ApiState = request.state.api
    try:
        if not state:
            raise ApiError(400, "missing OAuth state", "invalid_state")
        found = await google.take_state(api, state, "calendar")
        client_id = await consented_client(api, found, code, error)
        tokens = await google.exchange(api, code=str(code),
                                       verifier=found.code_verifier,
                                       callback_path=google.CALENDAR_CALLBACK)
        await _store_oauth(api, client_id, tokens)
    except ApiError as exc:
        return popup_page(api, {"status": "error", "error": exc.error_code,
                                "detail": exc.detail, "provider": "google"}, 400)
    return popup_page(api, {"status": "connected", "client_id": client_id,
                            "provider": "google"}, 200)


async def consented_client(api: ApiState, found: OAuthState, code: str | None,
                           error: str | None) -> int:
    """The client a calendar consent was for; ApiError when it is gone or was denied."""
    client_id, user_id = found.client_id, found.user_id
    member = await organizations.membership(api.pool, user_id) if user_id else None
    if client_id is None or member is None \
            or await clients.get_for_org(api.pool, member.organization_id, client_id) is None:
        raise ApiError(400, "the client no longer exists", "invalid_state")
    if error or not code:
        raise ApiError(400, f"consent was not given ({error or 'no code'})", "oauth_denied")
    return client_id


async def _store_oauth(api: ApiState, client_id: int, tokens: dict[str, Any]) -> None:
    email = None
    with contextlib.suppress(ApiError):  # the e-mail is a label; the tokens are what matter
        email = (await google.userinfo(api, tokens["access_token"])).get("email")
    secret = {k: tokens.get(k) for k in ("access_token", "refresh_token", "token_type", "scope")}
    lifetime = tokens.get("expires_in")
    secret["expires_at"] = int(time.time()) + (int(lifetime) if isinstance(lifetime, int)
                                               else 3600)
    sealer = await api.sealer()
    scopes = str(tokens.get("scope") or google.CALENDAR_SCOPES).split()
    await calendar_credentials.upsert(
        api.pool, client_id=client_id, kind="oauth",
        account_email=scrub(str(email))[:320] if email else None,
        scopes=[scrub(s)[:300] for s in scopes[:20]], ciphertext=sealer.seal(secret))


# The page's script is constant (so one CSP hash allows it); the outcome rides in a JSON
# data block, which browsers never execute.
_SCRIPT = ("const r=JSON.parse(document.getElementById('result').textContent);"
           "if(window.opener){for(const o of r.origins){try{window.opener.postMessage("
           "{source:'frontdesk',type:'calendar_oauth',status:r.status,client_id:r.client_id,"
           "error:r.error,provider:r.provider},o)}catch(e){}}}setTimeout(()=>window.close(),100);")
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()


def popup_page(api: ApiState, result: dict[str, Any], status: int) -> HTMLResponse:
    parts = urlsplit(api.settings.public_url)
    targets = sorted({f"{parts.scheme}://{parts.netloc}", *origins(api.settings)})
    data = json.dumps(clean_json({**result, "origins": targets})).replace("<", "\\u003c")
    text = ("Calendar connected. You can close this window." if status == 200
            else "The calendar was not connected. You can close this window.")
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>frontdesk</title></head>"
            f"<body><p>{text}</p><script type='application/json' id='result'>{data}</script>"
            f"<script>{_SCRIPT}</script></body></html>")
    return HTMLResponse(html, status_code=status, headers={
        "Content-Security-Policy": f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'",
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


class ServiceAccountUpload(BaseModel):
    """The key file as one JSON string (the FrontDesk API's shape)."""
    model_config = ConfigDict(extra="forbid")
    service_account_json: str = Field(min_length=2, max_length=20_000, examples=[
        '{"type": "service_account", "project_id": "my-project", ...}'])


async def _store_service_account(request: Request, client: Client,
                                 body: ServiceAccountIn) -> CalendarStatus:
    api: ApiState = request.state.api
    try:
        key_file = clean_json(body.model_dump())
    except ValueError:
        raise ApiError(422, [{"field": "body", "message": "invalid text"}]) from None
    sealer = await api.sealer()
    cred = await calendar_credentials.upsert(
        api.pool, client_id=client.id, kind="service_account", account_email=body.client_email,
        scopes=["https://www.googleapis.com/auth/calendar"], ciphertext=sealer.seal(key_file))
    return CalendarStatus.of(cred, client)


@router.put("/clients/{client_id}/calendar/service-account", response_model=CalendarStatus,
            summary="Upload a Google service-account key file (scope write:calendar)",
            responses=responses(401, 403, 404, 422, 429))
async def upload_service_account(client_id: Id, body: ServiceAccountIn, request: Request,
                                 principal: Write) -> CalendarStatus:
    client = await load_client(request, principal, client_id)
    return await _store_service_account(request, client, body)


@router.post("/clients/{client_id}/calendar/service-account", response_model=CalendarStatus,
             summary="Upload a Google service-account key file as a JSON string"
                     " (scope write:calendar)", responses=responses(401, 403, 404, 422, 429))
async def post_service_account(client_id: Id, body: ServiceAccountUpload, request: Request,
                               principal: Write) -> CalendarStatus:
    client = await load_client(request, principal, client_id)
    try:
        parsed = json.loads(body.service_account_json)
        key_file = ServiceAccountIn.model_validate(parsed)
    except ValueError as exc:  # invalid JSON, or a key file that is not one (ValidationError)
        errors = getattr(exc, "errors", None)
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors()] \
            if callable(errors) else ["not valid JSON"]
        raise ApiError(422, [{"field": "service_account_json", "message": p}
                             for p in problems]) from None
    return await _store_service_account(request, client, key_file)


@router.delete("/clients/{client_id}/calendar", status_code=204, response_class=Response,
               summary="Disconnect the calendar and forget its credentials"
                       " (scope write:calendar)", responses=responses(401, 403, 404, 429))
@router.delete("/clients/{client_id}/calendar/credentials", status_code=204,
               response_class=Response, summary="Disconnect the calendar and forget its"
               " credentials (scope write:calendar)", responses=responses(401, 403, 404, 429))
async def revoke_calendar(client_id: Id, request: Request, principal: Write) -> Response:
    await load_client(request, principal, client_id)
    api: ApiState = request.state.api
    cred = await calendar_credentials.delete(api.pool, client_id)
    if cred is None:
        raise ApiError(404, "no calendar is connected")
    # Microsoft's identity platform has no revocation endpoint: forgetting the tokens is
    # the disconnect (the README says where the owner removes the app's consent).
    if cred.kind == "oauth" and cred.provider == "google":
        try:
            secret = (await api.sealer()).open(cred.ciphertext)
        except ValueError:
            secret = {}  # sealed under a key no longer configured: nothing to tell Google
        token = secret.get("refresh_token") or secret.get("access_token")
        if token:
            await google.revoke(api, token)
    return Response(status_code=204)
