"""POST /voice/status: Twilio's call status callback, for calls that end without a
``stop`` on their stream (the stream never connected, or its process lost it)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from db import conversations
from voice.session import finalize_conversation
from voice.state import VoiceState
from voice.twiml import CALL_SID, read_signed_form

log = logging.getLogger("frontdesk.voice")

FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}


async def status_callback(request: Request) -> Response:
    state: VoiceState = request.state.voice
    form = await read_signed_form(request, state)
    if isinstance(form, Response):
        return form
    call_sid, status = form.get("CallSid", ""), form.get("CallStatus", "")
    if not CALL_SID.fullmatch(call_sid):
        return PlainTextResponse("CallSid must be a Twilio call SID (CA and 32 hex digits)",
                                 status_code=400)
    if status not in FINAL_STATUSES:
        return Response(status_code=204)
    state.calls.forget(call_sid)   # a stream that has not come by now will not come
    conv = await conversations.get_by_call_sid(state.pool, call_sid)
    if conv is None or conv.status == "ended":
        return Response(status_code=204)
    session = state.calls.get(call_sid)
    if session is not None:
        await session.cancel("caller_hangup")   # it finalizes itself
    elif conv.status == "pending":
        await conversations.expire_one(state.pool, conv.id, end_reason=f"not_connected:{status}")
    else:
        await finalize_conversation(state.pool, conversation_id=conv.id,
                                    client_id=conv.client_id, call_sid=call_sid,
                                    end_reason="status_callback")
        log.info("call %s finalized from Twilio's status callback (%s)", call_sid, status)
    return Response(status_code=204)
