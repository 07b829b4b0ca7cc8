"""POST /voice/outbound: Twilio asks what an outbound call it placed for us should do.

The API placed the call with this URL and the request's id; Twilio signs the request like
any webhook and says who answered (answering-machine detection). A person is connected to
the same pipeline as an inbound caller, greeted with the request's greeting; a machine gets
the client's voicemail, or a hang-up.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from twilio.twiml.voice_response import VoiceResponse

from db import clients, outbound_calls
from voice.state import VoiceState
from voice.twiml import CALL_SID, SAY_NO_BALANCE, connect_stream, read_signed_form, say_and_hang_up

log = logging.getLogger("frontdesk.voice")

MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other",
           "fax")


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), media_type="application/xml")


async def outbound_webhook(request: Request) -> Response:
    state: VoiceState = request.state.voice
    form = await read_signed_form(request, state)
    if isinstance(form, Response):
        return form
    call_sid = form.get("CallSid", "")
    if not CALL_SID.fullmatch(call_sid):
        return PlainTextResponse("CallSid must be a Twilio call SID (CA and 32 hex digits)",
                                 status_code=400)
    raw_id = request.query_params.get("id", "")
    if not raw_id.isdigit() or len(raw_id) > 18:
        return PlainTextResponse("id must be an outbound call request id", status_code=400)
    answered_by = form.get("AnsweredBy", "unknown")[:32]
    placed = await outbound_calls.answered(state.pool, int(raw_id), call_sid=call_sid,
                                           answered_by=answered_by)
    if placed is None:
        log.warning("outbound call %s refused: request %s unknown or another call's",
                    call_sid, raw_id)
        return PlainTextResponse("unknown outbound call", status_code=404)
    client = await clients.get(state.pool, placed.client_id)
    response = VoiceResponse()
    if client is None or not client.is_active:
        response.hangup()
        return _twiml(response)
    if answered_by in MACHINE:
        log.info("outbound call %s reached a machine (%s): %s", call_sid, answered_by,
                 placed.on_machine)
        if placed.on_machine == "voicemail" and placed.voicemail and answered_by != "fax":
            response.say(placed.voicemail)
        response.hangup()
        return _twiml(response)
    if client.balance_seconds <= 0:
        return say_and_hang_up(SAY_NO_BALANCE)
    return await connect_stream(state, client, call_sid=call_sid, caller=placed.to_number,
                                outbound=True)
