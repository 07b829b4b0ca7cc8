"""Who is calling: a JWT access token or an API key, with scopes and a rate limit.

``Authorization: Bearer <jwt>`` is a signed-in member of an organisation and holds their
role's scopes (api.permissions). ``Authorization: Bearer fd_...`` or ``X-API-Key: fd_...``
is an API key: it acts in its creator's organisation and holds its scopes that the
creator's role holds too.
The ``fd_access`` cookie (api.cookies) is a signed-in user's browser session.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api import rate_limit
from api.crypto import same, token_hash
from api.csrf import ACCESS_COOKIE, check_csrf
from api.errors import ApiError
from api.permissions import scopes_of
from api.scopes import ALL
from db import api_keys, organizations, refresh_tokens, users

ACCESS_TOKEN_SECONDS = 15 * 60
KEY_PREFIX = "fd_"
_ALGORITHM = "HS256"
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}

bearer_scheme = HTTPBearer(auto_error=False, scheme_name="bearer",
                           description="An access token from /api/auth/login, or an API key")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey",
                              description="An API key (fd_...)")


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str
    scopes: frozenset[str] = ALL
    api_key_id: int | None = None
    is_admin: bool = False  # the server's operator (api.admin), not an organisation role
    organization_id: int = 0  # whose data every query is scoped to
    role: str = "owner"  # in that organisation: owner, admin or member

    @property
    def is_key(self) -> bool:
        return self.api_key_id is not None


def issue_access_token(secret: str, user_id: int, *, ttl: int = ACCESS_TOKEN_SECONDS,
                       session_id: uuid.UUID | None = None) -> str:
    """``session_id``: the sign-in session (refresh-token family) whose logout ends it."""
    now = time.time()
    # iat keeps sub-second precision so a password reset can refuse tokens issued just before.
    claims = {"sub": str(user_id), "type": "access", "iat": now, "exp": int(now) + ttl}
    if session_id is not None:
        claims["sid"] = str(session_id)
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def _unauthorized(detail: str = "invalid or expired credentials") -> ApiError:
    return ApiError(401, detail, headers=_UNAUTHORIZED)


async def _from_jwt(request: Request, token: str) -> Principal:
    state = request.state.api
    try:
        claims = jwt.decode(token, state.jwt_secret, algorithms=[_ALGORITHM],
                            options={"require": ["sub", "exp", "iat"]})
        if claims.get("type") != "access":
            raise jwt.InvalidTokenError("not an access token")
        user_id = int(claims["sub"])
        issued_at = float(claims["iat"])
        session_id = uuid.UUID(claims["sid"]) if "sid" in claims else None
    except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError):
        raise _unauthorized() from None
    if not 0 < user_id < 2**63:
        raise _unauthorized()
    if session_id is not None and await refresh_tokens.session_ended(state.pool, session_id):
        raise _unauthorized("this session was logged out")
    user = await users.credentials(state.pool, user_id)
    if user is None or not user.is_active:
        raise _unauthorized()
    if user.tokens_valid_after is not None and issued_at < user.tokens_valid_after.timestamp():
        raise _unauthorized("token issued before the password was changed")
    member = await organizations.membership(state.pool, user.id)
    if member is None:
        raise _unauthorized("this account belongs to no organisation")
    return Principal(user.id, user.email, scopes_of(member.role), None, user.is_admin,
                     member.organization_id, member.role)


def split_key(key: str) -> str | None:
    """The stored prefix of an API key ("fd_" + 8 hex), or None if it is not shaped like one."""
    head, sep, _ = key[len(KEY_PREFIX):].partition("_")
    if not key.startswith(KEY_PREFIX) or not sep or len(head) != 8:
        return None
    return KEY_PREFIX + head


async def _from_key(request: Request, key: str) -> Principal:
    state = request.state.api
    prefix = split_key(key)
    if prefix is None:
        raise _unauthorized()
    row = await api_keys.by_prefix(state.pool, prefix)
    if row is None or row.revoked_at is not None or not same(row.key_hash, token_hash(key)):
        raise _unauthorized()
    user = await users.credentials(state.pool, row.user_id)
    if user is None or not user.is_active:
        raise _unauthorized()
    member = await organizations.membership(state.pool, user.id)
    if member is None or member.organization_id != row.organization_id:
        raise _unauthorized()  # its creator left the organisation: the key went with them
    await api_keys.touch(state.pool, row.id)
    scopes = frozenset(row.scopes) & ALL & scopes_of(member.role)
    return Principal(user.id, user.email, scopes, row.id, False, member.organization_id,
                     member.role)


async def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """FastAPI dependency: the caller, or 401; then the caller's rate limit, or 429."""
    if api_key:
        principal = await _from_key(request, api_key)
    elif bearer is not None and bearer.credentials:
        token = bearer.credentials
        principal = await (_from_key(request, token) if token.startswith(KEY_PREFIX)
                           else _from_jwt(request, token))
    elif request.cookies.get(ACCESS_COOKIE):
        # A browser session (api.cookies): the browser attaches the cookie by itself, so a
        # write must prove it comes from our page.
        principal = await _from_jwt(request, request.cookies[ACCESS_COOKIE])
        check_csrf(request)
    else:
        raise _unauthorized("missing credentials: send Authorization: Bearer or X-API-Key")
    bucket = f"key:{principal.api_key_id}" if principal.is_key else f"user:{principal.user_id}"
    await rate_limit.check(request, bucket, request.state.api.settings.rate_limit_requests)
    if principal.is_key:
        await rate_limit.by_plan(request, principal.organization_id)
    request.state.principal = principal
    return principal


# Kept for callers that only need "somebody signed in" (GET /api/active-calls used it).
current_user = authenticate


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the caller, who must hold ``scope`` (403 otherwise)."""
    if scope not in ALL:
        raise ValueError(f"unknown scope {scope!r}")

    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if scope in principal.scopes:
            return principal
        if principal.is_key:
            raise ApiError(403, f"this API key lacks the {scope} scope (or its creator's role,"
                           f" {principal.role}, does)", "missing_scope")
        raise ApiError(403, f"the {principal.role} role lacks the {scope} permission",
                       "missing_permission")

    dependency.required_scope = scope  # type: ignore[attr-defined]  # read by the matrix test
    return dependency


async def session_only(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """For account operations an API key must not perform (profile, admin)."""
    if principal.is_key:
        raise ApiError(403, "this operation needs a signed-in user, not an API key",
                       "session_required")
    return principal
