"""The agent's send_sms and send_email: they queue the message on the job queue (so a
crash or an outage loses nothing) and say at once when it cannot go out."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email

from db import emails, outbox, sms
from tools import breaker
from tools.calendar import ToolError, normalize_phone
from tools.context import ToolContext

SEND_SMS = "sms.send"
SEND_EMAIL = "email.send"
MAX_SMS = 480
MAX_SUBJECT = 120
MAX_TEXT = 2000
EMAIL_BREAKER_ALIAS = "email"


def twilio_breaker_alias(organization_id: int) -> str:
    """The breaker of the Twilio account an organisation's texts go through."""
    return f"twilio:org:{organization_id}"


async def send_sms(ctx: ToolContext, body: str, to: str | None = None) -> dict[str, Any]:
    """Text the caller (or ``to``) from the business's number."""
    text = " ".join(body.split()) if isinstance(body, str) else ""
    if not text:
        raise ToolError("body is required")
    if len(text) > MAX_SMS:
        raise ToolError(f"body must be at most {MAX_SMS} characters")
    number = normalize_phone(to or ctx.caller_phone)
    if await sms.opted_out(ctx.pool, ctx.client.id, number):
        return {"sent": False, "reason": "this number has opted out of texts"}
    if breaker.shared.retry_after(twilio_breaker_alias(ctx.client.organization_id)) is not None:
        return {"sent": False, "reason": "texting is unavailable right now"}
    async with ctx.pool.acquire() as conn, conn.transaction():
        message = await sms.insert_outbound(conn, client_id=ctx.client.id, kind="agent",
                                            from_number=ctx.client.phone_number,
                                            to_number=number, body=text)
        assert message is not None  # only confirmations and reminders are unique
        await outbox.enqueue(conn, SEND_SMS, {"sms_id": message.id}, key=f"sms:{message.id}")
    return {"sent": True, "to": number}


async def send_email(ctx: ToolContext, subject: str, text: str,
                     to: str | None = None) -> dict[str, Any]:
    """E-mail the office (the business's owners), or the address the caller gave."""
    subject = " ".join(subject.split()) if isinstance(subject, str) else ""
    text = text.strip() if isinstance(text, str) else ""
    if not 1 <= len(subject) <= MAX_SUBJECT:
        raise ToolError(f"subject must be 1-{MAX_SUBJECT} characters")
    if not 1 <= len(text) <= MAX_TEXT:
        raise ToolError(f"text must be 1-{MAX_TEXT} characters")
    if to:
        try:
            recipients = [(None, validate_email(to, check_deliverability=False).normalized)]
        except EmailNotValidError:
            raise ToolError("to must be a valid e-mail address") from None
    else:
        recipients = await emails.owner_addresses(ctx.pool, client_id=ctx.client.id)
    if breaker.shared.retry_after(EMAIL_BREAKER_ALIAS) is not None:
        return {"sent": False, "reason": "e-mail is unavailable right now"}
    async with ctx.pool.acquire() as conn, conn.transaction():
        for owner_id, address in recipients:
            email = await emails.insert(conn, kind="agent", to_address=address, subject=subject,
                                        body=text, owner_id=owner_id, client_id=ctx.client.id)
            assert email is not None
            await outbox.enqueue(conn, SEND_EMAIL, {"email_id": email.id},
                                 key=f"email:{email.id}")
    return {"sent": True, "to": "the office" if not to else recipients[0][1]}
