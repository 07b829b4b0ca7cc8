"""Access and refresh token pairs: issue, rotate, revoke."""

from __future__ import annotations

import random
import uuid

from pydantic import BaseModel, Field

from api.auth import ACCESS_TOKEN_SECONDS, issue_access_token
from api.crypto import new_token, token_hash
from api.state import ApiState
from db import refresh_tokens
from db.pool import Executor

REFRESH_TOKEN_SECONDS = 7 * 24 * 3600
PRUNE_ONE_IN = 100  # now and then, drop rows that can no longer be used


class TokenPair(BaseModel):
    access_token: str = Field(examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."])
    refresh_token: str = Field(examples=["q9c3Jx2m6nS1uYv0w8ZbT4kR7pLdE5fH"])
    token_type: str = Field("bearer", examples=["bearer"])
    expires_in: int = Field(ACCESS_TOKEN_SECONDS, description="Access token lifetime, seconds",
                            examples=[900])


async def issue(state: ApiState, db: Executor, user_id: int, *,
                family_id: uuid.UUID | None = None) -> TokenPair:
    if random.randrange(PRUNE_ONE_IN) == 0:
        await refresh_tokens.prune(db)
    refresh = new_token()
    family_id = family_id or uuid.uuid4()
    await refresh_tokens.insert(db, user_id=user_id, token_hash=token_hash(refresh),
                                ttl_seconds=REFRESH_TOKEN_SECONDS, family_id=family_id)
    # The access token names its session, so logging out ends it too.
    return TokenPair(access_token=issue_access_token(state.jwt_secret, user_id,
                                                     session_id=family_id),
                     refresh_token=refresh)
