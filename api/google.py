"""Google OAuth 2.0 (authorization code + PKCE), endpoints from configuration so tests and
self-hosted setups can stand in for Google."""

from __future__ import annotations

import base64
import hashlib
import logging
import random
from typing import Any
from urllib.parse import urlencode

import httpx

from api.crypto import new_token, token_hash
from api.errors import ApiError
from api.state import ApiState
from db import oauth_states
from db.oauth_states import OAuthState

log = logging.getLogger("frontdesk.api")

STATE_TTL_SECONDS = 600
LOGIN_SCOPES = "openid email profile"
CALENDAR_SCOPES = "openid email https://www.googleapis.com/auth/calendar"
LOGIN_CALLBACK = "/api/auth/google/callback"
CALENDAR_CALLBACK = "/api/calendar/oauth/callback"


def _configured(state: ApiState) -> tuple[str, str]:
    s = state.settings
    client_id, secret = s.google_client_id, s.secret("google_client_secret")
    if not client_id or not secret:
        raise ApiError(503, "Google OAuth is not configured (GOOGLE_CLIENT_ID,"
                            " GOOGLE_CLIENT_SECRET)", "google_not_configured")
    return client_id, secret


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def start(state: ApiState, *, purpose: str, callback_path: str, scopes: str,
                user_id: int | None = None, client_id: int | None = None,
                offline: bool = False) -> tuple[str, str]:
    """Record a single-use state and return (authorization URL, state)."""
    google_client_id, _ = _configured(state)
    if random.randrange(100) == 0:  # now and then, drop states nobody came back with
        await oauth_states.prune(state.pool)
    oauth_state, verifier = new_token(), new_token(48)
    await oauth_states.insert(state.pool, state_hash=token_hash(oauth_state), purpose=purpose,
                              code_verifier=verifier, ttl_seconds=STATE_TTL_SECONDS,
                              user_id=user_id, client_id=client_id)
    params = {"response_type": "code", "client_id": google_client_id,
              "redirect_uri": state.settings.public_url + callback_path, "scope": scopes,
              "state": oauth_state, "code_challenge": pkce_challenge(verifier),
              "code_challenge_method": "S256"}
    if offline:  # a refresh token, so the agent can reach the calendar after this session
        params |= {"access_type": "offline", "prompt": "consent"}
    return f"{state.settings.google_auth_url}?{urlencode(params)}", oauth_state


async def take_state(state: ApiState, oauth_state: str, purpose: str) -> OAuthState:
    found = await oauth_states.consume(state.pool, token_hash(oauth_state), purpose)
    if found is None:
        raise ApiError(400, "unknown, used or expired OAuth state", "invalid_state")
    return found


async def exchange(state: ApiState, *, code: str, verifier: str,
                   callback_path: str) -> dict[str, Any]:
    """Trade the authorization code for tokens."""
    client_id, secret = _configured(state)
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id,
            "client_secret": secret, "code_verifier": verifier,
            "redirect_uri": state.settings.public_url + callback_path}
    body = await _call("POST", state.settings.google_token_url, data=form)
    if "access_token" not in body:
        raise ApiError(400, "Google refused the authorization code", "oauth_exchange_failed")
    return body


async def userinfo(state: ApiState, access_token: str) -> dict[str, Any]:
    return await _call("GET", state.settings.google_userinfo_url,
                       headers={"Authorization": f"Bearer {access_token}"})


async def revoke(state: ApiState, token: str) -> None:
    """Best effort: the credential is deleted here whatever Google answers."""
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            await http.post(state.settings.google_revoke_url, data={"token": token})
    except httpx.HTTPError as exc:
        log.warning("Google token revocation failed: %s", type(exc).__name__)


async def _call(method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        log.warning("Google OAuth request failed: %s", type(exc).__name__)
        raise ApiError(502, "Google could not be reached", "google_unavailable") from None
    if response.status_code >= 500:
        raise ApiError(502, "Google answered with an error", "google_unavailable")
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400 or not isinstance(body, dict):
        # The error body names the problem (invalid_grant, ...); it holds no secret.
        error = body.get("error") if isinstance(body, dict) else None
        raise ApiError(400, f"Google refused the request ({error or response.status_code})",
                       "oauth_exchange_failed")
    return body
