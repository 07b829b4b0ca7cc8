"""/api/auth: register, log in, refresh, log out, who am I, password reset."""

from __future__ import annotations

import logging
import random
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

import asyncpg
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, EmailStr, Field

from api import cookies, mailer, passwords, rate_limit, sessions
from api.auth import Principal, authenticate, session_only
from api.crypto import new_token, token_hash
from api.csrf import REFRESH_COOKIE, check_csrf
from api.errors import ApiError, responses
from api.sessions import TokenPair
from api.state import ApiState
from api.validation import Input
from db import organizations, password_resets, refresh_tokens, users
from db.pool import Executor

log = logging.getLogger("frontdesk.api")
router = APIRouter(prefix="/auth", tags=["auth"])

RESET_TTL_SECONDS = 3600
_BY_ADDRESS = [Depends(rate_limit.by_address)]


class OrganizationOut(BaseModel):
    id: int = Field(examples=[1])
    name: str = Field(examples=["Bright Smile Dental"])
    plan: str = Field(description="The plan in force: free until billing exists",
                      examples=["free"])
    role: str = Field(examples=["owner"], json_schema_extra={"enum": list(organizations.ROLES)})


class UserOut(BaseModel):
    id: int = Field(examples=[1])
    email: str = Field(examples=["owner@example.com"])
    full_name: str = Field(examples=["Dana Owner"])
    is_admin: bool = Field(False, examples=[False])
    google_linked: bool = Field(False, examples=[False])
    created_at: datetime
    organization: OrganizationOut


class SessionOut(TokenPair):
    user: UserOut


_COOKIES = ("Browser sessions: the tokens are set as HttpOnly, SameSite=Strict cookies (Secure"
            " behind https) and left out of the body; writes then send the fd_csrf cookie's"
            " value in X-CSRF-Token")


class RegisterIn(Input):
    email: EmailStr = Field(examples=["owner@example.com"])
    password: str = Field(min_length=8, max_length=128, examples=["correct horse battery"])
    full_name: str = Field("", max_length=200, examples=["Dana Owner"])
    company_name: str | None = Field(None, min_length=1, max_length=200,
                                     description="Names the organisation (default: your name)",
                                     examples=["Bright Smile Dental"])
    plan: Literal["free", "pro", "enterprise"] | None = Field(  # organizations.PLANS
        None, description="The plan wanted; recorded, the organisation is on free until"
                          " billing exists", examples=["pro"])
    use_cookies: bool = Field(False, description=_COOKIES, examples=[False])


class LoginIn(Input):
    email: EmailStr = Field(examples=["owner@example.com"])
    password: str = Field(min_length=1, max_length=128, examples=["correct horse battery"])
    use_cookies: bool = Field(False, description=_COOKIES, examples=[False])


class RefreshIn(Input):
    refresh_token: str | None = Field(
        None, min_length=1, max_length=200, examples=["q9c3Jx2m6nS1uYv0w8ZbT4kR7pLdE5fH"],
        description="Omit in a browser session: the fd_refresh cookie is used (with the"
                    " X-CSRF-Token header)")


class ProfileIn(Input):
    full_name: str = Field(max_length=200, examples=["Dana Owner"])


class ResetRequestIn(Input):
    email: EmailStr = Field(examples=["owner@example.com"])


class ResetConfirmIn(Input):
    token: str = Field(min_length=1, max_length=200, examples=["Zk3v9Q...from-the-email"])
    new_password: str = Field(min_length=8, max_length=128, examples=["a new long password"])


class Accepted(BaseModel):
    detail: str = Field(examples=["if the address is registered, a reset link is on its way"])


async def user_out(db: Executor, user_id: int) -> UserOut:
    user = await users.get(db, user_id)
    creds = await users.credentials(db, user_id)
    found = await organizations.of_user(db, user_id)
    if user is None or creds is None or found is None:
        raise ApiError(401, "invalid or expired credentials")
    org, role = found
    return UserOut(id=user.id, email=user.email, full_name=user.full_name,
                   is_admin=creds.is_admin, google_linked=creds.google_sub is not None,
                   created_at=user.created_at,
                   organization=OrganizationOut(id=org.id, name=org.name, plan=org.plan,
                                                role=role))


async def new_session(state: ApiState, user_id: int, *,
                      into: tuple[Request, Response] | None = None) -> SessionOut:
    """Sign the user in; ``into``: set the tokens as cookies on this response instead."""
    async with state.pool.acquire() as conn:
        pair = await sessions.issue(state, conn, user_id)
        if into is not None:
            cookies.set_session(*into, pair)
            pair = cookies.hidden(pair)
        return SessionOut(**pair.model_dump(), user=await user_out(conn, user_id))


def _refresh_token(body: RefreshIn, request: Request) -> tuple[str, bool]:
    """The refresh token of the body, or of the cookie (whose use needs the CSRF header)."""
    if body.refresh_token is not None:
        return body.refresh_token, False
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise ApiError(401, "no refresh token: send refresh_token or the fd_refresh cookie",
                       "invalid_refresh_token")
    check_csrf(request)
    return token, True


@router.post("/register", status_code=201, response_model=SessionOut, dependencies=_BY_ADDRESS,
             summary="Create an account and sign in", responses=responses(409, 422, 429))
async def register(body: RegisterIn, request: Request, response: Response) -> SessionOut:
    state: ApiState = request.state.api
    password_hash = await passwords.hash_password(body.password)
    try:
        # The user, their organisation (made by the users trigger) and what the form said
        # about it commit together; a replayed request is a 409 and changes nothing.
        async with state.pool.acquire() as conn, conn.transaction():
            user = await users.insert(conn, email=body.email, password_hash=password_hash,
                                      full_name=body.full_name)
            if body.company_name is not None or body.plan is not None:
                member = await organizations.membership(conn, user.id)
                if member is None:  # the users trigger of 0016_organizations.sql makes one
                    raise RuntimeError(f"user {user.id} has no organisation")
                await organizations.set_signup(conn, member.organization_id,
                                               name=body.company_name, requested_plan=body.plan)
    except asyncpg.UniqueViolationError:
        raise ApiError(409, "an account with this e-mail already exists", "email_taken") from None
    return await new_session(state, user.id,
                             into=(request, response) if body.use_cookies else None)


@router.post("/login", response_model=SessionOut, dependencies=_BY_ADDRESS,
             summary="Sign in with e-mail and password", responses=responses(401, 422, 429))
async def login(body: LoginIn, request: Request, response: Response) -> SessionOut:
    state: ApiState = request.state.api
    creds = await users.credentials_by_email(state.pool, body.email)
    ok = await passwords.verify(creds.password_hash if creds else None, body.password)
    if creds is None or not ok or not creds.is_active:
        raise ApiError(401, "wrong e-mail or password", "invalid_credentials")
    if creds.password_hash and passwords.needs_rehash(creds.password_hash):
        await users.rehash_password(state.pool, creds.id,
                                    await passwords.hash_password(body.password))
    return await new_session(state, creds.id,
                             into=(request, response) if body.use_cookies else None)


@router.post("/refresh", response_model=TokenPair, dependencies=_BY_ADDRESS,
             summary="Trade a refresh token for a new pair (the old one stops working)",
             responses=responses(401, 403, 422, 429))
async def refresh(body: RefreshIn, request: Request, response: Response) -> TokenPair:
    state: ApiState = request.state.api
    token, from_cookie = _refresh_token(body, request)
    # No transaction: a replayed token's family revocation must stick although we answer 401.
    async with state.pool.acquire() as conn:
        rotation = await refresh_tokens.consume(conn, token_hash(token))
        creds = await users.credentials(conn, rotation.user_id) if rotation else None
        if rotation is None or creds is None or not creds.is_active:
            raise ApiError(401, "invalid, expired or already used refresh token",
                           "invalid_refresh_token")
        pair = await sessions.issue(state, conn, rotation.user_id, family_id=rotation.family_id)
    if not from_cookie:
        return pair
    cookies.set_session(request, response, pair)
    return cookies.hidden(pair)


@router.post("/logout", status_code=204, response_class=Response, dependencies=_BY_ADDRESS,
             summary="End the session this refresh token belongs to: its refresh and access"
                     " tokens stop working",
             responses=responses(401, 403, 422, 429))
async def logout(body: RefreshIn, request: Request) -> Response:
    token, from_cookie = _refresh_token(body, request)
    await refresh_tokens.revoke_family(request.state.api.pool, token_hash(token))
    done = Response(status_code=204)
    if from_cookie:
        cookies.clear_session(request, done)
    return done


@router.get("/me", response_model=UserOut, summary="The signed-in user (or the key's owner)",
            responses=responses(401, 429))
async def me(request: Request,
             principal: Annotated[Principal, Depends(authenticate)]) -> UserOut:
    return await user_out(request.state.api.pool, principal.user_id)


@router.patch("/me", response_model=UserOut, summary="Change your profile",
              responses=responses(401, 403, 422, 429))
async def update_me(body: ProfileIn, request: Request,
                    principal: Annotated[Principal, Depends(session_only)]) -> UserOut:
    await users.update_profile(request.state.api.pool, principal.user_id,
                               full_name=body.full_name)
    return await user_out(request.state.api.pool, principal.user_id)


@router.post("/password-reset/request", status_code=202, response_model=Accepted,
             dependencies=_BY_ADDRESS, summary="E-mail a single-use password reset link",
             responses=responses(422, 429))
async def request_reset(body: ResetRequestIn, request: Request) -> Accepted:
    state: ApiState = request.state.api
    creds = await users.credentials_by_email(state.pool, body.email)
    # The same answer whether or not the address is registered.
    if creds is not None and creds.is_active:
        token = new_token()
        if random.randrange(100) == 0:  # now and then, drop expired tokens
            await password_resets.prune(state.pool)
        await password_resets.insert(state.pool, user_id=creds.id, token_hash=token_hash(token),
                                     ttl_seconds=RESET_TTL_SECONDS)
        await _mail_reset(state, creds.email, creds.id, token)
    return Accepted(detail="if the address is registered, a reset link is on its way")


async def _mail_reset(state: ApiState, email: str, user_id: int, token: str) -> None:
    s = state.settings
    page = s.password_reset_url or f"{s.public_url}/reset-password"
    link = f"{page}?{urlencode({'token': token})}"
    body = (f"Someone asked to reset the password of your frontdesk account.\n\n"
            f"Reset it here within {RESET_TTL_SECONDS // 60} minutes:\n{link}\n\n"
            "Or send this token to POST /api/auth/password-reset/confirm:\n"
            f"{token}\n\nIf it was not you, ignore this message.")
    try:
        await mailer.send(s.secret("smtp_url"), s.mail_from, email, "Reset your password", body)
    except mailer.MailNotConfigured:
        log.warning("password reset for user %d not sent: SMTP_URL is not set", user_id)
    except OSError as exc:  # smtplib errors are OSErrors; the caller still gets 202
        log.warning("password reset e-mail for user %d failed: %s", user_id,
                    type(exc).__name__)


@router.post("/password-reset/confirm", status_code=204, response_class=Response,
             dependencies=_BY_ADDRESS, summary="Set a new password with a reset token",
             responses=responses(400, 422, 429))
async def confirm_reset(body: ResetConfirmIn, request: Request) -> Response:
    state: ApiState = request.state.api
    password_hash = await passwords.hash_password(body.new_password)
    async with state.pool.acquire() as conn, conn.transaction():
        user_id = await password_resets.consume(conn, token_hash(body.token))
        if user_id is None:
            raise ApiError(400, "invalid, used or expired reset token", "invalid_token")
        await users.set_password(conn, user_id, password_hash)
        await password_resets.invalidate_for_user(conn, user_id)
        await refresh_tokens.revoke_all(conn, user_id)  # every session signs in again
    return Response(status_code=204)


# The Vami spec's names for the same two steps.
router.add_api_route("/forgot-password", request_reset, methods=["POST"], status_code=202,
                     response_model=Accepted, dependencies=_BY_ADDRESS, name="forgot_password",
                     summary="E-mail a single-use password reset link (as"
                             " /password-reset/request)", responses=responses(422, 429))
router.add_api_route("/reset-password", confirm_reset, methods=["POST"], status_code=204,
                     response_class=Response, dependencies=_BY_ADDRESS, name="reset_password",
                     summary="Set a new password with a reset token (as"
                             " /password-reset/confirm)", responses=responses(400, 422, 429))
