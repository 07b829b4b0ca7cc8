"""GET /api/active-calls: the owner's calls in progress, across every server process."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from api.auth import Principal, current_user
from db import active_calls

router = APIRouter(tags=["monitoring"])


class ActiveCallOut(BaseModel):
    call_id: str
    client_id: int
    client_name: str
    caller_phone: str
    start_time: datetime
    owner_user_id: int


@router.get("/active-calls", response_model=list[ActiveCallOut],
            summary="Calls in progress for the authenticated owner")
async def list_active_calls(request: Request,
                            user: Annotated[Principal, Depends(current_user)]
                            ) -> list[ActiveCallOut]:
    state = request.state.api
    calls = await active_calls.for_owner(
        state.pool, user.user_id, stale_after_seconds=state.settings.stale_after_seconds)
    return [ActiveCallOut(call_id=c.call_sid, client_id=c.client_id, client_name=c.client_name,
                          caller_phone=c.caller_phone, start_time=c.started_at,
                          owner_user_id=c.owner_id) for c in calls]
