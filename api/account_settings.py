"""/api/settings: the signed-in user's preferences, the business profile, the password.

Keys are not accepted here: these are a person's account operations (``session_only``).
The business profile lives on the organisation, so only its owners and admins change it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, Field

from api import passwords, sessions
from api import validation as v
from api.auth import Principal, session_only
from api.auth_routes import user_out
from api.errors import ApiError, responses
from api.sessions import TokenPair
from api.state import ApiState
from api.validation import Input, Phone
from db import organizations, refresh_tokens, users

router = APIRouter(prefix="/settings", tags=["settings"])

Session = Annotated[Principal, Depends(session_only)]
MAX_PREFERENCES_BYTES = 16_384
PROFILE_EDITORS = ("owner", "admin")


def _small(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value)) > MAX_PREFERENCES_BYTES:
        raise ValueError(f"preferences must stay under {MAX_PREFERENCES_BYTES} bytes of JSON")
    if any(len(key) > 100 for key in value):
        raise ValueError("preference names are at most 100 characters")
    return value


TimeZone = Annotated[str, Field(max_length=64), AfterValidator(v.timezone)]


class ProfileOut(BaseModel):
    email: str = Field(examples=["owner@example.com"])
    full_name: str = Field(examples=["Dana Owner"])
    company_name: str = Field(description="The organisation's name",
                              examples=["Bright Smile Dental"])
    phone_number: str | None = Field(description="The business's own number",
                                     examples=["+12125550123"])
    timezone: str | None = Field(examples=["America/New_York"])
    role: str = Field(examples=["owner"])


class SettingsOut(BaseModel):
    preferences: dict[str, Any] = Field(examples=[{"theme": "dark", "calls_per_page": 50}])
    profile: ProfileOut


class PreferencesIn(Input):
    preferences: Annotated[dict[str, Any], Field(examples=[{"theme": "dark"}]),
                           AfterValidator(_small)]


class ProfileIn(Input):
    full_name: str | None = Field(None, max_length=200, examples=["Dana Owner"])
    company_name: str | None = Field(None, min_length=1, max_length=200,
                                     examples=["Bright Smile Dental"])
    phone_number: Phone | None = Field(None, examples=["+12125550123"])
    timezone: TimeZone | None = Field(None, examples=["America/New_York"])


class PasswordIn(Input):
    current_password: str = Field(min_length=1, max_length=128,
                                  examples=["correct horse battery"])
    new_password: str = Field(min_length=8, max_length=128,
                              examples=["a much longer new secret"])


async def _settings(state: ApiState, user_id: int) -> SettingsOut:
    user = await user_out(state.pool, user_id)
    found = await organizations.of_user(state.pool, user_id)
    assert found is not None  # user_out has answered 401 otherwise
    org, role = found
    return SettingsOut(
        preferences=await users.preferences(state.pool, user_id),
        profile=ProfileOut(email=user.email, full_name=user.full_name, company_name=org.name,
                           phone_number=org.phone_number, timezone=org.timezone, role=role))


@router.get("", response_model=SettingsOut, summary="Your preferences and the business profile",
            responses=responses(401, 403, 429))
async def get_settings(request: Request, principal: Session) -> SettingsOut:
    return await _settings(request.state.api, principal.user_id)


@router.put("", response_model=SettingsOut, summary="Replace your preferences",
            responses=responses(401, 403, 422, 429))
async def put_settings(body: PreferencesIn, request: Request, principal: Session
                       ) -> SettingsOut:
    state: ApiState = request.state.api
    await users.set_preferences(state.pool, principal.user_id, body.preferences)
    return await _settings(state, principal.user_id)


@router.put("/profile", response_model=SettingsOut,
            summary="Change your name, and (owners and admins) the business's name, phone"
                    " number and time zone",
            responses=responses(401, 403, 422, 429))
async def put_profile(body: ProfileIn, request: Request, principal: Session) -> SettingsOut:
    state: ApiState = request.state.api
    given = body.model_dump(exclude_unset=True)
    business = {("name" if k == "company_name" else k): v for k, v in given.items()
                if k in ("company_name", "phone_number", "timezone")}
    found = await organizations.of_user(state.pool, principal.user_id)
    if found is None:
        raise ApiError(401, "invalid or expired credentials")
    org, role = found
    if business and role not in PROFILE_EDITORS:
        raise ApiError(403, "only the organisation's owners and admins change its profile",
                       "forbidden_role")
    async with state.pool.acquire() as conn, conn.transaction():
        if given.get("full_name") is not None:
            await users.update_profile(conn, principal.user_id, full_name=given["full_name"])
        if business.get("name") is None:
            business.pop("name", None)  # a company name can be changed, not removed
        await organizations.update_profile(conn, org.id, business)
    return await _settings(state, principal.user_id)


@router.put("/password", response_model=TokenPair,
            summary="Change your password: every other session is signed out, this one"
                    " continues with the tokens returned",
            responses=responses(400, 401, 403, 422, 429))
async def put_password(body: PasswordIn, request: Request, principal: Session) -> TokenPair:
    state: ApiState = request.state.api
    creds = await users.credentials(state.pool, principal.user_id)
    if creds is None:
        raise ApiError(401, "invalid or expired credentials")
    if creds.password_hash is None:
        raise ApiError(400, "this account signs in with Google and has no password; set one"
                            " with a password reset", "no_password")
    if not await passwords.verify(creds.password_hash, body.current_password):
        raise ApiError(400, "the current password is wrong", "wrong_password")
    password_hash = await passwords.hash_password(body.new_password)
    async with state.pool.acquire() as conn, conn.transaction():
        # Access tokens issued before now stop working, refresh tokens are revoked: every
        # session ends, and this one continues as a new session.
        await users.set_password(conn, principal.user_id, password_hash)
        await refresh_tokens.revoke_all(conn, principal.user_id)
        return await sessions.issue(state, conn, principal.user_id)
