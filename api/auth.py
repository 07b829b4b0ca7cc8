"""Bearer JWT authentication (access tokens signed with the server's JWT secret)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt
from fastapi import Request

from api.errors import ApiError
from db import users

ACCESS_TOKEN_SECONDS = 15 * 60
_ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    user_id: int
    email: str


def issue_access_token(secret: str, user_id: int, *, ttl: int = ACCESS_TOKEN_SECONDS) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "type": "access", "iat": now, "exp": now + ttl},
                      secret, algorithm=_ALGORITHM)


async def current_user(request: Request) -> Principal:
    """FastAPI dependency: the authenticated owner, or 401."""
    state = request.state.api
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    try:
        claims = jwt.decode(token, state.jwt_secret, algorithms=[_ALGORITHM],
                            options={"require": ["sub", "exp"]})
        if claims.get("type") != "access":
            raise jwt.InvalidTokenError("not an access token")
        user_id = int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError):
        raise ApiError(401, "invalid or expired token",
                       headers={"WWW-Authenticate": "Bearer"}) from None
    user = await users.get(state.pool, user_id)
    if user is None or not user.is_active:
        raise ApiError(401, "invalid or expired token", headers={"WWW-Authenticate": "Bearer"})
    return Principal(user.id, user.email)
