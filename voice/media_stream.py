"""WS /ws/{client_id}/{caller}: one Twilio media stream → one CallSession.

Nothing that costs money (providers, models, metering) is built until the stream's
token has verified and been consumed.
"""

from __future__ import annotations

import contextlib
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from db import active_calls, clients, contacts, conversations
from events import call_summary
from pipelines.providers import ProviderUnavailable
from voice import call_tokens
from voice.registry import AtCapacity
from voice.session import CallIdentity, CallSession, finalize_conversation
from voice.state import VoiceState
from voice.twilio_protocol import ProtocolError, StreamStart, read_start

log = logging.getLogger("frontdesk.voice")

START_TIMEOUT_SECONDS = 10.0
POLICY = 1008       # refused: bad token, unknown call, no balance
TRY_AGAIN = 1013    # this process is full or shutting down


async def media_stream(ws: WebSocket) -> None:
    state: VoiceState = ws.state.voice
    await ws.accept()
    try:
        async with state.calls.reserve() as slot:
            session = await _open_call(ws, state, int(ws.path_params["client_id"]))
            if session is None:
                return
            async with slot.admit(session):
                await session.run(ws)
    except AtCapacity:
        await _close(ws, TRY_AGAIN, "server at capacity")
    except WebSocketDisconnect:
        pass
    finally:
        await _close(ws, 1000, "")


async def _open_call(ws: WebSocket, state: VoiceState, client_id: int) -> CallSession | None:
    try:
        start = await read_start(ws, START_TIMEOUT_SECONDS)
    except ProtocolError as exc:
        log.warning("stream refused for client %s: %s", client_id, exc)
        await _close(ws, POLICY, "protocol error")
        return None
    try:
        claims = call_tokens.verify(
            state.token_secret, start.custom_parameters.get("token"), call_sid=start.call_sid,
            client_id=client_id, ttl_seconds=state.settings.call_token_ttl_seconds)
    except call_tokens.InvalidToken as exc:
        log.warning("stream refused for call %s: %s", start.call_sid[:40], exc)
        await _close(ws, POLICY, "call token refused")
        return None

    identity = await _activate(state, start, client_id, claims.nonce)
    if isinstance(identity, str):
        log.warning("stream refused for call %s: %s", start.call_sid, identity)
        await _close(ws, POLICY, identity)
        return None
    return CallSession(identity, settings=state.settings, pool=state.pool,
                       providers=state.providers, twilio=state.twilio)


async def _activate(state: VoiceState, start: StreamStart, client_id: int,
                    nonce: str) -> CallIdentity | str:
    """Consume the token and register the live call in one transaction, or say why not."""
    pool = state.pool
    async with pool.acquire() as conn:
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
        except BaseException:
            await tx.rollback()
            raise
        await tx.commit()

    # The token is spent: from here every refusal finalizes the call.
    reason = None
    if client.balance_seconds <= 0:
        reason = "no_balance"
    else:
        try:
            plan = state.providers.plan(client)
            await conversations.set_providers(pool, conv.id, plan.used(), plan.fallbacks)
        except ProviderUnavailable as exc:
            log.error("call %s: %s", conv.call_sid, exc)
            reason = "provider_unavailable"
    if reason:
        await finalize_conversation(pool, conversation_id=conv.id, client_id=client_id,
                                    call_sid=conv.call_sid, end_reason=reason)
        return reason
    return CallIdentity(call_sid=conv.call_sid, stream_sid=start.stream_sid, conversation=conv,
                        client=client, plan=plan)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    if ws.application_state == WebSocketState.CONNECTED and \
            ws.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, OSError):  # the peer went away first
            await ws.close(code, reason)
