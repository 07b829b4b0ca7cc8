"""WS /ws/{client_id}/{caller}: one Twilio media stream → one CallSession.

Until its token has verified, a socket only waits in the bounded room of voice.stream_gate,
for at most the start deadline. A call slot is taken once the token has verified, and
nothing that costs money (providers, models, talk time) is built until the database has
consumed the token.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import time

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from db import active_calls, call_events, clients, contacts, conversations, usage
from events import call_summary
from frontdesk import logs
from pipelines.providers import ProviderUnavailable
from voice import call_tokens
from voice.caller_id import is_e164
from voice.registry import AtCapacity
from voice.session import CallIdentity, CallSession, finalize_conversation
from voice.state import VoiceState
from voice.twilio_protocol import Evicted, ProtocolError, StreamStart, read_start
from voice.twiml import SAY_NO_BALANCE, SAY_NOT_CONFIGURED, hang_up_twiml

log = logging.getLogger("frontdesk.voice")

POLICY = 1008       # refused: bad token, unknown call, no balance
TRY_AGAIN = 1013    # this process is full or shutting down
# A call refused once its token is spent hears what /voice would have said.
_SAY_WHEN_REFUSED = {"no_balance": SAY_NO_BALANCE, "provider_unavailable": SAY_NOT_CONFIGURED}


async def media_stream(ws: WebSocket) -> None:
    state: VoiceState = ws.state.voice
    client_id = int(ws.path_params["client_id"])
    await ws.accept()
    sid_token: contextvars.Token[str | None] | None = None
    try:
        verified = await _authenticate(ws, state, client_id)
        if verified is None:
            return
        start, nonce = verified
        # Every line from here on, the pipeline's tasks' included, names the call.
        sid_token = logs.call_sid.set(start.call_sid)
        # A token another process issued can reach this one while its models still load
        # (a restarted sibling, a host just added): the call waits for them, briefly.
        await state.readiness.wait_for_models()
        async with state.calls.claim(start.call_sid) as slot:
            session = await _open_call(ws, state, start, client_id, nonce)
            if session is None:
                return
            async with slot.admit(session):
                await session.run(ws)
    except AtCapacity:
        state.refusals.warning("stream for client %s refused: at capacity", client_id)
        await _close(ws, TRY_AGAIN, "server at capacity")
    except WebSocketDisconnect:
        pass
    finally:
        await _close(ws, 1000, "")
        if sid_token is not None:
            logs.call_sid.reset(sid_token)


async def _authenticate(ws: WebSocket, state: VoiceState,
                        client_id: int) -> tuple[StreamStart, str] | None:
    """The stream's start and its token's nonce, or None once the socket is refused."""
    address = ws.client.host if ws.client else "unknown"
    with state.gate.waiting(address) as place:
        try:
            start = await read_start(ws, state.settings.stream_start_timeout_seconds,
                                     place.evicted)
        except ProtocolError as exc:
            state.refusals.warning("stream from %s for client %s refused: %s", address,
                                   client_id, exc)
            evicted = isinstance(exc, Evicted)
            await _close(ws, TRY_AGAIN if evicted else POLICY,
                         "try again" if evicted else "protocol error")
            return None
    try:
        claims = call_tokens.verify(
            state.token_secret, start.custom_parameters.get("token"), call_sid=start.call_sid,
            client_id=client_id, ttl_seconds=state.settings.call_token_ttl_seconds)
    except call_tokens.InvalidToken as exc:
        state.refusals.warning("stream for call %s refused: %s", start.call_sid, exc)
        await _close(ws, POLICY, "call token refused")
        return None
    return start, claims.nonce


async def _open_call(ws: WebSocket, state: VoiceState, start: StreamStart, client_id: int,
                     nonce: str) -> CallSession | None:
    identity = await _activate(state, start, client_id, nonce)
    if isinstance(identity, str):
        log.warning("stream refused for call %s: %s", start.call_sid, identity)
        sentence = _SAY_WHEN_REFUSED.get(identity)
        if sentence and state.twilio.configured:   # rather than dead air, then a hang-up
            await state.twilio.redirect(start.call_sid, hang_up_twiml(sentence))
        await _close(ws, POLICY, identity)
        return None
    return CallSession(identity, settings=state.settings, pool=state.pool,
                       providers=state.providers, twilio=state.twilio)


async def _activate(state: VoiceState, start: StreamStart, client_id: int,
                    nonce: str) -> CallIdentity | str:
    """Consume the token and register the live call in one transaction, then prepay the
    first tick of talk time; or say why not."""
    pool = state.pool
    async with pool.acquire() as conn:
        # The conversation's started_at is this transaction's start: talk time is paid
        # from there, measured on a clock read no later.
        activated_at = time.monotonic()
        tx = conn.transaction()
        await tx.start()
        try:
            client = await clients.get(conn, client_id)
            if client is None or not client.is_active:
                await tx.rollback()
                return "client unavailable"
            conv = await conversations.activate(
                conn, call_sid=start.call_sid, client_id=client_id, token_nonce=nonce,
                stream_sid=start.stream_sid, contact_id=None)
            if conv is None:
                await tx.rollback()
                return "call token already used or call unknown"
            if is_e164(conv.caller_phone):   # no contact for anonymous or client: callers
                contact_id, new_contact = await contacts.ensure_by_phone(
                    conn, client_id=client_id, phone_number=conv.caller_phone)
                conv = await conversations.set_contact(conn, conv.id, contact_id)
                if new_contact:
                    await call_summary.record_contact_created(conn, client, contact_id,
                                                              conv.caller_phone)
            await call_summary.record_started(conn, conv, client)
            await active_calls.insert(
                conn, call_sid=conv.call_sid, conversation_id=conv.id, client_id=client_id,
                owner_id=client.owner_id, caller_phone=conv.caller_phone,
                process_id=state.process_id)
            await call_events.publish(
                conn, kind="started", client_id=client_id, call_sid=conv.call_sid,
                conversation_id=conv.id, caller_phone=conv.caller_phone,
                client_name=client.name, direction=conv.direction,
                started_at=conv.started_at.isoformat() if conv.started_at else None)
        except BaseException:
            await tx.rollback()
            raise
        await tx.commit()

    # The token is spent: from here every refusal finalizes the call.
    reason = None
    prepaid = 0
    try:
        plan = state.providers.plan(client)
        await conversations.set_providers(pool, conv.id, plan.used(), plan.fallbacks)
    except ProviderUnavailable as exc:
        log.error("call %s: %s", conv.call_sid, exc)
        reason = "provider_unavailable"
    else:
        first = await usage.prepay(pool, client_id=client_id, conversation_id=conv.id,
                                   seconds=state.settings.meter_tick_seconds)
        prepaid = first.seconds
        if prepaid <= 0:
            reason = "no_balance"
    if reason:
        await finalize_conversation(pool, conversation_id=conv.id, client_id=client_id,
                                    call_sid=conv.call_sid, end_reason=reason)
        return reason
    return CallIdentity(call_sid=conv.call_sid, stream_sid=start.stream_sid, conversation=conv,
                        client=client, plan=plan, activated_at=activated_at,
                        prepaid_seconds=prepaid)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    if ws.application_state == WebSocketState.CONNECTED and \
            ws.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, OSError):  # the peer went away first
            await ws.close(code, reason)
