"""The take_message tool: the agent writes down who called, how to call them back, and what
they wanted, for the business to follow up. Kept with the call and the caller's contact."""

from __future__ import annotations

from typing import Any

from db import contacts, messages, outbox
from tools.calendar import ToolError, normalize_phone
from tools.context import ToolContext

MAX_BODY = 2000
MAX_NAME = 100
# requested: the caller asked; not_understood: the agent could not follow the call;
# calendar_unreachable: the calendar of record was down, so nothing could be booked
REASONS = ("requested", "not_understood", "calendar_unreachable")


async def take_message(ctx: ToolContext, message: str, name: str | None = None,
                       phone: str | None = None, reason: str = "requested") -> dict[str, Any]:
    """Store one message; the callback number defaults to the caller ID."""
    body = " ".join(message.split())[:MAX_BODY]
    if not body:
        raise ToolError("message is required: ask the caller what they would like to pass on")
    if reason not in REASONS:
        raise ToolError(f"reason must be one of: {', '.join(REASONS)}")
    who = " ".join(name.split())[:MAX_NAME] if name else None
    if phone:
        callback = normalize_phone(phone)
    else:
        try:
            callback = normalize_phone(ctx.caller_phone)
        except ToolError:
            callback = None  # a withheld caller ID: the message is still worth keeping
    async with ctx.pool.acquire() as conn, conn.transaction():
        stored = await messages.insert(
            conn, client_id=ctx.client.id, conversation_id=ctx.conversation_id,
            contact_id=ctx.contact_id, name=who or None, callback_phone=callback, body=body,
            reason=reason)
        if who and ctx.contact_id is not None:
            await contacts.set_name_if_missing(conn, ctx.contact_id, who)
        await outbox.record(conn, "message.taken", {
            "message_id": stored.id, "conversation_id": ctx.conversation_id,
            "contact_id": ctx.contact_id, "name": stored.name,
            "phone": stored.callback_phone, "message": body, "reason": reason},
            client_id=ctx.client.id, key=f"message.taken:{stored.id}")
    return {"taken": True, "message_id": stored.id, "name": stored.name,
            "callback_phone": stored.callback_phone}
