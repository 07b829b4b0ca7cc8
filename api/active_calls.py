"""GET /api/active-calls: the owner's calls in progress, across every server process."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.auth import Principal, require
from api.errors import responses
from db import active_calls

router = APIRouter(tags=["monitoring"])


class ActiveCallOut(BaseModel):
    call_id: str = Field(examples=["CA0123456789abcdef0123456789abcdef"])
    client_id: int = Field(examples=[1])
    client_name: str = Field(examples=["Bright Smile Dental"])
    caller_phone: str = Field(examples=["+14155550123"])
    start_time: datetime
    owner_user_id: int = Field(examples=[1])


@router.get("/active-calls", response_model=list[ActiveCallOut],
            summary="Calls in progress across your organisation's clients (scope read:calls)",
            responses=responses(401, 403, 429))
async def list_active_calls(request: Request,
                            user: Annotated[Principal, Depends(require("read:calls"))]
                            ) -> list[ActiveCallOut]:
    state = request.state.api
    calls = await active_calls.for_org(
        state.pool, user.organization_id, stale_after_seconds=state.settings.stale_after_seconds)
    return [ActiveCallOut(call_id=c.call_sid, client_id=c.client_id, client_name=c.client_name,
                          caller_phone=c.caller_phone, start_time=c.started_at,
                          owner_user_id=c.owner_id) for c in calls]
