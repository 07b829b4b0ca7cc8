"""/api/integrations/email/test: send one e-mail through the configured backend and say how
it went (stub mode says it did not send)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, EmailStr, Field

from api.auth import Principal, require
from api.errors import ApiError, responses
from api.validation import CleanStr, Input
from tools.email import EmailError

router = APIRouter(prefix="/integrations", tags=["integrations"])

Write = Annotated[Principal, Depends(require("write:integrations"))]


class EmailTest(Input):
    to: EmailStr = Field(examples=["owner@example.com"])
    subject: CleanStr = Field(min_length=1, max_length=120, examples=["frontdesk test"])
    text: CleanStr = Field(min_length=1, max_length=2000, examples=["It works."])


class EmailTestResult(BaseModel):
    backend: str = Field(description="smtp, resend, sendgrid or stub", examples=["smtp"])
    delivered: bool = Field(examples=[True])
    message: str = Field(examples=["sent through smtp"])


@router.post("/email/test", response_model=EmailTestResult,
             summary="Send a test e-mail (scope write:integrations)",
             responses=responses(401, 403, 422, 429, 502, 503))
async def email_test(body: EmailTest, request: Request, principal: Write) -> EmailTestResult:
    mailer = request.state.events.mailer()
    try:
        result = await mailer.send(body.to, body.subject, body.text)
    except EmailError as exc:
        raise ApiError(502, f"{mailer.backend}: {exc}", "email_failed") from None
    return EmailTestResult(backend=result.backend, delivered=result.delivered,
                           message=result.message)
