"""/api/auth/google: sign in with Google (authorization code + PKCE)."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from api import google, rate_limit
from api.auth_routes import SessionOut, new_session
from api.errors import ApiError, responses
from api.state import ApiState
from api.validation import CleanStr, Input
from db import users

router = APIRouter(prefix="/auth/google", tags=["auth"])


class AuthorizationOut(BaseModel):
    authorization_url: str = Field(
        examples=["https://accounts.google.com/o/oauth2/v2/auth?response_type=code&..."])
    state: str = Field(examples=["mB0x7Gq3v1Yc9ZrT"])


@router.post("/initiate", response_model=AuthorizationOut,
             dependencies=[Depends(rate_limit.by_address)],
             summary="Start Google sign-in: open authorization_url in the browser",
             responses=responses(429, 503))
async def initiate(request: Request) -> AuthorizationOut:
    url, state = await google.start(request.state.api, purpose="login",
                                    callback_path=google.LOGIN_CALLBACK,
                                    scopes=google.LOGIN_SCOPES)
    return AuthorizationOut(authorization_url=url, state=state)


QueryText = Annotated[CleanStr | None, Query(max_length=2000)]


@router.get("/callback", response_model=SessionOut,
            dependencies=[Depends(rate_limit.by_address)],
            summary="Google redirects here; answers with a session",
            responses=responses(400, 422, 429, 502, 503))
async def callback(request: Request, state: QueryText = None, code: QueryText = None,
                   error: QueryText = None) -> SessionOut:
    return await _complete(request.state.api, state, code, error)


class CallbackIn(Input):
    """What Google put on the redirect, posted by a front end that received it."""
    code: str | None = Field(None, max_length=2000, examples=["4/0AfJohXn..."])
    state: str | None = Field(None, max_length=2000, examples=["mB0x7Gq3v1Yc9ZrT"])
    error: str | None = Field(None, max_length=2000, examples=["access_denied"])


@router.post("/callback", response_model=SessionOut,
             dependencies=[Depends(rate_limit.by_address)],
             summary="The same, for a front end that received Google's redirect itself",
             responses=responses(400, 422, 429, 502, 503))
async def callback_json(body: CallbackIn, request: Request) -> SessionOut:
    return await _complete(request.state.api, body.state, body.code, body.error)


async def _complete(api: ApiState, state: str | None, code: str | None,
                    error: str | None) -> SessionOut:
    if not state:
        raise ApiError(400, "missing OAuth state", "invalid_state")
    found = await google.take_state(api, state, "login")
    if error or not code:
        raise ApiError(400, f"Google sign-in was not completed ({error or 'no code'})",
                       "oauth_denied")
    tokens = await google.exchange(api, code=code, verifier=found.code_verifier,
                                   callback_path=google.LOGIN_CALLBACK)
    info = await google.userinfo(api, tokens["access_token"])
    sub, email = str(info.get("sub") or ""), str(info.get("email") or "")
    if not sub or not email or info.get("email_verified") is not True:
        raise ApiError(400, "Google did not confirm a verified e-mail address",
                       "unverified_email")
    return await new_session(api, await _user_for(api, sub, email, str(info.get("name") or "")))


async def _user_for(api: ApiState, sub: str, email: str, name: str) -> int:
    known = await users.credentials_by_google_sub(api.pool, sub)
    if known is not None:
        user_id, active = known.id, known.is_active
    else:
        by_email = await users.credentials_by_email(api.pool, email)
        if by_email is not None:
            # Google verified the address, so it is the same person: link the accounts.
            await users.link_google(api.pool, by_email.id, sub)
            user_id, active = by_email.id, by_email.is_active
        else:
            try:
                user_id = (await users.insert_google(api.pool, email=email, google_sub=sub,
                                                     full_name=name[:200])).id
            except asyncpg.UniqueViolationError:  # a concurrent first sign-in won
                raise ApiError(409, "account is being created; try again", "conflict") from None
            active = True
    if not active:
        raise ApiError(401, "this account is disabled", "account_disabled")
    return user_id
