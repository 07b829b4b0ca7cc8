"""POST /voice: Twilio asks what to do with an incoming call; we answer in TwiML."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from twilio.twiml.voice_response import Connect, Stream, VoiceResponse

from db import clients, conversations
from db.clients import Client
from frontdesk import logs
from pipelines.providers import ProviderUnavailable
from voice import call_tokens
from voice.caller_id import caller_id, e164
from voice.state import VoiceState

log = logging.getLogger("frontdesk.voice")

MAX_WEBHOOK_BYTES = 16_384  # Twilio's call webhook is ~1-2 KB of form fields

SAY_UNKNOWN = "Sorry, this number is not in service. Goodbye."
SAY_INACTIVE = "Sorry, this line is not available right now. Goodbye."
SAY_NO_BALANCE = "Sorry, this line is temporarily unavailable. Please try again later. Goodbye."
SAY_BUSY = "Sorry, all our lines are busy. Please call back in a few minutes. Goodbye."
SAY_NOT_CONFIGURED = "Sorry, this line is not set up yet. Goodbye."
# Twilio's call SIDs: CA and 32 hex digits.
CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")


def say_and_hang_up(sentence: str) -> Response:
    return Response(hang_up_twiml(sentence), media_type="application/xml")


def hang_up_twiml(sentence: str) -> str:
    response = VoiceResponse()
    response.say(sentence)
    response.hangup()
    return str(response)


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), media_type="application/xml")


async def read_signed_form(request: Request, state: VoiceState) -> dict[str, str] | Response:
    """The webhook's form fields, or the error response: 413, 400 or 403 (bad signature)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_WEBHOOK_BYTES):
        return PlainTextResponse("request body too large", status_code=413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            return PlainTextResponse("request body too large", status_code=413)
    try:
        form = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body)))
    except (UnicodeDecodeError, ValueError):
        return PlainTextResponse("body must be application/x-www-form-urlencoded",
                                 status_code=400)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not state.signatures.valid(path, form, request.headers.get("x-twilio-signature")):
        log.warning("%s refused: bad X-Twilio-Signature (CallSid %s)", request.url.path,
                    form.get("CallSid", "?")[:40])
        return PlainTextResponse("invalid Twilio signature", status_code=403)
    return form


async def voice_webhook(request: Request) -> Response:
    state: VoiceState = request.state.voice
    form = await read_signed_form(request, state)
    if isinstance(form, Response):
        return form

    call_sid, to = form.get("CallSid"), form.get("To")
    if not call_sid or not to:
        return PlainTextResponse("CallSid and To are required", status_code=400)
    if not CALL_SID.fullmatch(call_sid):
        return PlainTextResponse("CallSid must be a Twilio call SID (CA and 32 hex digits)",
                                 status_code=400)
    with logs.in_call(call_sid):
        return await _answer(state, form, call_sid, to)


async def _answer(state: VoiceState, form: dict[str, str], call_sid: str, to: str) -> Response:
    caller = caller_id(form.get("From", ""))
    if caller is None:
        log.info("call %s refused: From %s is not a caller ID", call_sid, form.get("From"))
        return PlainTextResponse("From must be an E.164 number, a withheld caller ID"
                                 " (anonymous) or client:<identity>", status_code=400)

    number = e164(to)
    client = await clients.get_by_phone(state.pool, number) if number else None
    if client is None:
        log.info("call %s to unknown number %s", call_sid, to)
        return say_and_hang_up(SAY_UNKNOWN)
    if not client.is_active:
        return say_and_hang_up(SAY_INACTIVE)
    if client.balance_seconds <= 0:
        log.info("call %s refused: client %s has no balance", call_sid, client.id)
        return say_and_hang_up(SAY_NO_BALANCE)
    return await connect_stream(state, client, call_sid=call_sid, caller=caller)


async def connect_stream(state: VoiceState, client: Client, *, call_sid: str, caller: str,
                         outbound: bool = False) -> Response:
    """TwiML that connects the call's media stream to this server, or a busy answer.
    ``caller`` is the other party: who called, or who an outbound call reached."""
    # Loading models, draining, or over its load budget: the caller hears busy rather than
    # a call that stutters; a balancer reading /readyz sends the next one elsewhere.
    refusal = state.readiness.refusal()
    if refusal is not None:
        log.warning("call %s refused: %s", call_sid, refusal)
        return say_and_hang_up(SAY_BUSY)
    try:
        state.providers.plan(client)
    except ProviderUnavailable as exc:
        log.error("call %s refused: client %s: %s", call_sid, client.id, exc)
        return say_and_hang_up(SAY_NOT_CONFIGURED)
    # The place is held until the stream uses its token or the token expires.
    if not state.calls.expect(call_sid, state.settings.call_token_ttl_seconds):
        log.warning("call %s refused: at capacity (%d calls, %d expected)", call_sid,
                    len(state.calls), state.calls.expected())
        return say_and_hang_up(SAY_BUSY)

    token, claims = call_tokens.issue(state.token_secret, call_sid=call_sid, client_id=client.id)
    try:
        recorded = await conversations.create_pending(
            state.pool, call_sid=call_sid, client_id=client.id, caller_phone=caller,
            token_nonce=claims.nonce)
    except BaseException:
        state.calls.forget(call_sid)
        raise
    if recorded is None:  # a webhook retry for a call that is already connected
        state.calls.forget(call_sid)
        log.warning("call %s: /voice repeated for a call already in progress", call_sid)
        return say_and_hang_up(SAY_BUSY)
    if outbound:
        await conversations.set_outbound(state.pool, recorded)

    stream = Stream(url=f"{state.settings.public_ws_base}/ws/{client.id}/"
                        f"{quote(caller, safe='+')}")
    stream.parameter(name="token", value=token)
    connect = Connect()
    connect.append(stream)
    response = VoiceResponse()
    response.append(connect)
    log.info("call %s %s %s accepted for client %s", call_sid, "to" if outbound else "from",
             caller, client.id)
    return _twiml(response)
