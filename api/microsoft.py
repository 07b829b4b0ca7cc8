"""Microsoft 365 / Outlook calendar consent (OAuth 2.0 authorization code + PKCE against the
Microsoft identity platform); endpoints from configuration so tests can stand in."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.calendar import QueryText, Write, consented_client, popup_page
from api.clients import load as load_client
from api.crypto import new_token, token_hash
from api.errors import ApiError, responses
from api.google import pkce_challenge
from api.google_login import AuthorizationOut
from api.state import ApiState
from api.validation import Id, scrub
from db import calendar_credentials, oauth_states
from tools.calendars.microsoft import SCOPES, authorize_url, token_url

log = logging.getLogger("frontdesk.api")

router = APIRouter(tags=["calendar"])

PURPOSE = "microsoft_calendar"
CALLBACK = "/api/calendar/microsoft/oauth/callback"
STATE_TTL_SECONDS = 600


def _configured(api: ApiState) -> tuple[str, str]:
    s = api.settings
    client_id, secret = s.microsoft_client_id, s.secret("microsoft_client_secret")
    if not client_id or not secret:
        raise ApiError(503, "Microsoft OAuth is not configured (MICROSOFT_CLIENT_ID,"
                            " MICROSOFT_CLIENT_SECRET)", "microsoft_not_configured")
    return client_id, secret


async def _call(method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        log.warning("Microsoft OAuth request failed: %s", type(exc).__name__)
        raise ApiError(502, "Microsoft could not be reached", "microsoft_unavailable") from None
    if response.status_code >= 500:
        raise ApiError(502, "Microsoft answered with an error", "microsoft_unavailable")
    return response


@router.post("/clients/{client_id}/calendar/microsoft/oauth/initiate",
             response_model=AuthorizationOut,
             summary="Start Microsoft 365 / Outlook calendar consent for this client; open"
                     " authorization_url in a pop-up (scope write:calendar)",
             responses=responses(401, 403, 404, 429, 503))
async def microsoft_initiate(client_id: Id, request: Request,
                             principal: Write) -> AuthorizationOut:
    await load_client(request, principal, client_id)
    api: ApiState = request.state.api
    app_id, _ = _configured(api)
    state, verifier = new_token(), new_token(48)
    await oauth_states.insert(api.pool, state_hash=token_hash(state), purpose=PURPOSE,
                              code_verifier=verifier, ttl_seconds=STATE_TTL_SECONDS,
                              user_id=principal.user_id, client_id=client_id)
    params = {"client_id": app_id, "response_type": "code", "response_mode": "query",
              "redirect_uri": api.settings.public_url + CALLBACK, "scope": SCOPES,
              "state": state, "code_challenge": pkce_challenge(verifier),
              "code_challenge_method": "S256", "prompt": "select_account"}
    return AuthorizationOut(authorization_url=f"{authorize_url(api.settings)}?"
                                              f"{urlencode(params)}", state=state)


@router.get("/calendar/microsoft/oauth/callback", response_class=HTMLResponse,
            summary="Microsoft redirects here; stores the tokens and tells the opener",
            responses={200: {"content": {"text/html": {}}},
                       400: {"content": {"text/html": {}}, "description": "not connected"}})
async def microsoft_callback(request: Request, state: QueryText = None, code: QueryText = None,
                             error: QueryText = None) -> HTMLResponse:
    api: ApiState = request.state.api
    try:
        if not state:
            raise ApiError(400, "missing OAuth state", "invalid_state")
        found = await oauth_states.consume(api.pool, token_hash(state), PURPOSE)
        if found is None:
            raise ApiError(400, "unknown, used or expired OAuth state", "invalid_state")
        client_id = await consented_client(api, found, code, error)
        await _connect(api, client_id, str(code), found.code_verifier)
    except ApiError as exc:
        return popup_page(api, {"status": "error", "error": exc.error_code,
                                "detail": exc.detail, "provider": "microsoft"}, 400)
    return popup_page(api, {"status": "connected", "client_id": client_id,
                            "provider": "microsoft"}, 200)


async def _connect(api: ApiState, client_id: int, code: str, verifier: str) -> None:
    app_id, secret = _configured(api)
    response = await _call("POST", token_url(api.settings), data={
        "grant_type": "authorization_code", "code": code, "client_id": app_id,
        "client_secret": secret, "code_verifier": verifier, "scope": SCOPES,
        "redirect_uri": api.settings.public_url + CALLBACK})
    try:
        tokens = response.json()
    except ValueError:
        tokens = {}
    if response.status_code != 200 or not isinstance(tokens, dict) \
            or not isinstance(tokens.get("access_token"), str):
        error = tokens.get("error") if isinstance(tokens, dict) else None
        raise ApiError(400, "Microsoft refused the authorization code"
                            f" ({error or response.status_code})", "oauth_exchange_failed")
    if not tokens.get("refresh_token"):
        raise ApiError(400, "Microsoft gave no refresh token (offline_access was not granted)",
                       "oauth_exchange_failed")
    email = None
    with contextlib.suppress(ApiError, ValueError):  # the e-mail is a label
        me = await _call("GET", f"{api.settings.microsoft_graph_url}/me",
                         headers={"Authorization": f"Bearer {tokens['access_token']}"})
        profile = me.json() if me.status_code == 200 else {}
        email = profile.get("mail") or profile.get("userPrincipalName")
    lifetime = tokens.get("expires_in")
    secret_part = {"access_token": tokens["access_token"],
                   "refresh_token": tokens["refresh_token"],
                   "expires_at": int(time.time()) + (int(lifetime) if isinstance(lifetime, int)
                                                     else 3600)}
    sealer = await api.sealer()
    await calendar_credentials.upsert(
        api.pool, client_id=client_id, kind="oauth", provider="microsoft",
        account_email=scrub(str(email))[:320] if email else None,
        scopes=[scrub(s)[:300] for s in str(tokens.get("scope") or SCOPES).split()[:20]],
        ciphertext=sealer.seal(secret_part))
