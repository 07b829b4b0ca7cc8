"""/api/admin: operator actions. Top-ups are the only way balance_seconds grows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.auth import Principal, session_only
from api.errors import ApiError, responses
from api.validation import Id, Input
from db import usage

router = APIRouter(prefix="/admin", tags=["admin"])


async def admin(principal: Annotated[Principal, Depends(session_only)]) -> Principal:
    if not principal.is_admin:
        raise ApiError(403, "administrators only", "admin_required")
    return principal


class TopUpIn(Input):
    seconds: int = Field(ge=1, le=usage.MAX_CREDIT_SECONDS, examples=[3600])
    reason: str = Field("topup", min_length=1, max_length=64, examples=["topup"])
    note: str | None = Field(None, max_length=500, examples=["paid invoice 2026-117"])


class BalanceOut(BaseModel):
    client_id: int = Field(examples=[1])
    balance_seconds: int = Field(examples=[7200])


@router.post("/clients/{client_id}/top-ups", response_model=BalanceOut,
             summary="Add talk time to any client (administrators; not API keys)",
             responses=responses(401, 403, 404, 422, 429))
async def top_up(client_id: Id, body: TopUpIn, request: Request,
                 _: Annotated[Principal, Depends(admin)]) -> BalanceOut:
    # The same call as `frontdesk admin top-up`: None means no such client.
    balance = await usage.credit(request.state.api.pool, client_id=client_id,
                                 seconds=body.seconds, reason=body.reason, note=body.note)
    if balance is None:
        raise ApiError(404, "client not found")
    return BalanceOut(client_id=client_id, balance_seconds=balance)
